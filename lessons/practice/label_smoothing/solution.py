"""The decoder's shifted input and target, the label-smoothed loss and its gradient: a reference solution."""

import numpy as np
from kqv_practice import show


def shift(tgt):
    """(B, T + 1) -> tgt_in (B, T), tgt_out (B, T): position t reads token t and predicts token t + 1."""
    tgt_in = tgt[:, :-1]  # <s> and the pieces
    tgt_out = tgt[:, 1:]  # the pieces and </s>
    return tgt_in, tgt_out


def smoothed_cross_entropy_forward(logits, targets, pad_id, smoothing):
    """Mean over the real rows of −Σ_v q_v log p_v."""
    N, V = logits.shape
    z = logits - logits.max(axis=1, keepdims=True)  # (N, V): the row's largest becomes 0
    e = np.exp(z)
    probs = show("probs", e / e.sum(axis=1, keepdims=True))
    rows = np.arange(N)
    q = np.full((N, V), smoothing / (V - 2))
    q[:, pad_id] = 0.0
    q[rows, targets] = 1.0 - smoothing
    real = targets != pad_id  # (N,)
    loss_rows = -(q * np.log(probs)).sum(axis=1)  # (N,)
    return loss_rows[real].mean()


def smoothed_cross_entropy_backward(probs, targets, pad_id, smoothing):
    """(probs − q) / n on the real rows, 0 on the padding rows."""
    N, V = probs.shape
    q_row = np.full((N, V), smoothing / (V - 2))
    q_row[:, pad_id] = 0.0
    q_row[np.arange(N), targets] = 1.0 - smoothing
    real = targets != pad_id
    return (probs - q_row) * real[:, None] / real.sum()
