"""Attention, backward (lesson: Backprop through a transformer block, steps "Through att @ v:
datt and dv" to "Back to the queries and keys").

Write attention_backward, save, and `kqv practice check attention_backward` grades datt, dv,
datt_scores, dq and dk against the engine, in the order the engine computes them.
"""

import math

import numpy as np
from kqv_practice import show


def attention_backward(dy, q, k, v, att):
    """The forward read backwards, from dy (the gradient at y_heads) to dq, dk, dv.

    The forward was: att_scores = q @ kᵀ / √hs, att = softmax(masked att_scores), y_heads = att @ v.

    dy       (B, nh, T, hs)   d loss / d y_heads
    q, k, v  (B, nh, T, hs)
    att      (B, nh, T, T)    the softmax weights of the forward (0 where the mask hid a key)
    returns  dq, dk, dv, each (B, nh, T, hs)

    In this order (hand in datt and datt_scores with show()):
      datt        (B, nh, T, T)  = dy @ vᵀ
      dv          (B, nh, T, hs) = attᵀ @ dy
      datt_scores (B, nh, T, T)  = att ⊙ (datt − Σ_row datt ⊙ att)   softmax backward: d loss / d att_scores
      dq          (B, nh, T, hs) = (datt_scores / √hs) @ k          the forward's 1/√hs, on the way back
      dk          (B, nh, T, hs) = (datt_scores / √hs)ᵀ @ q
    ᵀ swaps the last two axes only. The mask needs no backward: att is 0 where it hid a key.
    """
    raise NotImplementedError("attention_backward is not written yet")
