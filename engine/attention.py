"""Scaled dot-product attention, forward and backward, the parts it is built from, and the
multi-head self-attention layer (:class:`CausalSelfAttention`) the GPT and the encoder–decoder
share.

``y_heads = softmax(mask(score(q, k) · scale)) @ v`` for every sequence and every head at once.
Three of those words are parts, each a small object passed in, so a what-if variant swaps a
part instead of threading a flag through every layer:

* a **score** compares each query with each key: :data:`DOT` (``q @ kᵀ``, the Transformer's) or
  :data:`SQUARED` (``q² @ (k²)ᵀ``, a what-if);
* a **scale** multiplies the scores by one number: :data:`BY_ROOT_HS` (``1/√hs``) or
  :data:`UNSCALED` (a what-if);
* a **mask** hides some keys from some queries: :data:`CAUSAL` (the future), :data:`FLIPPED` (the
  past, a what-if) or :data:`NO_MASK`.

Each part also writes its own piece of the trace's formula text, so the trace says what ran:
an unscaled run never shows ``· 1/√hs``, the flipped mask never says "upper triangle", and a
generated token, whose one query may see every cached key, is not said to be masked.

Shapes: ``q (B, nh, T, hs)`` for T new positions; ``k, v (B, nh, t, hs)`` with ``t ≥ T`` when a
KV cache holds earlier positions (``t = T`` without one); scores ``(B, nh, T, t)``. The trace
writes ``t`` in a shape only when it differs from ``T``.

The parts themselves are written in :mod:`engine.attention_parts`.
"""

from __future__ import annotations

import math

import numpy as np

from engine import fused
from engine.attention_parts import BY_ROOT_HS, CAUSAL, DOT
from engine.layers import (
    Linear,
    Module,
    check_heads,
    dropout_backward,
    dropout_forward,
    softmax_backward,
    softmax_forward,
)
from engine.trace import NO_TRACE


def split_heads(qkv, n_head):
    """Cut ``qkv (B, T, 3*C)`` into ``q, k, v``, each ``(B, nh, T, hs)`` with ``hs = C / nh``.

    View the 3·C columns as (3, nh, hs): which of q, k, v, which head, which channel of the
    head. Then move the 3 to the front and the head before T: (B, T, 3, nh, hs) ->
    (3, B, nh, T, hs). No number is copied; each head's (T, hs) slice is one matrix.
    """
    B, T, three_c = qkv.shape
    hs = three_c // (3 * n_head)
    return qkv.reshape(B, T, 3, n_head, hs).transpose(2, 0, 3, 1, 4)  # 3 × (B, nh, T, hs)


def merge_heads(y_heads):
    """Put the heads of ``y_heads (B, nh, T, hs)`` side by side again: ``(B, T, C)``, C = nh·hs.

    The transpose back to (B, T, nh, hs) comes first; reshaping (B, nh, T, hs) straight to
    (B, T, C) would give the right shape with heads and positions mixed up.
    """
    B, nh, T, hs = y_heads.shape
    return y_heads.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # (B, T, nh, hs) -> (B, T, C)


