"""The character GPT with the learner's functions in it: where their code meets kqv's engine.

The engine's GPT is built from parts (:mod:`engine.gpt.blocks`): an embedding, blocks of a
LayerNorm, an attention layer and an MLP, a last LayerNorm; :class:`engine.optim.AdamW` steps
it. The lab swaps a part to ask a what-if; a practice run swaps in parts whose arithmetic is
the learner's, after the model is built, in the twins that really train
(:class:`engine.gpt.halves.HalfBatches`). Each part below is the engine's class with its
forward and backward handing the numbers to the learner's function, and every shape that comes
back is checked before the engine uses it:

======================  ================================================================
``embedding``           ``wte[idx] + wpe[:T]`` (its backward stays the engine's)
``layernorm``           every LayerNorm's forward and backward (ln_1, ln_2, ln_f)
``heads``               cutting qkv into heads and merging them back
``softmax``             the attention's softmax, forward and backward
``attention``           the whole ``softmax(mask(q @ kᵀ/√hs)) @ v``, and its ``att``
``attention_backward``  dq, dk, dv from dy
``adamw``               each AdamW step, on the decayed and the undecayed parameters
======================  ================================================================

The runs are the engine's readable path (``--engine readable``): the fused kernels never run,
so whatever the learner has not passed is the readable code the lessons trace.
"""

from __future__ import annotations

import numpy as np

from engine.attention import (
    CausalSelfAttention,
    attention_backward,
    attention_forward,
    merge_heads,
    split_heads,
)
from engine.gpt.blocks import Embedding
from engine.gpt.model import GPT
from engine.layers import LayerNorm
from engine.optim import AdamW
from engine.trace import NO_TRACE
from kqv_cli.practice.digits_seam import expect_array
from kqv_cli.practice.learner_process import LearnerCodeFailed, LearnerProcess


def adopt(cls, part):
    """An object of ``cls`` (a subclass of ``part``'s class) holding ``part``'s state: its
    parameters stay the very same views of the model's flat buffers."""
    new = cls.__new__(cls)
    new.__dict__.update(part.__dict__)
    return new


class LearnerLayerNorm(LayerNorm):
    """LayerNorm whose arithmetic is the learner's ``layernorm_forward`` / ``layernorm_backward``."""

    learner: LearnerProcess

    def forward(self, x, tracer=NO_TRACE):
        b = self.b if self.bias else np.zeros_like(self.w)
        out = _items("layernorm_forward", self.learner.call("layernorm", "layernorm_forward", x, self.w, b,
                                                           self.eps), 3)
        N, C = x.shape
        self.xhat = expect_array("layernorm_forward", "xhat", out[1], (N, C), x.dtype)
        self.rstd = expect_array("layernorm_forward", "rstd", out[2], (N,), x.dtype)
        return expect_array("layernorm_forward", "out", out[0], (N, C), x.dtype)

    def backward(self, dout, tracer=NO_TRACE, sym=()):
        N, C = dout.shape
        dx, dw, db = _items("layernorm_backward", self.learner.call(
            "layernorm", "layernorm_backward", dout, self.xhat, self.rstd, self.w), 3)
        self.dw[...] = expect_array("layernorm_backward", "dw", dw, (C,), dout.dtype)
        if self.bias:
            self.db[...] = expect_array("layernorm_backward", "db", db, (C,), dout.dtype)
        return expect_array("layernorm_backward", "dx", dx, (N, C), dout.dtype)


class LearnerEmbedding(Embedding):
    """The embedding's forward is the learner's ``embedding_forward(idx, wte, wpe)``."""

    learner: LearnerProcess

    def forward(self, idx, tracer=NO_TRACE, start=0):
        B, T = idx.shape
        self.idx = idx  # the engine's backward reads it
        x = self.learner.call("embedding", "embedding_forward", idx, self.wte, self.positions.wpe)
        x = expect_array("embedding_forward", "x", x, (B, T, self.n_embd), self.wte.dtype)
        return x.reshape(B * T, self.n_embd)


