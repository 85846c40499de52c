"""The bigram model: the next token guessed from the current token alone, by counting.

Karpathy's "Let's build GPT" starts from it. Count how often each token b follows each token a
in the training text, N[a, b]; the probability of b after a is b's share of a's row,

    P(b | a) = (N[a, b] + α) / (Σ_c N[a, c] + α·V),

with α = 1 added to every count (Laplace smoothing), so that a pair never seen in training gets
a small probability instead of 0, whose −ln would be infinite. Its loss on held-out text is
what a model that looks one token back, and no further, reaches on that text; a GPT whose loss
is lower has learned to use more of the context. No gradient is needed: counting is the best
fit of a (V, V) table of probabilities to the training text.
"""

from __future__ import annotations

import numpy as np

from engine.trace import NO_TRACE


def bigram_fit(ids: np.ndarray, V: int, alpha: float = 1.0, tracer=NO_TRACE) -> np.ndarray:
    """``P (V, V)``: row a holds the probabilities of each next token after a, from ``ids (N,)``."""
    counts = np.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V)  # (V, V)
    tracer.record("counts", counts, "N[a, b]: how often b follows a in the training text", "forward",
                  ("V", "V"))
    P = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * V)  # (V, V)
    tracer.record("P", P, "(N[a, b] + α) / (Σ_b N[a, b] + α·V)", "forward", ("V", "V"),
                  "each row sums to 1: the next token's probabilities after a")
    return P


def bigram_loss(P: np.ndarray, a: np.ndarray, b: np.ndarray, tracer=NO_TRACE, sym=("N",)) -> float:
    """The mean of −ln P[a, b] over pairs of a token ``a`` and the token ``b`` that follows it.

    ``a`` and ``b`` have the same shape: ``ids[:-1], ids[1:]`` of a text, or a batch's inputs
    and targets ``(B, T)``; ``sym`` names their flattened length for the trace.
    """
    p = P[a.ravel(), b.ravel()]  # (N,): the probability the table gave each actual next token
    tracer.record("p_next", p, "P[a, b] for each token a and the token b that follows it", "forward", sym)
    loss = float(-np.mean(np.log(p)))
    tracer.record("loss", np.asarray(loss), "mean of −ln p_next", "forward", ())
    return loss
