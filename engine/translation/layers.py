"""The layers of the encoder–decoder Transformer, each forward next to its backward.

The shared ones come from :mod:`engine.layers` (Linear, LayerNorm, dropout),
:mod:`engine.attention` (the self-attention, its functions and its mask parts) and
:mod:`engine.mlp`; this module adds what only an encoder–decoder has: one
token table shared by the source, the target and the output layer
(:class:`SharedEmbedding`), the decoder's attention over the source (:class:`CrossAttention`, in
:mod:`engine.translation.cross_attention`; :class:`NoCrossAttention` here is its what-if),
and the two kinds of layer that wire them (:class:`EncoderLayer`, :class:`DecoderLayer`),
post-LN as in the paper or pre-LN as in GPT-2. Activations are 2-D ``(B*S, C)`` or
``(B*T, C)`` inside; the trace shows them ``(B, S, C)`` and ``(B, T, C)``.
"""

from __future__ import annotations

import math

import numpy as np

from engine.attention import CausalSelfAttention
from engine.attention_parts import CAUSAL, NO_MASK
from engine.layers import (
    LayerNorm,
    Module,
    sinusoidal_positions,
)
from engine.mlp import MLP
from engine.trace import NO_TRACE
from engine.translation.cross_attention import CrossAttention

# -- embeddings ----------------------------------------------------------------------------------


class SharedEmbedding(Module):
    """The one token table ``wte (V, C)`` the source, the target and the output layer share.

    A token's vector is its row of ``wte`` times √C (``scale_embedding``: the rows start near
    ±C^-½, the position code's entries are ±1, and without the factor the position would drown
    the word), plus the fixed sinusoidal code of its position (:func:`sinusoidal_positions`,
    not learned). The source and the target each remember their ids for the backward pass.
    """

    param_names = ("wte",)

    def __init__(self, cfg, dtype):
        self.path = ""
        self.n_embd, self.vocab_size = cfg.n_embd, cfg.vocab_size
        self.wte = np.empty((cfg.vocab_size, cfg.n_embd), dtype=dtype)
        self.dwte = np.zeros(self.wte.shape, dtype=dtype)
        self.pe = sinusoidal_positions(cfg.max_len, cfg.n_embd, dtype, layout=cfg.positions)  # (max_len, C)
        self.layout = cfg.positions
        # each side's position code: the sinusoid, or none (the lab's bag-of-words source)
        self.codes = {"enc": SOURCE_POSITIONS[cfg.src_positions], "dec": SOURCE_POSITIONS["sinusoidal"]}
        self.scale = math.sqrt(cfg.n_embd) if cfg.scale_embedding else 1.0
        self.ids: dict[str, np.ndarray] = {}

    def forward(self, ids, side, tracer=NO_TRACE, start=0):
        """``ids (B, L)`` at positions ``start .. start+L−1`` -> ``x (B*L, C)``; ``side`` is
        ``"enc"`` (the source, L = S) or ``"dec"`` (the target, L = T)."""
        B, L = ids.shape
        s = "S" if side == "enc" else "T"
        self.ids[side] = ids
        tok = self.wte[ids]  # (B, L, C): row ids[b, l] of wte (a copy: fancy indexing)
        if self.scale != 1.0:
            tok *= self.scale
        tracer.record(f"{side}.tok_emb", tok, "wte[ids] · √C" if self.scale != 1.0 else "wte[ids]",
                      "forward", ("B", s, "C"), "√C: rows of ~C^-½ against a position code of ±1")
        pos, formula = self.codes[side].rows(self, start, L)  # (L, C)
        tracer.record(f"{side}.pos_emb", pos, formula, "forward", (s, "C"),
                      f"positions {start} to {start}+{s}−1")
        tok += pos  # (B, L, C) + (L, C) broadcasts over B
        tracer.record(f"{side}.x", tok, "tok_emb + pos_emb", "forward", ("B", s, "C"))
        return tok.reshape(B * L, self.n_embd)

    def backward(self, dx, side, tracer=NO_TRACE):
        """Add ``dx (B*L, C)``, the gradient at x, to the rows of ``dwte`` the ids picked.

        A token used at several positions gets the sum of their gradients (``dwte[ids] += dx``
        would keep only the last of them): the rows are sorted by id, each id's run of rows
        summed (``np.add.reduceat``), and each sum added to its row of dwte once. That is
        ``np.add.at(dwte, ids, dx)``, 2-3x faster measured here."""
        ids = self.ids[side].reshape(-1)
        if self.scale != 1.0:
            dx = dx * self.scale
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])  # first row of each id
        self.dwte[sorted_ids[starts]] += np.add.reduceat(dx[order], starts, axis=0)  # (U, C), ids unique
        which = "source" if side == "enc" else "target"
        tracer.record("dwte", self.dwte, f"+= dx · √C at the rows of the {which} ids", "backward", ("V", "C"))


