"""The padding mask of a batch of sentences: a reference solution."""

import numpy as np
from kqv_practice import show


def padded_attention(src, pad_id, att_scores):
    """softmax of att_scores (B, nh, S, S) with the padded keys' columns set to −inf."""
    src_pad = show("src_pad", src == pad_id)  # (B, S)
    pad_mask = show("enc.h0.pad_mask", src_pad[:, None, None, :])  # (B, 1, 1, S): hides key columns
    hidden = pad_mask  # the encoder sees the whole sentence: nothing causal
    att = show("enc.h0.att_masked", np.where(hidden, -np.inf, att_scores))
    e = np.exp(att - att.max(axis=-1, keepdims=True))  # e^−inf = 0
    return e / e.sum(axis=-1, keepdims=True)
