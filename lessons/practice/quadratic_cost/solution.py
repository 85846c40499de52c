"""The quadratic cost and δᴸ: a reference solution."""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


def fn(a, y):
    """C = (1/m) Σ ½‖y − a‖²: (nL, m), (nL, m) -> ()."""
    return 0.5 * np.sum((a - y) ** 2) / a.shape[1]


def delta(z, a, y):
    """δᴸ = (a − y) ⊙ σ′(z): (nL, m)."""
    return (a - y) * sigmoid_prime(z)
