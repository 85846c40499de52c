"""Next-token sampling with temperature and top-k: a reference solution."""

import numpy as np
from kqv_practice import show


def sample_next(logits, temperature, top_k, rng):
    """softmax(top_k(logits / temperature)), then one draw: (V,) -> an id."""
    z = show("z", logits / temperature)  # (V,)
    kth = np.sort(z)[-top_k]  # the k-th largest score
    z = show("z_top", np.where(z < kth, -np.inf, z))  # (V,): k scores left
    e = np.exp(z - z.max())
    p = show("p", e / e.sum())  # (V,), sums to 1
    return int(rng.choice(len(p), p=p))
