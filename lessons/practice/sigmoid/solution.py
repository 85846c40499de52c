"""σ and σ′: a reference solution."""

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), entry by entry: (n, m) -> (n, m)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z)), entry by entry: (n, m) -> (n, m)."""
    s = sigmoid(z)
    return s * (1 - s)
