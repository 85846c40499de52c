"""feedforward (lesson: How a network learns, step "Phase 2, feedforward: into the output layer").

Write feedforward, save, and `kqv practice check feedforward` grades every z and a against the
engine, layer by layer. show("z2", z2) hands a variable in and gives it back, so you can write
z = show(f"z{l}", ...) inside your loop.
"""

import numpy as np
from kqv_practice import show


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), entry by entry (from the sigmoid exercise, given here)."""
    return 1.0 / (1.0 + np.exp(-z))


def feedforward(a, weights, biases):
    """The network's output for a mini-batch a, one image per column.

    a         (n1, m)            the input a1 = x
    weights   [w2, w3, ...]      w2 (n2, n1), w3 (n3, n2): stored (out, in)
    biases    [b2, b3, ...]      b2 (n2, 1), b3 (n3, 1)
    returns   aL (nL, m)

    For l = 2 … L:  zˡ = wˡ @ aˡ⁻¹ + bˡ   (nl, m)
                    aˡ = σ(zˡ)            (nl, m)
    Hand in each one as you go: show("z2", z2), show("a2", a2), ...
    """
    raise NotImplementedError("feedforward is not written yet")
