"""σ and σ′ (lesson: How a network learns, step "Phase 2, feedforward: into the hidden layer").

Write both functions, save, and `kqv practice check sigmoid` grades them against the engine.
"""

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), entry by entry.

    z    (n, m)  any real numbers
    returns (n, m), every entry squashed into (0, 1)
    """
    raise NotImplementedError("sigmoid is not written yet")


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z)): how fast σ rises at z, entry by entry.

    z    (n, m)
    returns (n, m), every entry in (0, 1/4]
    """
    raise NotImplementedError("sigmoid_prime is not written yet")