class SinusoidalCode:
    """The paper's fixed position code: row p of the sinusoid table, the same for every sentence."""

    name = "sinusoidal"

    @staticmethod
    def rows(embed: SharedEmbedding, start: int, L: int):
        """``(L, C)`` rows for positions ``start .. start+L−1``, and the trace's formula."""
        formula = ("PE(p, 2i) = sin(p/10000^(2i/C)), PE(p, 2i+1) = cos(p/10000^(2i/C))"
                   if embed.layout == "interleaved" else
                   "PE(p, i) = sin(p/10000^(2i/C)), PE(p, C/2 + i) = cos(p/10000^(2i/C))")
        return embed.pe[start : start + L], formula


class NoPositionCode:
    """No position code (what-if): every token is its word alone, wherever it stands. Attention
    itself is blind to order, so an encoder without positions reads a bag of words."""

    name = "none"

    @staticmethod
    def rows(embed: SharedEmbedding, start: int, L: int):
        return np.zeros((L, embed.n_embd), dtype=embed.wte.dtype), "no position information (what-if)"


SOURCE_POSITIONS = {p.name: p for p in (SinusoidalCode, NoPositionCode)}


# -- cross-attention -----------------------------------------------------------------------------


class NoCrossAttention(Module):
    """No cross-attention (what-if): the sublayer adds nothing, so the decoder never reads the
    source and can only learn which target sentences are likely, a language model of French.
    No parameters; the memory gets no gradient, so the encoder does not learn either."""

    def __init__(self, n_embd, n_head, prefix, dropout, dtype):
        self.prefix, self.path = f"{prefix}cross.", f"{prefix}cross"
        self.n_embd, self.n_head, self.hs, self.dtype = n_embd, n_head, n_embd // n_head, dtype

    def children(self):
        return []

    def memory_kv(self, memory, B, S, tracer=NO_TRACE):
        """Nothing is read from the memory: empty keys and values ``(B, nh, S, 0)``."""
        empty = np.zeros((B, self.n_head, S, 0), dtype=memory.dtype)
        return empty, empty

    def forward(self, x, memory, B, T, S, key_pad, tracer=NO_TRACE, rng=None, kv=None, x_name="ln_1"):
        out = np.zeros((B * T, self.n_embd), dtype=x.dtype)
        tracer.record(f"{self.prefix}attn_out", out.reshape(B, T, -1), "0: no cross-attention (what-if)",
                      "forward", ("B", "T", "C"), "the decoder never reads the source")
        return out

    def backward(self, dout, B, T, S, tracer=NO_TRACE):
        return np.zeros_like(dout), np.zeros((B * S, self.n_embd), dtype=dout.dtype)


CROSS = {"attention": CrossAttention, "none": NoCrossAttention}


# -- the two kinds of layer ----------------------------------------------------------------------


def norm_sublayer(ln: LayerNorm, x, B, L, name, formula, s, tracer):
    """LayerNorm of ``x (B*L, C)``, recorded as ``name``."""
    out = ln.forward(x, tracer)
    tracer.record(name, out.reshape(B, L, -1), formula, "forward", ("B", s, "C"))
    return out


