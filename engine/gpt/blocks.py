"""The GPT's own modules, one idea per class as in nanoGPT's model.py: the embedding (tokens
plus a position code) and the block that joins causal self-attention
(:class:`engine.attention.CausalSelfAttention`) and the MLP (:class:`engine.mlp.MLP`), both
shared with the encoder–decoder.

Each what-if the lab asks about is a part swapped in, never a flag read in forward and
backward: the attention's score, scale and mask (:mod:`engine.attention`); a position code
(:class:`LearnedPositions`, :class:`SinusoidalPositions`, :class:`NoPositions`); a norm
(:class:`~engine.layers.LayerNorm` or :class:`NoNorm`); a block with its residual connections
(:class:`Block`) or without them (:class:`BlockWithoutResidual`). :mod:`engine.gpt.model` picks
the parts a :class:`~engine.gpt.model.GPTConfig` names. Every part writes its own trace
formula, so the trace describes what ran.

Activations inside are 2-D ``(B*T, C)``; the trace shows them as ``(B, T, C)``. Weights are
stored ``(in, out)``. See :mod:`engine.layers` for the conventions.
"""

from __future__ import annotations

import math

import numpy as np

from engine.attention import CausalSelfAttention
from engine.layers import LN_EPS, LayerNorm, Module, _ones, init_normal, sinusoidal_positions
from engine.mlp import MLP
from engine.trace import NO_TRACE

# -- embedding --------------------------------------------------------------------------------


class LearnedPositions(Module):
    """A learned position table ``wpe (block_size, C)``, one row per position (GPT-2, nanoGPT)."""

    param_names = ("wpe",)
    token_scale = 1.0  # the token rows are added as they are

    def __init__(self, block_size, n_embd, rng, dtype=np.float32):
        self.wpe = init_normal(rng, (block_size, n_embd), 0.02, dtype)
        self.dwpe = np.zeros(self.wpe.shape, dtype=dtype)

    def forward(self, start, T, tracer=NO_TRACE):
        """The rows of positions ``start .. start+T−1``, ``(T, C)``."""
        tracer.record("wpe", self.wpe, "position embedding table, learned", "forward", ("block_size", "C"))
        pos_emb = self.wpe[start : start + T]  # (T, C)
        tracer.record("pos_emb", pos_emb, "wpe[0:T]" if start == 0 else f"wpe[{start}:{start}+T]",
                      "forward", ("T", "C"))
        return pos_emb

    def backward(self, dx, tracer=NO_TRACE):
        """``dx (B, T*C)``: every sequence of the batch added the same rows, so their gradient
        is the sum over the batch; rows past T were not used and get 0."""
        B, T = dx.shape[0], dx.shape[1] // self.wpe.shape[1]
        dpos = _ones(B, dx.dtype) @ dx  # Σ over the batch: a ones-vector matmul over (B, T*C)
        self.dwpe[:T] = dpos.reshape(T, -1)
        self.dwpe[T:] = 0
        tracer.record("dwpe", self.dwpe, "Σ_b dx[b]  (rows ≥ T stay 0)", "backward", ("block_size", "C"))


class SinusoidalPositions(Module):
    """The original Transformer's fixed code (:func:`engine.layers.sinusoidal_positions`):
    nothing to learn.

    Its entries are ±1 (a row's norm about √(C/2)), so the 2017 paper multiplies the token rows
    by √C, or the position would drown out which token it is.
    """

    def __init__(self, block_size, n_embd, rng=None, dtype=np.float32):
        self.pe = sinusoidal_positions(block_size, n_embd, dtype)
        self.token_scale = math.sqrt(n_embd)

    def forward(self, start, T, tracer=NO_TRACE):
        pos_emb = self.pe[start : start + T]  # (T, C)
        tracer.record("pos_emb", pos_emb, "PE(t, 2i) = sin(t/10000^(2i/C)), "
                      "PE(t, 2i+1) = cos(t/10000^(2i/C))", "forward", ("T", "C"))
        return pos_emb

    def backward(self, dx, tracer=NO_TRACE):
        return None  # a fixed code has no gradient to keep


class NoPositions(Module):
    """No position code at all (what-if): the model sees a bag of characters."""

    token_scale = 1.0

    def __init__(self, block_size, n_embd, rng=None, dtype=np.float32):
        self.n_embd, self.dtype = n_embd, dtype

    def forward(self, start, T, tracer=NO_TRACE):
        pos_emb = np.zeros((T, self.n_embd), dtype=self.dtype)  # (T, C)
        tracer.record("pos_emb", pos_emb, "no position information (what-if)", "forward", ("T", "C"))
        return pos_emb

    def backward(self, dx, tracer=NO_TRACE):
        return None


