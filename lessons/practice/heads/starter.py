"""Split the heads and merge them back (lesson: Attention, steps "Several heads" and "Merge the heads back").

Write both functions, save, and `kqv practice check heads` grades q, k, v and y against the engine.
"""

import numpy as np


def split_heads(qkv, n_head):
    """Cut the c_attn output into queries, keys and values, and each of those into heads.

    qkv     (B, T, 3*C)   columns 0..C−1 are q, C..2C−1 are k, 2C..3C−1 are v
    n_head  nh, a whole number; each head gets hs = C / nh channels
    returns q, k, v, each (B, nh, T, hs)

    For each of q, k, v: view (B, T, C) as (B, T, nh, hs), then swap T and nh.
    """
    raise NotImplementedError("split_heads is not written yet")


def merge_heads(y_heads):
    """Put the heads side by side again.

    y_heads  (B, nh, T, hs)   each head's output
    returns  y (B, T, C), C = nh·hs

    Swap nh and T back first, (B, T, nh, hs), then view the last two axes as one.
    """
    raise NotImplementedError("merge_heads is not written yet")
