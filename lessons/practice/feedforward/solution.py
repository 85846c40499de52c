"""feedforward: a reference solution."""

import numpy as np
from kqv_practice import show


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), entry by entry."""
    return 1.0 / (1.0 + np.exp(-z))


def feedforward(a, weights, biases):
    """a (n1, m) through every layer; returns aL (nL, m)."""
    for l, (w, b) in enumerate(zip(weights, biases, strict=True), start=2):
        z = show(f"z{l}", w @ a + b)  # (nl, nl-1) @ (nl-1, m) + (nl, 1) -> (nl, m)
        a = show(f"a{l}", sigmoid(z))  # (nl, m)
    return a
