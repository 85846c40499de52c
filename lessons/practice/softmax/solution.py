"""A stable softmax and its backward: a reference solution."""

import numpy as np


def softmax_forward(x):
    """exp(x − max) / Σ exp(x − max) over the last axis: (..., n) -> (..., n)."""
    e = np.exp(x - x.max(axis=-1, keepdims=True))  # the row's largest becomes e⁰ = 1
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(dp, p):
    """dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ), row by row: (..., n) -> (..., n)."""
    row = (dp * p).sum(axis=-1, keepdims=True)  # (..., 1): one number per row
    return p * (dp - row)