def attention_forward(q, k, v, score=DOT, scale=BY_ROOT_HS, mask=CAUSAL, dropout=0.0, rng=None,
                      tracer=NO_TRACE, prefix="", key_pad=None, seq="T", key_seq=None):
    """y_heads = softmax(mask(score(q, k) · scale)) @ v, for every sequence and every head at once.

    ``q (B, nh, T, hs)``, ``k, v (B, nh, t, hs)`` -> ``(y_heads (B, nh, T, hs), att (B, nh, T, t),
    keep)``: ``att`` is the softmax before dropout and ``keep`` the dropout mask (None without
    dropout), both kept for :func:`attention_backward`. ``score``, ``scale`` and ``mask`` are
    the parts above; the defaults are the GPT's: ``softmax(causal(q @ kᵀ / √hs)) @ v``.

    With a KV cache, k and v hold t ≥ T positions. In cross-attention k and v come from another
    sequence (the source, S positions, with :data:`NO_MASK`: att is ``(B, nh, T, S)``).
    ``key_pad (B, t)`` of booleans, True at padding, hides those keys from every query of their
    own sequence: a batch of sentences of different lengths is padded to the longest, and no
    real token may take anything from the padding. Every row must keep one key visible (a row
    hidden entirely would be 0/0 = NaN after softmax). ``seq`` and ``key_seq`` are the letters
    the trace gives the query and key axes (``key_seq`` defaults to ``seq``, or ``t`` when a
    KV cache makes the keys outnumber the queries).
    """
    p, T, t, hs = prefix, q.shape[-2], k.shape[-2], q.shape[-1]
    fast = fused.kernels_for(tracer)
    if fast is not None and hasattr(scale, "factor"):
        # an untraced run: scale, masks and softmax fused into few passes (engine.fused), same numbers
        att = fast.softmax_forward(score.forward(q, k), scale.factor(hs), mask.hidden(T, t), key_pad)
        dropped, keep = dropout_forward(att, dropout, rng)
        return dropped @ v, att, keep  # (B, nh, T, t) @ (B, nh, t, hs) -> (B, nh, T, hs)
    key_seq = key_seq or (seq if t == T else "t")
    sym_h, sym_att = ("B", "nh", seq, "hs"), ("B", "nh", seq, key_seq)
    att = score.forward(q, k)  # (B, nh, T, t)
    scale.apply(att, hs)
    shapes = f"(B, nh, {seq}, hs) @ (B, nh, hs, {key_seq})"
    tracer.record(f"{p}att_scores", att, f"{score.text}{scale.text}   {shapes}", "forward", sym_att,
                  scale.note)
    hidden = mask.hidden(T, t)
    if hidden is not None:
        np.copyto(att, -np.inf, where=hidden)  # (T, t) broadcasts over B and nh
    what, why = mask.hides(T, t)
    if key_pad is not None:
        pad = np.asarray(key_pad, dtype=bool)[:, None, None, :]  # (B, 1, 1, t): one row per sequence
        tracer.record(f"{p}pad_mask", pad, "key is padding: True hides it from every query", "forward",
                      ("B", "1", "1", key_seq), "broadcast over the heads and the queries")
        np.copyto(att, -np.inf, where=pad)
        what = "the padding keys" + (f" and {what}" if what else "")
        why = "no token takes anything from padding"
    formula = f"att_scores with {what} set to -inf" if what else "att_scores, unchanged: nothing is hidden"
    tracer.record(f"{p}att_masked", att, formula, "forward", sym_att, why)
    att = softmax_forward(att, out=att)  # over the last axis: which key each query attends to
    dropped, keep = dropout_forward(att, dropout, rng)
    if keep is None:
        tracer.record(f"{p}att", dropped, "softmax(att_masked) over the last axis", "forward", sym_att,
                      "each row sums to 1: how much each query takes from each position it sees")
    else:
        tracer.record(f"{p}att", dropped, f"dropout(softmax(att_masked)), p = {dropout}", "forward",
                      sym_att, "training: some weights zeroed, the rest scaled by 1/(1 − p); rows "
                      "no longer sum to exactly 1")
    y = dropped @ v  # (B, nh, T, t) @ (B, nh, t, hs) -> (B, nh, T, hs)
    tracer.record(f"{p}y_heads", y, f"att @ v   (B, nh, {seq}, {key_seq}) @ (B, nh, {key_seq}, hs)",
                  "forward", sym_h)
    return y, att, keep


