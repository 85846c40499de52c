"""One AdamW step (lesson: Training and generating, step "AdamW: m and v have the shape of each
parameter").

Write adamw_update, save, and `kqv practice check adamw` grades m, v, the update and the new p
against the engine's optimiser.
"""

import numpy as np
from kqv_practice import show


def adamw_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step of one weight p with its gradient g.

    p, g     (n_in, n_out)   a weight stored (in, out) and d loss / d p
    m, v     (n_in, n_out)   running means of g and of g², from the steps before
    t        this step's number, counted from 1
    lr, beta1, beta2, eps, weight_decay   numbers
    returns  p, m, v   the new ones, each (n_in, n_out)

    In this order:
      p ← p · (1 − lr·weight_decay)          decay, decoupled from the gradient
      m ← β₁·m + (1 − β₁)·g                  hand in: show("m", m)
      v ← β₂·v + (1 − β₂)·g²                 hand in: show("v", v)
      m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)   correct their start at zero
      update = lr · m̂ / (√v̂ + ε)             hand in: show("update", update)
      p ← p − update
    """
    raise NotImplementedError("adamw_update is not written yet")
