"""Cross-attention with the key-padding mask: a reference solution."""

import math

import numpy as np
from kqv_practice import show


def cross_attention_forward(x, memory, src_pad, w_q, b_q, w_kv, b_kv, n_head):
    """softmax(pad(q @ kᵀ / √hs)) @ v with q from the target, k and v from the source: (B, T, C)."""
    B, T, C = x.shape
    hs = C // n_head

    def heads(a):  # (B, L, C) -> (B, nh, L, hs)
        return a.reshape(B, a.shape[1], n_head, hs).transpose(0, 2, 1, 3)

    q = x @ w_q + b_q  # (B, T, C): what each target place asks
    q = show("cross.q", heads(q))
    kv = memory @ w_kv + b_kv  # (B, S, 2C): what each source token is, and what it carries
    k, v = kv[..., :C], kv[..., C:]
    k = show("cross.k", heads(k))
    v = show("cross.v", heads(v))
    att = show("cross.att_scores", q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs))  # (B, nh, T, S)
    hidden = src_pad[:, None, None, :]  # (B, 1, 1, S): the same padded columns for every head and query
    att = show("cross.att_masked", np.where(hidden, -np.inf, att))
    e = np.exp(att - att.max(axis=-1, keepdims=True))  # e^−inf = 0
    att = show("cross.att", e / e.sum(axis=-1, keepdims=True))
    y = att @ v  # (B, nh, T, S) @ (B, nh, S, hs) -> (B, nh, T, hs)
    return y.transpose(0, 2, 1, 3).reshape(B, T, C)
