"""Sinusoidal positions: a reference solution."""

import numpy as np
from kqv_practice import show


def sinusoidal_positions(T, C):
    """PE(pos, 2i) = sin(pos / 10000^(2i/C)), PE(pos, 2i+1) = cos(...): (T, C)."""
    pos = np.arange(T)[:, None]  # (T, 1)
    two_i = np.arange(0, C, 2)  # (ceil(C/2),): 0, 2, 4, ...
    angle = show("angle", pos / 10000 ** (two_i / C))  # (T, ceil(C/2))
    pe = np.zeros((T, C))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : C // 2])  # an odd C has one cos column fewer
    return pe
