"""The padding mask of a batch of sentences (lesson: The whole Transformer: translating, step
"The encoder's input, and the padding mask").

Write padded_attention, save, and `kqv practice check padding_mask` grades src_pad,
enc.h0.pad_mask, enc.h0.att_masked and enc.h0.att against the first encoder layer of a small
translation model (the names are the ones `kqv trace translate` shows).
"""

import numpy as np
from kqv_practice import show


def padded_attention(src, pad_id, att_scores):
    """The encoder's attention weights with the source's padding hidden.

    src         (B, S)           source token ids, each sentence padded with pad_id to S tokens
    pad_id      the padding token's id
    att_scores  (B, nh, S, S)    the first encoder layer's q @ kᵀ / √hs: row = query, column = key
    returns     enc.h0.att (B, nh, S, S): softmax over the last axis of the masked scores

    Hand in as you go (show("src_pad", src_pad) ...):
      src_pad            (B, S)         True where the source is padding
      enc.h0.pad_mask    (B, 1, 1, S)   src_pad with two axes added, to broadcast over heads and queries
      enc.h0.att_masked  (B, nh, S, S)  att_scores with the padded keys' columns set to −inf
    """
    raise NotImplementedError("padded_attention is not written yet")