class Embedding(Module):
    """Token embedding ``wte (V, C)`` plus a position code: ``x = wte[idx] + pos_emb``.

    ``positions`` is the class of the position code (:class:`LearnedPositions` by default);
    the embedding builds it after drawing wte, so a seed draws the same numbers whichever code.
    """

    param_names = ("wte",)

    def __init__(self, vocab_size, block_size, n_embd, rng, positions=LearnedPositions, dtype=np.float32):
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.wte = init_normal(rng, (vocab_size, n_embd), 0.02, dtype)
        self.dwte = np.zeros(self.wte.shape, dtype=dtype)
        self.positions = positions(block_size, n_embd, rng, dtype)

    def children(self):
        return [self.positions]

    def forward(self, idx, tracer=NO_TRACE, start=0):
        """``idx (B, T)`` of token ids at positions ``start .. start+T−1`` -> ``x (B*T, C)``.

        ``start`` is above 0 only when generating with a KV cache: the new tokens come after
        the ``start`` positions already in the cache."""
        B, T = idx.shape
        self.idx = idx
        tracer.record("idx", idx, "token ids, one row per sequence", "forward", ("B", "T"))
        tracer.record("wte", self.wte, "token embedding table, one row per token of the vocabulary",
                      "forward", ("V", "C"))
        tok_emb = self.wte[idx]  # (B, T, C): row idx[b, t] of wte
        scale = self.positions.token_scale
        if scale != 1.0:
            tok_emb *= scale
            tracer.record("tok_emb", tok_emb, "wte[idx] · √C", "forward", ("B", "T", "C"),
                          "the 2017 paper's √C: rows of ~0.02 against a position code of ±1")
        else:
            tracer.record("tok_emb", tok_emb, "wte[idx]", "forward", ("B", "T", "C"))
        pos_emb = self.positions.forward(start, T, tracer)  # (T, C)
        x = tok_emb + pos_emb  # (B, T, C) + (T, C) broadcasts over B
        tracer.record("x", x, "tok_emb + pos_emb", "forward", ("B", "T", "C"))
        return x.reshape(B * T, self.n_embd)

    def backward(self, dx, tracer=NO_TRACE, accumulate=False):
        """Add the gradient of the two tables. ``accumulate`` adds to ``dwte`` (tied LM head)."""
        B, T = self.idx.shape
        self.positions.backward(dx.reshape(B, T * self.n_embd), tracer)
        # dwte[v] = Σ of dx over the positions holding token v: a one-hot matmul, ~8x faster
        # than np.add.at(dwte, idx, dx)
        onehot = np.zeros((B * T, self.vocab_size), dtype=dx.dtype)
        onehot[np.arange(B * T), self.idx.reshape(-1)] = 1
        if self.positions.token_scale != 1.0:
            dx = dx * self.positions.token_scale
        if accumulate:
            lookup = onehot.T @ dx  # (V, B*T) @ (B*T, C) -> (V, C)
            tracer.record("dwte_lookup", lookup, "onehot(idx)ᵀ @ dx: each position's dx added to its "
                          "token's row", "backward", ("V", "C"))
            self.dwte += lookup
        else:
            np.matmul(onehot.T, dx, out=self.dwte)  # (V, B*T) @ (B*T, C) -> (V, C)


# -- block ----------------------------------------------------------------------------------


class NoNorm(Module):
    """Where a LayerNorm would be, nothing (what-if): the input passes through unchanged."""

    def __init__(self, n, path, bias=True, dtype=np.float32, eps=LN_EPS):
        self.path = path

    def formula(self, x_name: str, expand: bool = False) -> str:
        return f"{x_name}, unchanged (no LayerNorm)"

    def grad_formula(self, dout_name: str) -> str:
        return dout_name

    def forward(self, x, tracer=NO_TRACE):
        return x

    def backward(self, dout, tracer=NO_TRACE, sym=()):
        return dout


