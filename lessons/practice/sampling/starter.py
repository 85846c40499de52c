"""Next-token sampling with temperature and top-k (lesson: Training and generating, step
"Temperature and top-k").

Write sample_next, save, and `kqv practice check sampling` grades z, z_top, p and the drawn id
against the engine's sampler, drawing from the same seeded generator.
"""

import numpy as np
from kqv_practice import show


def sample_next(logits, temperature, top_k, rng):
    """Draw the next token's id from the last position's logits.

    logits       (V,)   one score per token of the vocabulary
    temperature  a number above 0: below 1 sharpens the distribution, above 1 flattens it
    top_k        a whole number k: only the k largest scores may be drawn
    rng          a seeded numpy Generator: draw with rng.choice(V, p=p), exactly once
    returns      the drawn id, an int

    Hand in as you go:
      z     (V,) = logits / temperature
      z_top (V,) = z with every entry below the k-th largest set to −inf
      p     (V,) = softmax(z_top): exp(z_top − max) / Σ exp(z_top − max), −inf becomes 0
    """
    raise NotImplementedError("sample_next is not written yet")
