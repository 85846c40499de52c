"""The quadratic cost and δᴸ (lesson: How a network learns, step "Phase 3, output error δ³").

Write fn and delta, save, and `kqv practice check quadratic_cost` grades C and δᴸ.
"""

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ) (given)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z)) (given)."""
    s = sigmoid(z)
    return s * (1 - s)


def fn(a, y):
    """The cost C of a mini-batch: ½‖y − a‖² per image, averaged over the m images.

    a    (nL, m)   the network's output, one column per image
    y    (nL, m)   the wanted output, one-hot columns
    returns C, one number (shape ())
    """
    raise NotImplementedError("fn is not written yet")


def delta(z, a, y):
    """The output error δᴸ = ∂Cₓ/∂zᴸ = (a − y) ⊙ σ′(zᴸ) of each image x (column x).

    z    (nL, m)   zᴸ, the output layer's weighted input
    a    (nL, m)   aᴸ = σ(zᴸ)
    y    (nL, m)
    returns δᴸ (nL, m)
    """
    raise NotImplementedError("delta is not written yet")
