"""The encoder–decoder Transformer of "Attention Is All You Need" (Vaswani et al., 2017), in numpy.

The model translates: the encoder reads the whole source sentence at once (every token sees
every other, padding hidden), and the decoder writes the target one token after another,
each position seeing the target tokens before it (causal self-attention) and, through
cross-attention, every source token. Cross-attention is where the reading of q, k and v is
literal: the target token being written asks (its query), the source tokens answer (their
keys say what they are, their values what they carry).

    src (B, S) ─ embed·√C + PE ─ [self-attn (pad mask) ─ feed-forward] × n_layer ─ memory (B, S, C)
                                                                                     │ k, v
    tgt_in (B, T) ─ embed·√C + PE ─ [causal self-attn ─ cross-attn ─ feed-forward] × n_dec_layer
                                     ─ @ wteᵀ ─ logits (B, T, V)

Shapes, with the letters the trace uses: ``B`` sentence pairs, ``S`` source positions, ``T``
target positions, ``C = n_embd`` channels, ``nh`` heads of ``hs = C // nh``, ``d_ff`` the
feed-forward's width, ``V`` tokens in the one vocabulary the source, the target and the
output share (three uses of one table ``wte``: "tied" embeddings, as in the paper). Weights
are stored ``(in, out)``: every linear layer reads ``x @ w`` on 2-D ``(B*S, C)`` or
``(B*T, C)`` activations. Cross-attention's ``att`` is ``(B, nh, T, S)``: one row per target
position, one column per source position.

Two arrangements of each residual sublayer (``config.norm``):

* ``"post"`` (the paper, Marian): ``x = LayerNorm(x + sublayer(x))``;
* ``"pre"`` (GPT-2, and most models since): ``x = x + sublayer(LayerNorm(x))``, with one more
  LayerNorm at the end of the encoder and of the decoder (``enc.ln_f``, ``dec.ln_f``), since
  nothing else would normalise what the stacks hand on.

Dropout (rate ``config.dropout``, training only) falls where the paper puts it, on the sum
of embeddings and positions and on each sublayer's output before the residual addition, and
also on the attention weights, as PyTorch's ``nn.Transformer`` does.

Every forward has its backward next to it (:mod:`engine.translation.layers`, built on the
shared :mod:`engine.layers`, :mod:`engine.attention` and :mod:`engine.mlp`; the loss in
:mod:`engine.translation.loss`), and all parameters
sit in one flat buffer and all gradients in another (:mod:`engine.params`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from engine.errors import KqvError
from engine.kv_cache import KVCache
from engine.layers import (
    LN_EPS,
    LayerNorm,
    Module,
    check_heads,
    dropout_backward,
    dropout_forward,
)
from engine.mlp import ACTIVATIONS
from engine.params import flat_slice, pack
from engine.trace import NO_TRACE
from engine.translation.layers import (
    CROSS,
    SOURCE_POSITIONS,
    DecoderLayer,
    EncoderLayer,
    LogitsBias,
    SharedEmbedding,
    norm_sublayer,
)
from engine.translation.loss import smoothed_cross_entropy_backward, smoothed_cross_entropy_forward

NORMS = ("post", "pre")
POSITION_LAYOUTS = ("interleaved", "halves")


@dataclass
class TransformerConfig:
    """The model's sizes and choices; the defaults are kqv's CPU-sized translation model."""

    vocab_size: int  # one vocabulary shared by source, target and output (tied)
    n_embd: int = 256  # C (the paper's d_model)
    n_head: int = 4  # nh
    n_layer: int = 3  # encoder layers
    n_dec_layer: int = 3  # decoder layers
    d_ff: int = 1024  # the feed-forward's hidden width (4C, as the paper's 2048 for C = 512)
    max_len: int = 128  # positions (sinusoidal, not learned): the longest sentence, in tokens
    dropout: float = 0.1
    norm: str = "post"  # "post" (the paper, Marian) | "pre" (GPT-2)
    activation: str = "relu"  # "relu" (the paper) | "gelu" | "silu" (Marian)
    positions: str = "interleaved"  # "interleaved" (the paper: sin on even, cos on odd columns)
    # | "halves" (Marian: all sines, then all cosines)
    scale_embedding: bool = True  # token rows × √C before the positions are added
    final_logits_bias: bool = False  # Marian's bias (V,) added to the logits
    pad_id: int = 0
    bos_id: int = 1  # the decoder's first input (Marian: the pad id)
    eos_id: int = 2
    ln_eps: float = LN_EPS
    # the lab's what-ifs, each naming a part the model is built with (the paper's is the default)
    cross: str = "attention"  # attention: the decoder reads the source | none (a French language model)
    src_positions: str = "sinusoidal"  # sinusoidal | none: the encoder reads a bag of words

    def __post_init__(self):
        for name in ("vocab_size", "n_embd", "n_head", "n_layer", "n_dec_layer", "d_ff", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise KqvError(f"{name} must be a positive whole number, got {value!r}")
        if self.vocab_size < 3:
            raise KqvError(f"vocab_size must be at least 3 (padding, end, a word), got {self.vocab_size}")
        check_heads(self.n_embd, self.n_head)
        if not 0.0 <= self.dropout < 1.0:
            raise KqvError(f"dropout must be in [0, 1), got {self.dropout}")
        for name, allowed in (("norm", NORMS), ("activation", tuple(ACTIVATIONS)),
                              ("positions", POSITION_LAYOUTS), ("cross", tuple(CROSS)),
                              ("src_positions", tuple(SOURCE_POSITIONS))):
            if getattr(self, name) not in allowed:
                raise KqvError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        for name in ("pad_id", "bos_id", "eos_id"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not 0 <= value < self.vocab_size:
                raise KqvError(f"{name} must be a token id in [0, {self.vocab_size}), got {value!r}")
        if self.eos_id == self.pad_id:
            raise KqvError(f"eos_id and pad_id must differ, both are {self.pad_id}")
        if not self.ln_eps > 0:
            raise KqvError(f"ln_eps must be above 0, got {self.ln_eps}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TransformerConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


PARTS = {"cross": CROSS, "src_positions": SOURCE_POSITIONS}  # the what-if parts, by config field


def swapped(**parts) -> dict:
    """The config changes that build the model with these parts in place of the paper's:
    ``swapped(cross=NoCrossAttention)`` is ``{"cross": "none"}`` (as :func:`engine.gpt.model.swapped`)."""
    return {name: next(key for key, known in PARTS[name].items() if known is part)
            for name, part in parts.items()}


def count_parameters(cfg: TransformerConfig) -> dict[str, int]:
    """Parameters of each part, from the sizes alone (a test holds the sum to the built model's).

    A linear layer n_in → n_out holds n_in·n_out weights and n_out biases, a LayerNorm 2·C. An
    encoder layer: self-attention's c_attn (C → 3C) and c_proj (C → C), the feed-forward
    (C → d_ff → C), two LayerNorms. A decoder layer adds cross-attention, c_q (C → C),
    c_kv (C → 2C) and c_proj (C → C), and a third LayerNorm. The output layer is wte itself.
    """
    C, F = cfg.n_embd, cfg.d_ff

    def linear(n_in: int, n_out: int) -> int:
        return n_in * n_out + n_out

    attention = linear(C, 3 * C) + linear(C, C)
    feed_forward = linear(C, F) + linear(F, C)
    encoder_layer = attention + feed_forward + 2 * 2 * C
    cross = linear(C, C) + linear(C, 2 * C) + linear(C, C) if cfg.cross == "attention" else 0
    decoder_layer = attention + cross + feed_forward + 3 * 2 * C
    final_norms = 2 * 2 * C if cfg.norm == "pre" else 0
    return {
        "wte": cfg.vocab_size * C,
        "encoder": cfg.n_layer * encoder_layer,
        "decoder": cfg.n_dec_layer * decoder_layer,
        "final norms": final_norms,
        "final_logits_bias": cfg.vocab_size if cfg.final_logits_bias else 0,
    }


# -- the model -----------------------------------------------------------------------------------


class Transformer(Module):
    """The whole encoder–decoder: ``forward(src, tgt_in)`` -> logits, ``loss``, ``backward``."""

    def __init__(self, config: TransformerConfig, seed: int = 0, dtype=np.float32, init: bool = True):
        """``init=False`` leaves the weights unset, for weights loaded next (:meth:`load_state_dict`)."""
        self.config = config
        self.dtype = np.dtype(dtype)
        self.path = ""
        self._build()
        self.packed = pack(self.named_params(), self.dtype, fill=False)
        self.flat_params, self.flat_grads = self.packed.flat_params, self.packed.flat_grads
        self.params, self.grads, self.n_decay = self.packed.params, self.packed.grads, self.packed.n_decay
        if init:
            self.initialise(np.random.default_rng(seed))

    def _build(self) -> None:
        cfg, dt = self.config, self.dtype
        self.embed = SharedEmbedding(cfg, dt)
        self.enc = [EncoderLayer(cfg, f"enc.h{i}.", dt) for i in range(cfg.n_layer)]
        self.dec = [DecoderLayer(cfg, f"dec.h{i}.", dt) for i in range(cfg.n_dec_layer)]
        pre = cfg.norm == "pre"
        self.enc_ln_f = LayerNorm(cfg.n_embd, "enc.ln_f", True, dt, cfg.ln_eps) if pre else None
        self.dec_ln_f = LayerNorm(cfg.n_embd, "dec.ln_f", True, dt, cfg.ln_eps) if pre else None
        self.bias = LogitsBias(cfg.vocab_size, dt) if cfg.final_logits_bias else None

    def children(self):
        parts = [self.embed, *self.enc, self.enc_ln_f, *self.dec, self.dec_ln_f, self.bias]
        return [m for m in parts if m is not None]

    def initialise(self, rng: np.random.Generator) -> None:
        """Fresh weights: Xavier-uniform matrices (as PyTorch's ``nn.Transformer``), the token
        table N(0, 1/C) (so √C · row has unit variance, as fairseq), zero biases, LayerNorm
        gains 1."""
        for name, view in self.params.items():
            if name == "wte":
                view[...] = rng.standard_normal(view.shape) * self.config.n_embd ** -0.5
            elif view.ndim == 2:
                limit = math.sqrt(6.0 / (view.shape[0] + view.shape[1]))
                view[...] = rng.uniform(-limit, limit, view.shape)
            elif name.endswith(".w"):  # the only 1-D weights are LayerNorm gains
                view[...] = 1.0
            else:
                view[...] = 0.0

    def replica(self) -> Transformer:
        """A twin that shares this model's parameters (the very same arrays) but has its own
        gradients and remembered activations: two twins can run forward and backward on the two
        halves of a batch at the same time (:class:`engine.translation.halves.HalfBatches`)."""
        twin = Transformer.__new__(Transformer)
        twin.config, twin.dtype, twin.path = self.config, self.dtype, ""
        twin._build()
        twin.packed = pack(twin.named_params(), twin.dtype, shared=self.flat_params)
        twin.flat_params, twin.flat_grads = twin.packed.flat_params, twin.packed.flat_grads
        twin.params, twin.grads, twin.n_decay = twin.packed.params, twin.packed.grads, twin.packed.n_decay
        return twin

    # -- parameters --------------------------------------------------------------------------

    @property
    def num_params(self) -> int:
        return int(self.flat_params.size)

    def flat_slice(self, name: str) -> slice:
        """Where parameter ``name`` sits in :attr:`flat_params`, :attr:`flat_grads` and an
        optimiser's m and v."""
        return flat_slice(self.flat_params, self.params[name])

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every parameter by its stable name (``enc.h0.attn.c_attn.w``...): views, not copies."""
        return dict(self.params)

    def load_state_dict(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy named arrays in; every name and shape must match this model, none may be left over."""
        missing = sorted(set(self.params) - set(arrays))
        extra = sorted(set(arrays) - set(self.params))
        if missing:
            raise KqvError(f"the weights lack {len(missing)} parameters ({', '.join(missing[:3])}): "
                           "another model shape")
        if extra:
            raise KqvError(f"the weights hold {len(extra)} parameters this model does not have "
                           f"({', '.join(extra[:3])}): another model shape")
        for name, view in self.params.items():
            value = np.asarray(arrays[name])
            if value.shape != view.shape:
                raise KqvError(f"parameter {name} is {value.shape}, the model needs {view.shape}")
            view[...] = value

    def dims(self, B: int, S: int, T: int, t: int | None = None) -> dict[str, int]:
        """The named dimensions of a run (for the tracer); ``t`` the target positions a KV
        cache holds after a decoding step."""
        cfg = self.config
        dims = {"B": B, "S": S, "T": T, "C": cfg.n_embd, "nh": cfg.n_head, "hs": cfg.head_size,
                "d_ff": cfg.d_ff, "V": cfg.vocab_size, "max_len": cfg.max_len,
                "n_layer": cfg.n_layer, "n_dec_layer": cfg.n_dec_layer}
        return dims if t is None else {**dims, "t": t}

    def _check_ids(self, ids, what: str) -> np.ndarray:
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] == 0 or ids.shape[0] == 0:
            raise KqvError(f"{what} must be (B, length) token ids with length ≥ 1, got shape {ids.shape}")
        if not np.issubdtype(ids.dtype, np.integer):
            raise KqvError(f"{what} must hold whole-number token ids, got {ids.dtype}")
        if ids.shape[1] > self.config.max_len:
            raise KqvError(f"{what} has {ids.shape[1]} tokens, more than max_len={self.config.max_len} "
                           "positions")
        if ids.min() < 0 or ids.max() >= self.config.vocab_size:
            raise KqvError(f"{what} holds ids outside [0, {self.config.vocab_size})")
        return ids

    # -- forward -----------------------------------------------------------------------------

    def encode(self, src, tracer=NO_TRACE, rng=None):
        """``src (B, S)`` of token ids, padded with ``pad_id`` -> ``memory (B, S, C)``.

        The memory's rows at padding positions are computed but never read: every attention
        over the source hides them. ``rng`` turns dropout on (training)."""
        cfg = self.config
        src = self._check_ids(src, "src")
        B, S = src.shape
        src_pad = src == cfg.pad_id  # (B, S)
        if src_pad.all(axis=1).any():
            raise KqvError("a source sentence is all padding: nothing for attention to read")
        self.src_pad, self.B, self.S = src_pad, B, S
        tracer.section("encoder")
        tracer.record("src", src, "source token ids, one sentence per row, padded", "forward", ("B", "S"))
        tracer.record("src_pad", src_pad, "src == pad_id", "forward", ("B", "S"),
                      "hidden from every attention over the source")
        x = self.embed.forward(src, "enc", tracer)  # (B*S, C)
        x, self.src_keep = dropout_forward(x, cfg.dropout, rng)
        for i, layer in enumerate(self.enc):
            tracer.section(f"encoder layer {i}")
            x = layer.forward(x, B, S, src_pad, tracer, rng)  # (B*S, C)
        if self.enc_ln_f is not None:
            x = norm_sublayer(self.enc_ln_f, x, B, S, "enc.ln_f", "LayerNorm(x) after the last encoder layer",
                          "S", tracer)
        self.memory = x  # (B*S, C)
        tracer.record("memory", x.reshape(B, S, -1), "the encoder's output: one vector per source token",
                      "forward", ("B", "S", "C"), "every decoder layer's cross-attention reads it")
        return x.reshape(B, S, cfg.n_embd)

    def decode(self, tgt, memory, src_pad, tracer=NO_TRACE, rng=None, cache: KVCache | None = None,
               cross_kv=None, last_only: bool = False):
        """The decoder and the output layer: ``tgt (B, T)`` -> logits ``(B, T, V)``.

        ``memory (B*S, C)`` and ``src_pad (B, S)`` come from :meth:`encode`. Decoding adds
        ``cache`` (the self-attention keys and values of the ``cache.t`` target positions
        before these T) and ``cross_kv`` (each layer's cross-attention keys and values,
        computed once per sentence); ``last_only`` gives the last position's logits
        ``(B, 1, V)``, the one the next token is chosen from.
        """
        cfg = self.config
        B, T = tgt.shape
        S = src_pad.shape[1]
        start = 0
        if cache is not None:
            cache.check_room(T)
            start = cache.t
        self.T = T
        tracer.section("decoder")
        tracer.record("tgt_in", tgt, "target token ids, starting with bos: the decoder's input", "forward",
                      ("B", "T"), "position t predicts target token t + 1")
        x = self.embed.forward(tgt, "dec", tracer, start)  # (B*T, C)
        x, self.tgt_keep = dropout_forward(x, cfg.dropout, rng)
        for i, layer in enumerate(self.dec):
            tracer.section(f"decoder layer {i}")
            x = layer.forward(x, memory, B, T, S, src_pad, tracer, rng,
                              None if cache is None else cache.layers[i],
                              None if cross_kv is None else cross_kv[i])  # (B*T, C)
        if cache is not None:
            cache.advance(T)
        tracer.section("head")
        if self.dec_ln_f is not None:
            x = norm_sublayer(self.dec_ln_f, x, B, T, "dec.ln_f", "LayerNorm(x) after the last decoder layer",
                          "T", tracer)
        self.xf = x  # (B*T, C), kept for the output layer's backward
        if last_only:
            x, T = x.reshape(B, T, -1)[:, -1], 1  # (B, C)
        logits = x @ self.embed.wte.T  # (B*T, C) @ (C, V) -> (B*T, V)
        if self.bias is not None:
            logits += self.bias.final_logits_bias
        tracer.record("logits", logits.reshape(B, T, -1), "x @ wteᵀ" + (" + final_logits_bias" if self.bias
                      is not None else "") + "   (B*T, C) @ (C, V)", "forward",
                      ("B", "1" if last_only else "T", "V"), "the output layer reuses the token table (tied)")
        return logits.reshape(B, T, -1)

    def forward(self, src, tgt_in, tracer=NO_TRACE, rng=None):
        """``src (B, S)``, ``tgt_in (B, T)`` -> ``logits (B, T, V)``: position t's scores for
        target token t + 1. ``rng`` turns dropout on (training)."""
        tgt_in = self._check_ids(tgt_in, "tgt_in")
        self.encode(src, tracer, rng)
        if tgt_in.shape[0] != self.B:
            raise KqvError(f"src has {self.B} sentences and tgt_in {tgt_in.shape[0]}: one target per source")
        return self.decode(tgt_in, self.memory, self.src_pad, tracer, rng)

    def loss(self, logits, tgt_out, smoothing: float = 0.1, tracer=NO_TRACE,
             n_tokens: int | None = None) -> float:
        """Label-smoothed cross-entropy of ``logits (B, T, V)`` against ``tgt_out (B, T)``
        (``tgt_in`` shifted by one, padded with ``pad_id``: padding positions count for
        nothing). Remembers what :meth:`backward` needs; :attr:`nll` is the unsmoothed loss.
        ``n_tokens`` divides by that many target tokens instead of this batch's own count (one
        half of a larger batch, :class:`engine.translation.halves.HalfBatches`)."""
        if not 0.0 <= smoothing < 1.0:
            raise KqvError(f"label smoothing must be in [0, 1), got {smoothing}")
        logits = np.asarray(logits)
        B, T, V = logits.shape
        tgt_out = np.asarray(tgt_out)
        if tgt_out.shape != (B, T):
            raise KqvError(f"tgt_out is {tgt_out.shape}, the logits need ({B}, {T})")
        self.targets, self.smoothing = tgt_out.reshape(-1), smoothing
        tracer.section("loss")
        tracer.record("tgt_out", tgt_out, "target ids shifted left by one: what each position should say",
                      "forward", ("B", "T"), "padding positions are left out of the loss")
        loss, self.nll, self.probs, self.n_tokens = smoothed_cross_entropy_forward(
            logits.reshape(B * T, V), self.targets, self.config.pad_id, smoothing, tracer, n_tokens)
        return loss

    # -- backward ----------------------------------------------------------------------------

    def backward(self, tracer=NO_TRACE) -> None:
        """Fill :attr:`grads` (the flat gradient buffer) with d(loss)/d(parameter) for the last
        forward and loss. wte's gradient is the sum of its three uses: output layer, target
        lookup, source lookup."""
        cfg, B, S, T = self.config, self.B, self.S, self.T
        sym = ("B", "T", "C")
        tracer.section("backward")
        dlogits = smoothed_cross_entropy_backward(self.probs, self.targets, cfg.pad_id, self.smoothing,
                                                  self.n_tokens, out=self.probs, tracer=tracer)  # (B*T, V)
        if self.bias is not None:
            np.matmul(np.ones(B * T, dtype=dlogits.dtype), dlogits, out=self.bias.dfinal_logits_bias)
            tracer.record("dfinal_logits_bias", self.bias.dfinal_logits_bias, "Σ_rows dlogits", "backward",
                          ("V",))
        wte = self.embed.wte
        np.matmul(dlogits.T, self.xf, out=self.embed.dwte)  # (V, B*T) @ (B*T, C): the output layer's share
        tracer.record("dwte_head", self.embed.dwte, "dlogitsᵀ @ x   (V, B*T) @ (B*T, C)", "backward",
                      ("V", "C"), "the tied output layer's share of wte's gradient")
        dx = dlogits @ wte  # (B*T, V) @ (V, C) -> (B*T, C)
        tracer.record("dx_f", dx.reshape(B, T, -1), "dlogits @ wte", "backward", sym)
        if self.dec_ln_f is not None:
            dx = self.dec_ln_f.backward(dx, tracer, sym)
        dmemory = np.zeros((B * S, cfg.n_embd), dtype=dx.dtype)  # every decoder layer reads the memory
        for layer in reversed(self.dec):
            dx, dmem = layer.backward(dx, B, T, S, tracer)
            dmemory += dmem
        dx = dropout_backward(dx, self.tgt_keep)
        tracer.record("dec.dx", dx.reshape(B, T, -1), "gradient at the target's tok_emb + pos_emb",
                      "backward", sym)
        self.embed.backward(dx, "dec", tracer)
        tracer.record("dmemory", dmemory.reshape(B, S, -1), "Σ over the decoder layers of cross.c_kv's dx",
                      "backward", ("B", "S", "C"), "the encoder learns only through cross-attention")
        dx = dmemory
        if self.enc_ln_f is not None:
            dx = self.enc_ln_f.backward(dx, tracer, ("B", "S", "C"))
        for layer in reversed(self.enc):
            dx = layer.backward(dx, B, S, tracer)
        dx = dropout_backward(dx, self.src_keep)
        tracer.record("enc.dx", dx.reshape(B, S, -1), "gradient at the source's tok_emb + pos_emb",
                      "backward", ("B", "S", "C"))
        self.embed.backward(dx, "enc", tracer)