class EncoderLayer(Module):
    """Self-attention over the source (padding hidden, nothing causal), then the feed-forward,
    each wrapped in a residual connection and a LayerNorm (after it, or before it with pre-LN)."""

    def __init__(self, cfg, prefix: str, dtype):
        C = cfg.n_embd
        self.prefix, self.path = prefix, prefix.rstrip(".")
        self.pre = cfg.norm == "pre"
        self.attn = CausalSelfAttention(C, cfg.n_head, None, prefix, dropout=cfg.dropout, dtype=dtype,
                                        mask=NO_MASK, seq="S")
        self.ln_1 = LayerNorm(C, f"{prefix}ln_1", True, dtype, cfg.ln_eps)
        self.mlp = feed_forward(cfg, prefix, dtype, seq="S")
        self.ln_2 = LayerNorm(C, f"{prefix}ln_2", True, dtype, cfg.ln_eps)

    def children(self):
        return [self.attn, self.ln_1, self.mlp, self.ln_2]

    def forward(self, x, B, S, key_pad, tracer=NO_TRACE, rng=None):
        """``x (B*S, C)`` -> ``(B*S, C)``; ``key_pad (B, S)`` True at padding."""
        p, sym = self.prefix, ("B", "S", "C")
        if self.pre:  # x + attn(LN(x)), then + mlp(LN(·))
            h = norm_sublayer(self.ln_1, x, B, S, f"{p}ln_1", "LayerNorm(x)", "S", tracer)
            x_attn = self.attn.forward(h, B, S, tracer, rng, key_pad=key_pad, x_name="ln_1")
            x_attn += x
            tracer.record(f"{p}x_attn", x_attn.reshape(B, S, -1), "x + attn_out (the residual)", "forward",
                          sym)
            h = norm_sublayer(self.ln_2, x_attn, B, S, f"{p}ln_2", "LayerNorm(x_attn)", "S", tracer)
            out = self.mlp.forward(h, B, S, tracer, rng, x_name="ln_2")
            out += x_attn
            tracer.record(f"{p}x_out", out.reshape(B, S, -1), "x_attn + mlp_out (the residual)", "forward",
                          sym)
            return out
        # post-LN: LN(x + attn(x)), then LN(· + mlp(·))
        x_attn = self.attn.forward(x, B, S, tracer, rng, key_pad=key_pad, x_name="x")
        x_attn += x
        tracer.record(f"{p}x_attn", x_attn.reshape(B, S, -1), "x + attn_out (the residual)", "forward", sym)
        h = norm_sublayer(self.ln_1, x_attn, B, S, f"{p}ln_1", "LayerNorm(x_attn)", "S", tracer)
        x_mlp = self.mlp.forward(h, B, S, tracer, rng, x_name="ln_1")
        x_mlp += h
        tracer.record(f"{p}x_mlp", x_mlp.reshape(B, S, -1), "ln_1 + mlp_out (the residual)", "forward", sym)
        return norm_sublayer(self.ln_2, x_mlp, B, S, f"{p}ln_2", "LayerNorm(x_mlp): the layer's output", "S",
                         tracer)

    def backward(self, dout, B, S, tracer=NO_TRACE):
        sym = ("B", "S", "C")
        if self.pre:
            dx_attn = self.ln_2.backward(self.mlp.backward(dout, B, S, tracer), tracer, sym)
            dx_attn += dout  # the residual passes dout through and adds the branch's
            dx = self.ln_1.backward(self.attn.backward(dx_attn, B, S, tracer), tracer, sym)
            dx += dx_attn
            return dx
        dx_mlp = self.ln_2.backward(dout, tracer, sym)
        dh = self.mlp.backward(dx_mlp, B, S, tracer)
        dh += dx_mlp
        dx_attn = self.ln_1.backward(dh, tracer, sym)
        dx = self.attn.backward(dx_attn, B, S, tracer)
        dx += dx_attn
        return dx


