"""The embedding: token rows plus position rows (lesson: Attention, step "Each token id picks a row").

Write embedding_forward, save, and `kqv practice check embedding` grades tok_emb, pos_emb and x
against the engine.
"""

import numpy as np
from kqv_practice import show


def embedding_forward(idx, wte, wpe):
    """Turn token ids into vectors: the token's row of wte plus the position's row of wpe.

    idx   (B, T)            token ids, each in 0..V−1
    wte   (V, C)            token embedding table, one row per token of the vocabulary
    wpe   (block_size, C)   position embedding table (learned, as GPT-2), one row per position
    returns x (B, T, C)

    Hand in as you go:
      tok_emb (B, T, C) = wte[idx]      row idx[b, t] of wte for every token
      pos_emb (T, C)    = wpe[0:T]      rows 0..T−1: the positions 0..T−1
      x       (B, T, C) = tok_emb + pos_emb   (broadcasts over B)
    """
    raise NotImplementedError("embedding_forward is not written yet")
