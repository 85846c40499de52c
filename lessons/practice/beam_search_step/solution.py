"""One step of beam search, with the length penalty: a reference solution."""

import numpy as np
from kqv_practice import show


def beam_step(logp, running_scores, generated, length_penalty):
    """The 2K best continuations of B sentences' K beams: (B, 2K) scores, parents, tokens, finish scores."""
    B, K = running_scores.shape
    V = logp.shape[1]
    acc = show("acc", (logp.reshape(B, K, V) + running_scores[:, :, None]).reshape(B, K * V))  # (B, K*V)
    top = np.argsort(-acc, axis=1, kind="stable")[:, : 2 * K]  # (B, 2K) indices, best first
    top_scores = show("top_scores", np.take_along_axis(acc, top, axis=1))
    parent = show("parent", top // V)  # which beam: the quotient
    token = show("token", top % V)  # which token: the remainder
    finish_scores = show("finish_scores", top_scores / generated ** length_penalty)
    return top_scores, parent, token, finish_scores