class DecoderLayer(Module):
    """Causal self-attention over the target, cross-attention over the source, the feed-forward:
    three residual sublayers, each with its LayerNorm (``ln_1``, ``ln_2``, ``ln_3``)."""

    def __init__(self, cfg, prefix: str, dtype):
        C = cfg.n_embd
        self.prefix, self.path = prefix, prefix.rstrip(".")
        self.pre = cfg.norm == "pre"
        self.attn = CausalSelfAttention(C, cfg.n_head, None, prefix, dropout=cfg.dropout, dtype=dtype,
                                        mask=CAUSAL, seq="T")
        self.ln_1 = LayerNorm(C, f"{prefix}ln_1", True, dtype, cfg.ln_eps)
        self.cross = CROSS[cfg.cross](C, cfg.n_head, prefix, cfg.dropout, dtype)
        self.ln_2 = LayerNorm(C, f"{prefix}ln_2", True, dtype, cfg.ln_eps)
        self.mlp = feed_forward(cfg, prefix, dtype, seq="T")
        self.ln_3 = LayerNorm(C, f"{prefix}ln_3", True, dtype, cfg.ln_eps)

    def children(self):
        return [self.attn, self.ln_1, self.cross, self.ln_2, self.mlp, self.ln_3]

    def forward(self, x, memory, B, T, S, src_pad, tracer=NO_TRACE, rng=None, cache=None, kv=None):
        """``x (B*T, C)``, ``memory (B*S, C)`` -> ``(B*T, C)``. ``cache`` (decoding) holds this
        layer's self-attention keys and values of earlier target positions; ``kv`` its
        cross-attention keys and values of the memory."""
        p, sym = self.prefix, ("B", "T", "C")
        if self.pre:
            h = norm_sublayer(self.ln_1, x, B, T, f"{p}ln_1", "LayerNorm(x)", "T", tracer)
            x_attn = self.attn.forward(h, B, T, tracer, rng, cache, x_name="ln_1")
            x_attn += x
            tracer.record(f"{p}x_attn", x_attn.reshape(B, T, -1), "x + attn_out (the residual)", "forward",
                          sym)
            h = norm_sublayer(self.ln_2, x_attn, B, T, f"{p}ln_2", "LayerNorm(x_attn)", "T", tracer)
            x_cross = self.cross.forward(h, memory, B, T, S, src_pad, tracer, rng, kv, x_name="ln_2")
            x_cross += x_attn
            tracer.record(f"{p}x_cross", x_cross.reshape(B, T, -1), "x_attn + cross.attn_out (the residual)",
                          "forward", sym)
            h = norm_sublayer(self.ln_3, x_cross, B, T, f"{p}ln_3", "LayerNorm(x_cross)", "T", tracer)
            out = self.mlp.forward(h, B, T, tracer, rng, x_name="ln_3")
            out += x_cross
            tracer.record(f"{p}x_out", out.reshape(B, T, -1), "x_cross + mlp_out (the residual)", "forward",
                          sym)
            return out
        x_attn = self.attn.forward(x, B, T, tracer, rng, cache, x_name="x")
        x_attn += x
        tracer.record(f"{p}x_attn", x_attn.reshape(B, T, -1), "x + attn_out (the residual)", "forward", sym)
        h = norm_sublayer(self.ln_1, x_attn, B, T, f"{p}ln_1", "LayerNorm(x_attn)", "T", tracer)
        x_cross = self.cross.forward(h, memory, B, T, S, src_pad, tracer, rng, kv, x_name="ln_1")
        x_cross += h
        tracer.record(f"{p}x_cross", x_cross.reshape(B, T, -1), "ln_1 + cross.attn_out (the residual)",
                      "forward", sym)
        h = norm_sublayer(self.ln_2, x_cross, B, T, f"{p}ln_2", "LayerNorm(x_cross)", "T", tracer)
        x_mlp = self.mlp.forward(h, B, T, tracer, rng, x_name="ln_2")
        x_mlp += h
        tracer.record(f"{p}x_mlp", x_mlp.reshape(B, T, -1), "ln_2 + mlp_out (the residual)", "forward", sym)
        return norm_sublayer(self.ln_3, x_mlp, B, T, f"{p}ln_3", "LayerNorm(x_mlp): the layer's output", "T",
                         tracer)

    def backward(self, dout, B, T, S, tracer=NO_TRACE):
        """From ``dout (B*T, C)`` to ``(dx (B*T, C), dmemory (B*S, C))``."""
        sym = ("B", "T", "C")
        if self.pre:
            dx_cross = self.ln_3.backward(self.mlp.backward(dout, B, T, tracer), tracer, sym)
            dx_cross += dout
            dh, dmemory = self.cross.backward(dx_cross, B, T, S, tracer)
            dx_attn = self.ln_2.backward(dh, tracer, sym)
            dx_attn += dx_cross
            dx = self.ln_1.backward(self.attn.backward(dx_attn, B, T, tracer), tracer, sym)
            dx += dx_attn
            return dx, dmemory
        dx_mlp = self.ln_3.backward(dout, tracer, sym)
        dh = self.mlp.backward(dx_mlp, B, T, tracer)
        dh += dx_mlp
        dx_cross = self.ln_2.backward(dh, tracer, sym)
        dh, dmemory = self.cross.backward(dx_cross, B, T, S, tracer)
        dh += dx_cross
        dx_attn = self.ln_1.backward(dh, tracer, sym)
        dx = self.attn.backward(dx_attn, B, T, tracer)
        dx += dx_attn
        return dx, dmemory


def feed_forward(cfg, prefix: str, dtype, seq: str) -> MLP:
    """The position-wise feed-forward: C -> d_ff -> C with the config's activation."""
    return MLP(cfg.n_embd, None, prefix, dropout=cfg.dropout, dtype=dtype, hidden=cfg.d_ff,
               activation=cfg.activation, sym_hidden="d_ff", seq=seq)


class LogitsBias(Module):
    """Marian's ``final_logits_bias (V,)``, added to every position's logits."""

    param_names = ("final_logits_bias",)

    def __init__(self, V, dtype):
        self.path = ""
        self.final_logits_bias = np.zeros(V, dtype=dtype)
        self.dfinal_logits_bias = np.zeros(V, dtype=dtype)
