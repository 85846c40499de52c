"""Drawing the next token from the logits: temperature, top-k, then one draw from the softmax."""

from __future__ import annotations

import numpy as np

from engine.trace import NO_TRACE


def sample_next(logits, temperature, top_k, rng, tracer=NO_TRACE) -> int:
    """Draw one id from ``softmax(logits / temperature)`` restricted to the ``top_k`` largest.

    ``logits (V,)``; ``top_k`` None keeps every id; ``rng`` a seeded numpy Generator, so the
    same seed draws the same id.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature  # (V,)
    tracer.record("z", z, "logits / temperature", "forward", ("V",), "below 1: sharper; above 1: flatter")
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]  # the k-th largest
        z = np.where(z < kth, -np.inf, z)
    tracer.record("z_top", z, "z with all but the top_k largest set to −∞", "forward", ("V",))
    p = np.exp(z - z.max())
    p /= p.sum()
    tracer.record("p", p, "softmax(z_top)", "forward", ("V",), "−∞ becomes probability 0")
    nxt = int(rng.choice(p.size, p=p))
    tracer.record("next_id", np.asarray(nxt), "one draw from p: rng.choice(V, p=p)", "forward", ())
    return nxt
