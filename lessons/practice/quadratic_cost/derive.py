"""The quadratic cost and δᴸ, derive level (lesson: How a network learns, step "Phase 3,
output error δ³").

Write fn and delta, working δᴸ out from the cost; `kqv practice check quadratic_cost` grades C
and δᴸ, and `kqv practice hint quadratic_cost` gives the next step for whichever one is failing.
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
    """The output error δᴸ = ∂Cₓ/∂zᴸ of each image x (column x): work it out from Cₓ.

    Cₓ = ½‖aᴸ − y‖² for image x's column, and aᴸ = σ(zᴸ) entry by entry.

    z    (nL, m)   zᴸ, the output layer's weighted input
    a    (nL, m)   aᴸ = σ(zᴸ)
    y    (nL, m)
    returns δᴸ (nL, m)
    """
    raise NotImplementedError("delta is not written yet")
