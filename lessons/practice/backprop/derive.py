"""backprop, derive level (lesson: How a network learns, steps "Phase 3" to "Phase 5 for the
hidden layer").

The forward and the cost are written out below; the gradients are yours to work out from them
with the chain rule. `kqv practice check backprop` grades every δ, nabla_b and nabla_w in
backward order, and `kqv practice hint backprop` gives the next step for whichever one is
failing. show("delta3", delta) hands a variable in and gives it back.
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

    The forward, layer by layer (l = 2 … L), every image a column:
        zˡ = wˡ aˡ⁻¹ + bˡ,   aˡ = σ(zˡ)                              (nl, m)
    The cost: C = Σₓ Cₓ, summed over the m images, with Cₓ = ½‖aᴸ − y‖² for image x's column.
    nabla_bˡ = ∂C/∂bˡ (nl, 1) and nabla_wˡ = ∂C/∂wˡ (nl, nl-1).

    Work it out from the top layer down, through the error of each layer,
        δˡ = ∂C/∂zˡ   (nl, m): column x is image x's ∂Cₓ/∂zˡ.
    The second input set has one layer more than the first: loop over the layers.
    Hand in every δ, nabla_b and nabla_w: show("delta3", ...), show("nabla_b3", ...), ...
    """
    raise NotImplementedError("backprop is not written yet")
