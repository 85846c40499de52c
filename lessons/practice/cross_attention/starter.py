"""Cross-attention with the key-padding mask (lesson: The whole Transformer: translating, step
"Cross-attention: French asks, English answers").

Write cross_attention_forward, save, and `kqv practice check cross_attention` grades every
variable below against the engine's cross-attention layer (the names are the trace's, as
`kqv trace translate` shows them under dec.h0.cross.).
"""

import math

import numpy as np
from kqv_practice import show


def cross_attention_forward(x, memory, src_pad, w_q, b_q, w_kv, b_kv, n_head):
    """The decoder's attention over the source sentence.

    x        (B, T, C)   the decoder's stream: one vector per target place
    memory   (B, S, C)   the encoder's output: one vector per source token
    src_pad  (B, S)      True where the source is padding
    w_q (C, C), b_q (C,)            the queries' weights, stored (in, out)
    w_kv (C, 2*C), b_kv (2*C,)      the keys' (first C columns) and values' (next C) weights
    n_head   nh, the number of heads; hs = C // nh
    returns  cross.y (B, T, C): the heads' outputs side by side

    Hand in as you go (show("cross.q", q) ...):
      cross.q          (B, nh, T, hs)  x @ w_q + b_q, cut into heads
      cross.k          (B, nh, S, hs)  the first C columns of memory @ w_kv + b_kv, cut into heads
      cross.v          (B, nh, S, hs)  the next C columns
      cross.att_scores (B, nh, T, S)   q @ kᵀ / √hs
      cross.att_masked (B, nh, T, S)   −inf where the key is padding
      cross.att        (B, nh, T, S)   softmax over the last axis
    """
    raise NotImplementedError("cross_attention_forward is not written yet")
