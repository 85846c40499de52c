"""The cross-entropy cost and δᴸ, derive level (lesson: How a network learns, step "Many
mini-batches").

Write fn and delta, working δᴸ out from the cost; `kqv practice check cross_entropy_cost`
grades C and δᴸ, and `kqv practice hint cross_entropy_cost` gives the next step for whichever
one is failing.
"""

import numpy as np


def fn(a, y):
    """C = −Σ[y ln a + (1 − y) ln(1 − a)] per image, averaged over the m images.

    a    (nL, m)   sigmoid outputs, each in (0, 1)
    y    (nL, m)   one-hot columns
    returns C, one number (shape ())
    """
    raise NotImplementedError("fn is not written yet")


def delta(z, a, y):
    """The output error δᴸ = ∂Cₓ/∂zᴸ of each image x, for sigmoid outputs and this cost: work it
    out from Cₓ = −Σ[y ln a + (1 − y) ln(1 − a)] with aᴸ = σ(zᴸ).

    Per image: C is the mean of the images' Cₓ, so ∂C/∂zᴸ would be δᴸ/m; the 1/m comes back in
    the update (η/m). Column x of δᴸ belongs to image x.

    z    (nL, m)   zᴸ
    a    (nL, m)   aᴸ = σ(zᴸ)
    y    (nL, m)
    returns δᴸ (nL, m)
    """
    raise NotImplementedError("delta is not written yet")
