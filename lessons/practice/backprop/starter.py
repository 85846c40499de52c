"""backprop (lesson: How a network learns, steps "Phase 3" to "Phase 5 for the hidden layer").

Write backprop, save, and `kqv practice check backprop` grades every δ, nabla_b and nabla_w
in backward order. show("delta3", delta) hands a variable in and gives it back.
"""

import numpy as np
from kqv_practice import show


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ) (given)."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z)) (given)."""
    s = sigmoid(z)
    return s * (1 - s)


def backprop(x, y, weights, biases):
    """The gradient of the quadratic cost for a mini-batch, summed over its m images.

    x         (n1, m)          one image per column (a1 = x)
    y         (nL, m)          the wanted outputs, one-hot columns
    weights   [w2, w3, ...]    wl (nl, nl-1), stored (out, in)
    biases    [b2, b3, ...]    bl (nl, 1)
    returns   (nabla_b, nabla_w): lists shaped like biases and weights

    1. feedforward, keeping every z and a:  zˡ = wˡ aˡ⁻¹ + bˡ,  aˡ = σ(zˡ)
    2. output error:     δᴸ = (aᴸ − y) ⊙ σ′(zᴸ)                       (nL, m)
    3. going down:       δˡ = ((wˡ⁺¹)ᵀ @ δˡ⁺¹) ⊙ σ′(zˡ),  l = L−1 … 2   (nl, m)
    4. each layer:       nabla_bˡ = δˡ summed over the m columns       (nl, 1)
                         nabla_wˡ = δˡ @ (aˡ⁻¹)ᵀ                        (nl, nl-1)
    Hand in every δ, nabla_b and nabla_w: show("delta3", ...), show("nabla_b3", ...), ...
    """
    raise NotImplementedError("backprop is not written yet")
