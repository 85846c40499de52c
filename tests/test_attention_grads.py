"""datt_scores is the gradient of the loss at att_scores as the forward recorded them (issue 22
item 5): a finite difference on att_scores finds it, with no √hs to account for."""

from __future__ import annotations

import numpy as np

from engine.attention import attention_backward, attention_forward
from engine.layers import softmax_forward
from engine.trace import Tracer


def test_datt_scores_is_the_finite_difference_gradient_at_att_scores():
    rng = np.random.default_rng(0)
    B, nh, T, hs = 1, 2, 4, 8
    q, k, v, dy = (rng.standard_normal((B, nh, T, hs)) for _ in range(4))
    forward = Tracer(dims={"B": B, "nh": nh, "T": T, "hs": hs})
    _, att, _ = attention_forward(q, k, v, tracer=forward)
    scores = forward["att_scores"].value.copy()
    backward = Tracer(dims=forward.dims)
    dq, _, _ = attention_backward(dy, q, k, v, att, tracer=backward)
    hidden = np.triu(np.ones((T, T), dtype=bool), 1)

    def loss(s):  # Σ dy ⊙ y_heads: its gradient at y_heads is dy, as the backward assumes
        masked = np.where(hidden, -np.inf, s)
        return float(np.sum(dy * (softmax_forward(masked) @ v)))

    h, numeric = 1e-6, np.zeros_like(scores)
    for i in np.ndindex(scores.shape):
        if hidden[i[-2], i[-1]]:
            continue
        up, down = scores.copy(), scores.copy()
        up[i] += h
        down[i] -= h
        numeric[i] = (loss(up) - loss(down)) / (2 * h)
    np.testing.assert_allclose(backward["datt_scores"].value, numeric, atol=1e-7)
    # and dq takes the forward's 1/√hs on the way: dq = (datt_scores · 1/√hs) @ k
    np.testing.assert_allclose(dq, backward["datt_scores"].value / np.sqrt(hs) @ k, atol=1e-12)
