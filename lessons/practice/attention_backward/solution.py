"""Attention, backward: a reference solution."""

import math

from kqv_practice import show


def attention_backward(dy, q, k, v, att):
    """dy (B, nh, T, hs) -> dq, dk, dv, each (B, nh, T, hs)."""
    hs = q.shape[-1]
    datt = show("datt", dy @ v.transpose(0, 1, 3, 2))  # (B, nh, T, T)
    dv = att.transpose(0, 1, 3, 2) @ dy  # (B, nh, T, T) @ (B, nh, T, hs)
    row = (datt * att).sum(axis=-1, keepdims=True)  # (B, nh, T, 1)
    dscores = show("datt_scores", att * (datt - row))  # (B, nh, T, T): d loss / d att_scores
    dqk = dscores / math.sqrt(hs)  # the gradient at q @ kᵀ, before the forward's 1/√hs
    dq = dqk @ k  # (B, nh, T, T) @ (B, nh, T, hs)
    dk = dqk.transpose(0, 1, 3, 2) @ q
    return dq, dk, dv
