"""LayerNorm, forward and backward: a reference solution."""

import numpy as np
from kqv_practice import show


def layernorm_forward(x, w, b, eps):
    """(x − mean) / √(var + ε) ⊙ w + b, row by row: (N, C) -> (N, C)."""
    mean = show("mean", x.mean(axis=-1))  # (N,)
    xc = x - mean[:, None]  # (N, C)
    var = show("var", (xc * xc).mean(axis=-1))  # (N,) biased: divided by C
    rstd = show("rstd", 1.0 / np.sqrt(var + eps))  # (N,)
    xhat = show("xhat", xc * rstd[:, None])  # (N, C)
    out = xhat * w + b
    return out, xhat, rstd


def layernorm_backward(dout, xhat, rstd, w):
    """(N, C) -> dx (N, C), dw (C,), db (C,)."""
    dw = (dout * xhat).sum(axis=0)  # (C,): summed over the N rows
    db = dout.sum(axis=0)  # (C,)
    dxhat = show("dxhat", dout * w)  # (N, C)
    dx = rstd[:, None] * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                          - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    return dx, dw, db
