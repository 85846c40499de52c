"""Split the heads and merge them back: a reference solution."""

import numpy as np


def split_heads(qkv, n_head):
    """(B, T, 3*C) -> q, k, v, each (B, nh, T, hs)."""
    B, T, three_c = qkv.shape
    hs = three_c // 3 // n_head
    heads = []
    for part in np.split(qkv, 3, axis=-1):  # q, k, v: each (B, T, C)
        heads.append(part.reshape(B, T, n_head, hs).transpose(0, 2, 1, 3))  # (B, nh, T, hs)
    q, k, v = heads
    return q, k, v


def merge_heads(y_heads):
    """(B, nh, T, hs) -> (B, T, C): the transpose back first, then the reshape."""
    B, nh, T, hs = y_heads.shape
    return y_heads.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)
