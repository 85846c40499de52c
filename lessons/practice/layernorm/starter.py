"""LayerNorm, forward and backward (lesson: Attention, step "LayerNorm before attention").

Write both functions, save, and `kqv practice check layernorm` grades every variable against
the engine: mean, var, rstd, xhat, out, then dw, db, dxhat, dx.
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
    """From dout, the gradient at out, to the gradients of x, w and b.

    dout  (N, C)
    xhat  (N, C), rstd (N,)   what layernorm_forward returned
    w     (C,)
    returns dx (N, C), dw (C,), db (C,)

      dw    = Σ_rows dout ⊙ xhat        db = Σ_rows dout
      dxhat = dout ⊙ w                  (hand it in: show("dxhat", dxhat))
      dx    = rstd · (dxhat − mean_c(dxhat) − xhat ⊙ mean_c(dxhat ⊙ xhat)),  means along each row
    """
    raise NotImplementedError("layernorm_backward is not written yet")
