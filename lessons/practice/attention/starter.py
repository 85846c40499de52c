"""Causal self-attention, forward (lesson: Attention, steps "Scores" to "Weighted sum of the values").

Write attention_forward, save, and `kqv practice check attention` grades the scores, the
masked scores, the weights and the output against the engine, one after the other.
show("att_scores", att) hands a variable in and gives it back.
"""

import math

import numpy as np
from kqv_practice import show


def attention_forward(q, k, v):
    """Every query against every earlier key, all sequences and all heads at once.

    q, k, v   (B, nh, T, hs)   the heads already split; hs = C / nh channels per head
    returns   y_heads (B, nh, T, hs)

    Hand in each step as you go:
      att_scores (B, nh, T, T) = q @ kᵀ / √hs        kᵀ swaps the last two axes of k
      att_masked (B, nh, T, T) = att_scores with −inf above the diagonal
                                 (key position > query position: the future)
      att        (B, nh, T, T) = softmax(att_masked) over the last axis (the keys)
      y_heads    (B, nh, T, hs) = att @ v
    """
    raise NotImplementedError("attention_forward is not written yet")
