"""LayerNorm, forward and backward, derive level (lesson: Attention, step "LayerNorm before
attention").

The forward is written out below; the backward is yours to work out from it, one line of the
forward at a time, from the last line back to the first. `kqv practice check layernorm` grades
every variable against the engine (mean, var, rstd, xhat, out, then dw, db, dxhat, dx), and
`kqv practice hint layernorm` gives the next step for whichever one is failing.
"""

import numpy as np
from kqv_practice import show


def layernorm_forward(x, w, b, eps):
    """Normalise each row (one token) to mean 0 and variance 1, then scale by w and shift by b.

    x     (N, C)   N = B·T tokens, one per row
    w, b  (C,)     the learned gain and shift
    eps   a small number, inside the square root
    returns out (N, C), xhat (N, C), rstd (N,)   (xhat and rstd are what the backward needs)

    Hand in as you go:
      mean (N,)   = Σ_c x / C                     one number per row
      var  (N,)   = Σ_c (x − mean)² / C           biased: divide by C, not C − 1
      rstd (N,)   = 1 / √(var + ε)
      xhat (N, C) = (x − mean) · rstd
      out  (N, C) = xhat ⊙ w + b
    """
    raise NotImplementedError("layernorm_forward is not written yet")


def layernorm_backward(dout, xhat, rstd, w):
    """From dout, the gradient of the loss at out, to the gradients of x, w and b.

    dout  (N, C)              ∂loss/∂out
    xhat  (N, C), rstd (N,)   what layernorm_forward returned
    w     (C,)
    returns dx (N, C), dw (C,), db (C,)
    Hand in dxhat (N, C), the gradient at xhat, on the way: show("dxhat", dxhat).

    Work backwards through the forward above. A gradient always has the shape of the thing it
    is the gradient of, and a number the forward used in several places collects one term
    from each of them. Here w[c] and b[c] are used by every one of the N rows, and each x of a
    row reaches every xhat of that row: through its own entry, and through the row's mean and
    variance.
    """
    raise NotImplementedError("layernorm_backward is not written yet")
