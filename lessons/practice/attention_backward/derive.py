"""Attention, backward, derive level (lesson: Backprop through a transformer block, steps
"Through att @ v: datt and dv" to "Back to the queries and keys").

The forward is written out below; the backward is yours to work out from it, from its last line
back to its first. `kqv practice check attention_backward` grades datt, dv, datt_scores, dq and
dk against the engine, and `kqv practice hint attention_backward` gives the next step for
whichever one is failing.
"""

import math

import numpy as np
from kqv_practice import show


def attention_backward(dy, q, k, v, att):
    """The forward read backwards, from dy (the gradient at y_heads) to dq, dk, dv.

    The forward was, for every batch row and head (ᵀ swaps the last two axes only):
      att_scores = q @ kᵀ / √hs                       (B, nh, T, T)
      att_masked = att_scores, −inf where a key lies in the future
      att        = softmax(att_masked) along the last axis
      y_heads    = att @ v                            (B, nh, T, hs)

    dy       (B, nh, T, hs)   ∂loss/∂y_heads
    q, k, v  (B, nh, T, hs)
    att      (B, nh, T, T)    the softmax weights of the forward (0 where the mask hid a key)
    returns  dq, dk, dv, each (B, nh, T, hs), shaped like q, k, v

    Hand in on the way, with show():
      datt        (B, nh, T, T)   ∂loss/∂att
      datt_scores (B, nh, T, T)   ∂loss/∂att_scores
    Each gradient has the shape of what it differentiates; write a product out entry by entry
    when you are unsure which way round it goes.
    """
    raise NotImplementedError("attention_backward is not written yet")
