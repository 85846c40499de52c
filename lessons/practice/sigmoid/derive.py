"""σ and σ′, derive level (lesson: How a network learns, step "Phase 2, feedforward: into the
hidden layer").

Write both functions, working σ′ out from σ; `kqv practice check sigmoid` grades them against
the engine, and `kqv practice hint sigmoid` gives the next step for whichever one is failing.
"""

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), entry by entry.

    z    (n, m)  any real numbers
    returns (n, m), every entry squashed into (0, 1)
    """
    raise NotImplementedError("sigmoid is not written yet")


def sigmoid_prime(z):
    """σ′(z) = dσ/dz: how fast σ rises at z, entry by entry. Work it out from σ above, and
    write the result with σ(z) itself: then it costs one exp.

    z    (n, m)
    returns (n, m), every entry in (0, 1/4]
    """
    raise NotImplementedError("sigmoid_prime is not written yet")