class LearnerAttention(CausalSelfAttention):
    """The attention layer with the learner's heads, softmax, attention and attention backward,
    each where passed (``parts``). The layer around them is the engine's: c_attn and c_proj,
    the readable :func:`~engine.attention.attention_forward` and its backward where the
    learner's are not used. Training only: no KV cache, no padding, no dropout."""

    learner: LearnerProcess
    parts: frozenset[str]

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, cache=None, key_pad=None, x_name="ln_1"):
        C, nh, hs = self.n_embd, self.n_head, self.hs
        qkv = self.c_attn.forward(x).reshape(B, T, 3 * C)  # (B*T, C) @ (C, 3*C) -> (B, T, 3*C)
        if "heads" in self.parts:
            q, k, v = _items("split_heads", self.learner.call("heads", "split_heads", qkv, nh), 3)
            q, k, v = (expect_array("split_heads", name, a, (B, nh, T, hs), x.dtype)
                       for name, a in zip("qkv", (q, k, v), strict=True))
        else:
            q, k, v = split_heads(qkv, nh)  # 3 × (B, nh, T, hs)
        self.q, self.k, self.v = q, k, v
        y, self.att_soft = self._attend(q, k, v)  # (B, nh, T, hs), (B, nh, T, T)
        if "heads" in self.parts:
            y = self.learner.call("heads", "merge_heads", y)
            y = expect_array("merge_heads", "y", y, (B, T, C), x.dtype)
        else:
            y = merge_heads(y)  # (B, T, C)
        return self.c_proj.forward(y.reshape(B * T, C))  # (B*T, C) @ (C, C)

    def _attend(self, q, k, v):
        """y_heads and att: the learner's attention_forward, or the engine's readable one with
        the learner's softmax in it, or the engine's as it is."""
        shape, T = q.shape, q.shape[-2]
        att_shape = (*shape[:-1], T)
        if "attention" in self.parts:
            y, shown = self.learner.call("attention", "attention_forward", q, k, v, want=("att",))
            att = expect_array("attention_forward", "att (shown)", shown["att"], att_shape, q.dtype)
            return expect_array("attention_forward", "its result", y, shape, q.dtype), att
        if "softmax" in self.parts:
            scores = self.score.forward(q, k)  # (B, nh, T, T): q @ kᵀ
            self.scale.apply(scores, self.hs)  # · 1/√hs
            hidden = self.mask.hidden(T, T)  # the future, above the diagonal
            if hidden is not None:
                np.copyto(scores, -np.inf, where=hidden)
            att = self.learner.call("softmax", "softmax_forward", scores)
            att = expect_array("softmax_forward", "p", att, att_shape, q.dtype)
            return att @ v, att  # (B, nh, T, T) @ (B, nh, T, hs)
        y, att, _ = attention_forward(q, k, v, self.score, self.scale, self.mask)
        return y, att

    def backward(self, dout, B, T, tracer=NO_TRACE):
        C, nh, hs = self.n_embd, self.n_head, self.hs
        dy = self.c_proj.backward(dout)  # (B*T, C)
        dy = np.ascontiguousarray(dy.reshape(B, T, nh, hs).transpose(0, 2, 1, 3))  # (B, nh, T, hs)
        dqkv = np.empty((B, T, 3 * C), dtype=dout.dtype)
        dq, dk, dv = split_heads(dqkv, nh)  # views: writing them fills dqkv
        shape = self.q.shape
        if "attention_backward" in self.parts:
            got = _items("attention_backward", self.learner.call(
                "attention_backward", "attention_backward", dy, self.q, self.k, self.v, self.att_soft), 3)
            for out, name, value in zip((dq, dk, dv), ("dq", "dk", "dv"), got, strict=True):
                out[...] = expect_array("attention_backward", name, value, shape, dout.dtype)
        elif "softmax" in self.parts:
            att = self.att_soft
            datt = dy @ self.v.transpose(0, 1, 3, 2)  # (B, nh, T, hs) @ (B, nh, hs, T)
            dv[...] = att.transpose(0, 1, 3, 2) @ dy  # (B, nh, T, T) @ (B, nh, T, hs)
            dscores = expect_array("softmax_backward", "dx", self.learner.call(
                "softmax", "softmax_backward", datt, att), att.shape, dout.dtype).copy()
            self.scale.apply(dscores, self.hs)  # the gradient at q @ kᵀ, before the scale
            self.score.backward(dscores, self.q, self.k, dq, dk)
        else:
            attention_backward(dy, self.q, self.k, self.v, self.att_soft, score=self.score, scale=self.scale,
                               out=(dq, dk, dv))
        return self.c_attn.backward(dqkv.reshape(B * T, 3 * C))  # (B*T, C)


class LearnerAdamW(AdamW):
    """AdamW whose step is the learner's ``adamw_update``, once on the decayed 2-D weights and
    once on the rest (no decay), as the engine's readable step splits the vector."""

    learner: LearnerProcess

    def _update(self, lr: float, part: slice) -> None:
        split = min(max(part.start, self.n_decay), part.stop)
        halves = ((slice(part.start, split), self.weight_decay), (slice(split, part.stop), 0.0))
        for sub, weight_decay in halves:
            if sub.stop <= sub.start:
                continue
            p, m, v = self.params[sub], self.m[sub], self.v[sub]
            got = self.learner.call("adamw", "adamw_update", p, self.grads[sub], m, v, self.t, lr,
                                    self.beta1, self.beta2, self.eps, weight_decay)
            got = _items("adamw_update", got, 3)
            for out, name, value in zip((p, m, v), ("p", "m", "v"), got, strict=True):
                out[...] = expect_array("adamw_update", name, value, p.shape, p.dtype)


def swap_in(model: GPT, learner: LearnerProcess, parts: frozenset[str]) -> None:
    """Put the learner's ``parts`` into ``model`` (one of the trainer's twins), in place."""

    def take(cls, part):
        new = adopt(cls, part)
        new.learner = learner
        new.parts = parts
        return new

    if "embedding" in parts:
        model.embed = take(LearnerEmbedding, model.embed)
    for block in model.h:
        if "layernorm" in parts:
            block.ln_1, block.ln_2 = take(LearnerLayerNorm, block.ln_1), take(LearnerLayerNorm, block.ln_2)
        if parts & {"heads", "softmax", "attention", "attention_backward"}:
            block.attn = take(LearnerAttention, block.attn)
    if "layernorm" in parts:
        model.ln_f = take(LearnerLayerNorm, model.ln_f)


def learner_adamw(opt: AdamW, learner: LearnerProcess) -> LearnerAdamW:
    new = adopt(LearnerAdamW, opt)
    new.learner = learner
    return new


def _items(function: str, value, n: int) -> list:
    """The ``n`` things a function returns, else :class:`LearnerCodeFailed`."""
    if not (isinstance(value, list) and len(value) == n):
        got = f"{len(value)} things" if isinstance(value, list) else "one array"
        raise LearnerCodeFailed(f"your {function} returned {got}; the engine needs {n} back")
    return value