def attention_backward(dy, q, k, v, att, keep=None, score=DOT, scale=BY_ROOT_HS, out=None,
                       tracer=NO_TRACE, prefix="", seq="T", key_seq=None):
    """The forward read backwards: from ``dy (B, nh, T, hs)``, the gradient at y_heads, to
    ``(dq, dk, dv)``, shaped like q, k and v.

    ``att`` and ``keep`` are what :func:`attention_forward` returned; ``score`` and ``scale``
    are the parts it ran with. ``out``, when given, is three arrays to write dq, dk, dv into
    (the layer passes views of its dqkv buffer). Masked scores (causal or padding) need no
    backward of their own: their att is 0. ``seq`` and ``key_seq`` name the axes for the
    trace, as in the forward.
    """
    p, hs = prefix, q.shape[-1]
    key_seq = key_seq or (seq if k.shape[-2] == q.shape[-2] else "t")
    sym_h, sym_k, sym_att = ("B", "nh", seq, "hs"), ("B", "nh", key_seq, "hs"), ("B", "nh", seq, key_seq)
    dq, dk, dv = out if out is not None else (np.empty_like(q), np.empty_like(k), np.empty_like(v))
    # y_heads = att @ v; as in forward, A @ B beats A @ Bᵀ
    datt = dy @ np.ascontiguousarray(v.transpose(0, 1, 3, 2))  # (B, nh, T, hs) @ (B, nh, hs, t)
    tracer.record(f"{p}datt", datt, "dy_heads @ vᵀ", "backward", sym_att)
    dropped = att if keep is None else att * keep
    np.matmul(dropped.transpose(0, 1, 3, 2), dy, out=dv)  # (B, nh, t, T) @ (B, nh, T, hs)
    tracer.record(f"{p}dv", dv, "attᵀ @ dy_heads", "backward", sym_k)
    datt = dropout_backward(datt, keep)
    fast = fused.kernels_for(tracer)
    if fast is not None and hasattr(scale, "factor"):  # softmax's backward and the scale in one pass
        score.backward(fast.softmax_backward(datt, att, scale.factor(hs)), q, k, dq, dk)
        return dq, dk, dv
    dscores = softmax_backward(datt, att, out=datt)  # in place: datt was recorded, not needed again
    # ∂loss/∂att_scores, the scores the forward recorded (already scaled): a finite difference on
    # att_scores checks this array as it is (the tracer keeps a copy: it is scaled in place next)
    tracer.record(f"{p}datt_scores", dscores, "att ⊙ (datt − Σ_row datt ⊙ att)", "backward", sym_att,
                  "the gradient at att_scores, the scores after the scale")
    scale.apply(dscores, hs)  # now the gradient at the raw product (q @ kᵀ), before the forward's scale
    score.backward(dscores, q, k, dq, dk)
    scaled = f"(datt_scores{scale.text})" if scale.text else "datt_scores"
    tracer.record(f"{p}dq", dq, score.dq_text.replace("datt_scores", scaled), "backward", sym_h)
    tracer.record(f"{p}dk", dk, score.dk_text.replace("datt_scores", scaled), "backward", sym_k)
    return dq, dk, dv


# -- the layer ------------------------------------------------------------------------------


