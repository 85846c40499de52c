"""The parts scaled dot-product attention is built from: a score, a scale and a mask.

``y_heads = softmax(mask(score(q, k) · scale)) @ v`` (:func:`engine.attention.attention_forward`).
Each part is a small object with its forward and backward side by side, and each writes its own
piece of the trace's formula text, so the trace says what ran. The standard Transformer's parts
are :data:`DOT`, :data:`BY_ROOT_HS` and :data:`CAUSAL` (an encoder, or cross-attention, passes
:data:`NO_MASK`); the lab's what-ifs swap in :data:`SQUARED`, :data:`UNSCALED` or
:data:`FLIPPED`. ``SCORES``, ``SCALES`` and ``MASKS`` name them as a config and a checkpoint do.

Shapes: ``q (B, nh, T, hs)``, ``k (B, nh, t, hs)`` with ``t ≥ T`` when a KV cache holds earlier
positions; scores ``(B, nh, T, t)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# -- scores ---------------------------------------------------------------------------------


def _q_kT(q, k):
    """``q @ kᵀ``, ``(B, nh, T, hs) @ (B, nh, hs, t) -> (B, nh, T, t)``, the fast way round."""
    if q.shape[-2] == 1:  # one generated token: (k @ qᵀ)ᵀ reads the cached k as stored, where a
        # copy of kᵀ would copy the whole cache, every block, every token (37 MB a token at
        # t = 1024 in GPT-2)
        return (k @ q.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # (B, nh, t, 1) -> (B, nh, 1, t)
    # a contiguous copy of kᵀ first: OpenBLAS's batched A @ Bᵀ is slower than A @ B
    return q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))


class DotScore:
    """``q @ kᵀ``: how much each query points the way each key does."""

    name = "dot"
    text = "q @ kᵀ"
    dq_text, dk_text = "datt_scores @ k", "datt_scoresᵀ @ q"

    def forward(self, q, k):
        return _q_kT(q, k)  # (B, nh, T, t)

    def backward(self, dscores, q, k, dq, dk):
        """Write d/dq and d/dk of the scores into ``dq`` and ``dk`` (each like q and k)."""
        np.matmul(dscores, k, out=dq)  # (B, nh, T, t) @ (B, nh, t, hs) -> (B, nh, T, hs)
        np.matmul(dscores.transpose(0, 1, 3, 2), q, out=dk)  # (B, nh, t, T) @ (B, nh, T, hs)


class SquaredScore:
    """``q² @ (k²)ᵀ`` (what-if): square every number, then the dot product. Every score is ≥ 0
    and a sign no longer says anything, so a query cannot point away from a key."""

    name = "squared"
    text = "q² @ (k²)ᵀ"
    dq_text, dk_text = "(datt_scores @ k²) ⊙ 2q", "(datt_scoresᵀ @ q²) ⊙ 2k"

    def forward(self, q, k):
        return _q_kT(q * q, k * k)  # (B, nh, T, t)

    def backward(self, dscores, q, k, dq, dk):
        # the chain rule through the squares adds a factor 2q (2k)
        np.multiply(dscores @ (k * k), 2 * q, out=dq)
        np.multiply(dscores.transpose(0, 1, 3, 2) @ (q * q), 2 * k, out=dk)


class ScaleByRootHs:
    """Multiply the scores by ``1/√hs``: the dot product of two random hs-vectors has variance
    about hs, and this brings it back to about 1, whatever the head size."""

    text = " · 1/√hs"
    note = "1/√hs keeps the scores' variance near 1 whatever hs is"

    def apply(self, scores, hs: int) -> None:
        """Scale ``scores`` in place (the forward's scores, or their gradient on the way back)."""
        scores *= self.factor(hs)

    def factor(self, hs: int) -> float:
        """The number the scores are multiplied by (the fused softmax folds it into its pass)."""
        return 1.0 / math.sqrt(hs)


class Unscaled:
    """The scores as they come (what-if): their spread grows with hs, and softmax saturates."""

    text = ""
    note = "no 1/√hs (what-if): the scores' spread grows with hs"

    def apply(self, scores, hs: int) -> None:
        return None

    def factor(self, hs: int) -> float:
        return 1.0


# -- masks ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _triangle(T: int, t: int, future: bool) -> np.ndarray:
    """``(T, t)`` booleans, True where a score is hidden; read-only, built once per size.

    The T queries are the last T of the t keys' positions, so query i sits at position
    t − T + i. ``future`` hides the keys after it (above the diagonal when t = T), otherwise
    the keys before it.
    """
    ones, past = np.ones((T, t), dtype=bool), t - T
    hidden = np.triu(ones, k=past + 1) if future else np.tril(ones, k=past - 1)
    hidden.flags.writeable = False
    return hidden


class CausalMask:
    """Hide the future: query i may look at its own position and the earlier ones only. A
    generated token (T = 1) comes after every key there is, so it has nothing to hide."""

    name = "causal"

    def hidden(self, T: int, t: int) -> np.ndarray | None:
        """``(T, t)`` booleans, True where a score is set to -inf; None when nothing is."""
        return None if T == 1 else _triangle(T, t, future=True)

    def hides(self, T: int, t: int) -> tuple[str | None, str]:
        """(what it hides, for the trace's att_masked formula, or None; why), at this T and t."""
        if T == 1:
            return None, "the one new query comes after all t keys: it may look at every one"
        if t == T:
            return "the upper triangle", "position i may only look at positions ≤ i"
        return ("every key after its query (j > t − T + i)",
                "each new query sees the cached keys and the new ones up to itself")


class FlippedMask:
    """Hide the past (what-if): query i may look at its own position and the later ones only."""

    name = "flipped"

    def hidden(self, T: int, t: int) -> np.ndarray | None:
        return None if t == 1 else _triangle(T, t, future=False)

    def hides(self, T: int, t: int) -> tuple[str | None, str]:
        if t == 1:
            return None, "one key, nothing before it to hide"
        if t == T:
            return "the lower triangle", "the what-if: position i may only look at positions ≥ i"
        return ("every key before its query (j < t − T + i)",
                "the what-if: each query sees only itself and the later positions")


class NoMask:
    """Hide nothing: every query sees every key. An encoder's self-attention and a decoder's
    cross-attention over the source; in a GPT, a what-if that lets it read the future."""

    name = "none"

    def hidden(self, T: int, t: int) -> None:
        return None

    def hides(self, T: int, t: int) -> tuple[None, str]:
        return None, "no mask: every query sees every key"


DOT, SQUARED = DotScore(), SquaredScore()
BY_ROOT_HS, UNSCALED = ScaleByRootHs(), Unscaled()
CAUSAL, FLIPPED, NO_MASK = CausalMask(), FlippedMask(), NoMask()
# the parts by the names a config (and so a checkpoint) gives them
SCORES = {p.name: p for p in (DOT, SQUARED)}
MASKS = {p.name: p for p in (CAUSAL, FLIPPED, NO_MASK)}
SCALES = {True: BY_ROOT_HS, False: UNSCALED}
