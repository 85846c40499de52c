"""Causal self-attention, forward: a reference solution."""

import math

import numpy as np
from kqv_practice import show


def attention_forward(q, k, v):
    """softmax(mask(q @ kᵀ / √hs)) @ v: (B, nh, T, hs) x3 -> (B, nh, T, hs)."""
    T, hs = q.shape[-2], q.shape[-1]
    att = show("att_scores", q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs))  # (B, nh, T, T)
    future = np.triu(np.ones((T, T), dtype=bool), k=1)  # True above the diagonal
    att = show("att_masked", np.where(future, -np.inf, att))
    e = np.exp(att - att.max(axis=-1, keepdims=True))  # the row's largest becomes e⁰ = 1
    att = show("att", e / e.sum(axis=-1, keepdims=True))
    return att @ v  # (B, nh, T, T) @ (B, nh, T, hs) -> (B, nh, T, hs)