class CausalSelfAttention(Module):
    """Multi-head causal self-attention, all heads at once in one ``(B, nh, T, hs)`` array.

    q, k and v come from one projection ``c_attn`` of width 3*C; each position's query is
    compared (dot product, scaled by 1/√hs) with the keys of itself and every earlier position;
    later positions are masked to -inf so softmax gives them weight 0; the weights average the
    values; the heads are put side by side again and projected by ``c_proj``. The middle part,
    from q, k, v to the weighted values, is :func:`attention_forward` / :func:`attention_backward`.

    ``score``, ``scale`` and ``mask`` are the parts above; the defaults are GPT-2's, and the
    what-if lab builds its variants by passing others (``mask=FLIPPED``...). The encoder of the
    translation model passes ``mask=NO_MASK`` (every source token sees every other) and
    ``seq="S"``, the letter its trace gives the sequence axis (S: source, T: target).
    """

    def __init__(self, n_embd, n_head, rng, prefix="", path=None, bias=True, dropout=0.0,
                 n_layer=1, dtype=np.float32, score=DOT, scale=BY_ROOT_HS, mask=CAUSAL, seq="T"):
        check_heads(n_embd, n_head)
        self.prefix = prefix
        self.seq = seq
        self.path = f"{prefix}attn" if path is None else path
        self.n_embd, self.n_head, self.hs = n_embd, n_head, n_embd // n_head
        self.dropout = dropout
        self.score, self.scale, self.mask = score, scale, mask
        self.c_attn = Linear(n_embd, 3 * n_embd, rng, f"{self.path}.c_attn", bias, dtype=dtype,
                             sym=("C", "3*C"))
        # residual projections start smaller (GPT-2): std 0.02/√(2·n_layer)
        std = 0.02 / math.sqrt(2 * n_layer)
        self.c_proj = Linear(n_embd, n_embd, rng, f"{self.path}.c_proj", bias, std=std, dtype=dtype,
                             sym=("C", "C"))

    def children(self):
        return [self.c_attn, self.c_proj]

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, cache=None, key_pad=None, x_name="ln_1"):
        """``x`` is ``(B*T, C)``; returns the attention output ``(B*T, C)``.

        ``rng`` turns dropout on (training); without it the layer is deterministic. ``cache``
        (a :class:`engine.kv_cache.LayerKV`) holds the keys and values of the positions before
        these T: the T new queries attend to all ``t`` positions, and the cache keeps the new
        keys and values for the next call, so generating a token costs one position, not T.
        ``key_pad (B, T)``, True at padding, hides those keys from every query (see
        :func:`attention_forward`). ``x_name`` names the input in the trace's formulas.
        """
        p, nh, C, s = self.prefix, self.n_head, self.n_embd, self.seq
        w = self.c_attn
        tracer.record(f"{w.path}.w", w.w, "weight, stored (in, out)", "forward", ("C", "3*C"))
        qkv = w.forward(x, tracer).reshape(B, T, 3 * C)  # (B*T, C) @ (C, 3*C) -> (B*T, 3*C)
        tracer.record(f"{p}qkv", qkv, w.formula(x_name) + f"   (B*{s}, C) @ (C, 3*C)", "forward",
                      ("B", s, "3*C"))
        q, k, v = split_heads(qkv, nh)  # 3 × (B, nh, T, hs)
        sym_h = ("B", "nh", s, "hs")
        tracer.record(f"{p}q", q, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        tracer.record(f"{p}k", k, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        tracer.record(f"{p}v", v, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, nh, t, hs): the past positions' and these T
            tracer.record(f"{p}k_cache", k, "the keys of every position so far: cached + this step's",
                          "forward", ("B", "nh", "t", "hs"), "kept, so a new token needs only its own k")
            tracer.record(f"{p}v_cache", v, "the values of every position so far: cached + this step's",
                          "forward", ("B", "nh", "t", "hs"))
        self.q, self.k, self.v = q, k, v
        y, self.att_soft, self.att_keep = attention_forward(
            q, k, v, self.score, self.scale, self.mask, self.dropout, rng, tracer, p, key_pad=key_pad, seq=s)
        y = merge_heads(y)  # (B, T, C)
        tracer.record(f"{p}y", y, f"y_heads swapped back to (B, {s}, nh, hs), viewed as (B, {s}, C)",
                      "forward", ("B", s, "C"))
        tracer.record(f"{self.c_proj.path}.w", self.c_proj.w, "weight, stored (in, out)", "forward",
                      ("C", "C"))
        out = self.c_proj.forward(y.reshape(B * T, C), tracer)  # (B*T, C) @ (C, C) -> (B*T, C)
        out, self.out_keep = dropout_forward(out, self.dropout, rng)
        formula = self.c_proj.formula("y")
        if self.out_keep is not None:
            formula = f"dropout({formula}), p = {self.dropout}"
        tracer.record(f"{p}attn_out", out.reshape(B, T, C), formula + f"   (B*{s}, C) @ (C, C)", "forward",
                      ("B", s, "C"))
        return out

    def backward(self, dout, B, T, tracer=NO_TRACE):
        """``dout`` is ``(B*T, C)``, the gradient of the loss at this layer's output."""
        p, nh, hs, C, s = self.prefix, self.n_head, self.hs, self.n_embd, self.seq
        sym_btc = ("B", s, "C")
        dout = dropout_backward(dout, self.out_keep)
        dy = self.c_proj.backward(dout, tracer, sym_out=sym_btc)  # (B*T, C)
        tracer.record(f"{p}dy", dy.reshape(B, T, C), "dattn_out @ c_proj.wᵀ", "backward", sym_btc)
        dy = dy.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        tracer.record(f"{p}dy_heads", dy, f"dy viewed (B, {s}, nh, hs), swap {s} and nh", "backward",
                      ("B", "nh", s, "hs"))
        dqkv = np.empty((B, T, 3 * C), dtype=dout.dtype)
        # split_heads gives views: attention_backward writing dq, dk, dv fills dqkv
        attention_backward(dy, self.q, self.k, self.v, self.att_soft, self.att_keep, self.score, self.scale,
                           out=split_heads(dqkv, nh), tracer=tracer, prefix=p, seq=s)
        tracer.record(f"{p}dqkv", dqkv, "dq, dk, dv side by side", "backward", ("B", s, "3*C"))
        return self.c_attn.backward(dqkv.reshape(B * T, 3 * C), tracer,
                                    sym_out=("B", s, "3*C"))  # (B*T, C)
