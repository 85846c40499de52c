"""Sinusoidal positions (lesson: Attention, step "Where is each token? Positional encoding").

Write sinusoidal_positions, save, and `kqv practice check sinusoidal` grades angle and pe against
the engine.
"""

import numpy as np
from kqv_practice import show


def sinusoidal_positions(T, C):
    """The original Transformer's fixed position code: sin and cos, interleaved.

    T, C     whole numbers: positions 0..T−1, C channels (C may be odd)
    returns  pe (T, C)

      angle (T, ceil(C/2)) = pos / 10000^(2i/C)   for pos = 0..T−1 and 2i = 0, 2, 4, ... < C
      PE(pos, 2i)   = sin(angle)   in the even columns 0, 2, 4, ...
      PE(pos, 2i+1) = cos(angle)   in the odd columns 1, 3, 5, ...
    Hand in angle with show("angle", angle).
    """
    raise NotImplementedError("sinusoidal_positions is not written yet")