class Block(Module):
    """One transformer block, pre-LN as in GPT-2: x + attn(ln_1(x)), then + mlp(ln_2(·)).

    ``norm`` is the class of ln_1 and ln_2 (:class:`~engine.layers.LayerNorm`, or
    :class:`NoNorm` for the lab's "without LayerNorm"); ``attn_parts`` go to the attention
    (score, scale, mask). :class:`BlockWithoutResidual` is the same block with the two
    residual connections taken out.
    """

    def __init__(self, n_embd, n_head, rng, prefix="", bias=True, dropout=0.0, n_layer=1,
                 dtype=np.float32, norm=LayerNorm, ln_eps=LN_EPS, **attn_parts):
        self.prefix = prefix
        self.path = prefix.rstrip(".")
        self.ln_1 = norm(n_embd, f"{prefix}ln_1", bias, dtype, ln_eps)
        self.attn = CausalSelfAttention(n_embd, n_head, rng, prefix, bias=bias, dropout=dropout,
                                        n_layer=n_layer, dtype=dtype, **attn_parts)
        self.ln_2 = norm(n_embd, f"{prefix}ln_2", bias, dtype, ln_eps)
        self.mlp = MLP(n_embd, rng, prefix, bias=bias, dropout=dropout, n_layer=n_layer, dtype=dtype)

    def children(self):
        return [self.ln_1, self.attn, self.ln_2, self.mlp]

    # the residual connection: the branch's output is added to what came in
    def join(self, x, branch):
        return x + branch

    def join_formula(self, x_name: str, branch_name: str) -> str:
        return f"{x_name} + {branch_name} (the residual)"

    def join_backward(self, dout, dbranch):
        """The residual passes the gradient through unchanged and adds the branch's."""
        return dout + dbranch

    def join_backward_formula(self, dout_name: str, dbranch: str) -> str:
        return f"{dout_name} + {dbranch}"

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, cache=None):
        """``x`` is ``(B*T, C)``; so is the result. ``rng`` turns dropout on (training);
        ``cache`` is this block's keys and values of earlier positions (generation)."""
        p, sym = self.prefix, ("B", "T", "C")
        h = self.ln_1.forward(x, tracer)
        tracer.record(f"{p}ln_1", h.reshape(B, T, -1), self.ln_1.formula("x", expand=True), "forward", sym)
        a = self.attn.forward(h, B, T, tracer, rng, cache)
        x_attn = self.join(x, a)
        tracer.record(f"{p}x_attn", x_attn.reshape(B, T, -1), self.join_formula("x", "attn_out"), "forward",
                      sym)
        h = self.ln_2.forward(x_attn, tracer)
        tracer.record(f"{p}ln_2", h.reshape(B, T, -1), self.ln_2.formula("x_attn"), "forward", sym)
        m = self.mlp.forward(h, B, T, tracer, rng)
        x_out = self.join(x_attn, m)
        tracer.record(f"{p}x_out", x_out.reshape(B, T, -1), self.join_formula("x_attn", "mlp_out"), "forward",
                      sym)
        return x_out

    def backward(self, dx_out, B, T, tracer=NO_TRACE):
        p, sym = self.prefix, ("B", "T", "C")
        tracer.record(f"{p}dx_out", dx_out.reshape(B, T, -1), "gradient arriving from above", "backward", sym)
        dh = self.mlp.backward(dx_out, B, T, tracer)
        tracer.record(f"{p}dln_2", dh.reshape(B, T, -1), "dfc @ c_fc.wᵀ", "backward", sym)
        dh = self.ln_2.backward(dh, tracer, sym)
        dx_attn = self.join_backward(dx_out, dh)
        tracer.record(f"{p}dx_attn", dx_attn.reshape(B, T, -1),
                      self.join_backward_formula("dx_out", self.ln_2.grad_formula("dln_2")), "backward", sym)
        dh = self.attn.backward(dx_attn, B, T, tracer)
        tracer.record(f"{p}dln_1", dh.reshape(B, T, -1), "dqkv @ c_attn.wᵀ", "backward", sym)
        dh = self.ln_1.backward(dh, tracer, sym)
        return self.join_backward(dx_attn, dh)


class BlockWithoutResidual(Block):
    """The lab's "without residuals": each branch's output replaces x instead of adding to it,
    so the gradient reaches earlier blocks only through the branches."""

    def join(self, x, branch):
        return branch

    def join_formula(self, x_name: str, branch_name: str) -> str:
        return f"{branch_name} (no residual: {x_name} is not added back)"

    def join_backward(self, dout, dbranch):
        return dbranch

    def join_backward_formula(self, dout_name: str, dbranch: str) -> str:
        return f"{dbranch} (no residual: {dout_name} does not pass straight through)"
