"""attention: causal self-attention forward, every intermediate graded against the engine."""

from __future__ import annotations

import math

import numpy as np

from engine.attention import attention_forward
from engine.layers import softmax_forward
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case

GRADED = ["att_scores", "att_masked", "att", "y_heads"]


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("B", "nh", "T", "hs", "C")):
        rng = rng_for("attention", i)
        B, nh, T, hs = dims["B"], dims["nh"], dims["T"], dims["hs"]
        q, k, v = (rng.standard_normal((B, nh, T, hs)) for _ in range(3))
        tracer = Tracer(dims=dims)
        attention_forward(q, k, v, tracer=tracer)
        out.append(traced_case(tracer, [Call("attention_forward", {"q": q, "k": k, "v": v}, "y_heads")],
                               GRADED, {"q": q, "k": k, "v": v}))
    return out


def _hide(att, hidden):
    return np.where(hidden, -np.inf, att)


def _swap(a):
    return a.swapaxes(-1, -2)


def _T(case):
    return case.dims["T"]


MISTAKES = (
    Mistake("no 1/√hs",
            "the scores are divided by √hs: a dot product of hs random numbers has variance about "
            "hs, and the scale brings it back near 1 so softmax does not saturate.",
            lambda c: {"att_scores": c.value("att_scores") * math.sqrt(c.dims["hs"])},
            (" / math.sqrt(hs))", ")")),
    Mistake("√C instead of √hs",
            "each head compares vectors of hs = C / nh channels, so the scale is 1/√hs, the head "
            "size, not 1/√C (a slip in the \"Let's build GPT\" notebook).",
            lambda c: {"att_scores": c.value("att_scores") / math.sqrt(c.dims["nh"])},
            ("math.sqrt(hs))", "math.sqrt(q.shape[1] * hs))")),
    Mistake("mask on the wrong triangle",
            "a query at position t may see keys 0..t: hide the keys *after* it, above the "
            "diagonal (np.triu with k=1). Hiding the lower triangle lets every token see the future.",
            lambda c: {"att_masked": _hide(c.value("att_scores"), np.tril(np.ones((_T(c),) * 2, bool), -1))},
            ("np.triu(np.ones((T, T), dtype=bool), k=1)", "np.tril(np.ones((T, T), dtype=bool), k=-1)")),
    Mistake("the diagonal masked too",
            "each position may attend to itself: keep the diagonal (np.triu(..., k=1), not k=0). "
            "With the diagonal hidden, the first row is all −inf and its softmax is 0/0.",
            lambda c: {"att_masked": _hide(c.value("att_scores"), np.triu(np.ones((_T(c),) * 2, bool)))},
            ("dtype=bool), k=1)", "dtype=bool), k=0)")),
    Mistake("softmax over the wrong axis",
            "each query's row of weights sums to 1: take the max and the sum over the last axis "
            "(the keys), axis=-1, with keepdims=True.",
            lambda c: {"att": _swap(softmax_forward(_swap(c.value("att_masked"))))},
            ('att.max(axis=-1, keepdims=True))  # the row\'s largest becomes e⁰ = 1\n'
             '    att = show("att", e / e.sum(axis=-1, keepdims=True))',
             'att.max(axis=-2, keepdims=True))  # the row\'s largest becomes e⁰ = 1\n'
             '    att = show("att", e / e.sum(axis=-2, keepdims=True))')),
    Mistake("attᵀ @ v",
            "row t of y_heads mixes the values with row t of att: y_heads = att @ v, no transpose "
            "(a transposed att has the same (T, T) shape, so numpy cannot tell you).",
            lambda c: {"y_heads": _swap(c.value("att")) @ c.value("v")},
            ("return att @ v", "return att.transpose(0, 1, 3, 2) @ v")),
)

EXERCISE = Exercise(
    name="attention",
    title="causal self-attention, forward",
    step="weighted-values",
    function="attention_forward",
    phase="forward",
    text=(
        "Write the middle of the attention layer, from the heads' q, k, v, each (B, nh, T, hs), to "
        "their output y_heads (B, nh, T, hs). Four steps, each graded: the scores of every query "
        "against every key, att_scores = q @ kᵀ / √hs, (B, nh, T, T); the causal mask, which sets "
        "the scores of later keys to −inf (att_masked); softmax over the last axis, so each row of "
        "att is a set of weights summing to 1; and the weighted sum of the values, y_heads = att @ v. "
        "Scale by the head size hs, not by C."
    ),
    hints=(
        "Shapes: kᵀ swaps only the last two axes, (B, nh, T, hs) -> (B, nh, hs, T), so q @ kᵀ is "
        "(B, nh, T, T): one T × T grid per sequence per head. The mask is one (T, T) grid of booleans "
        "that broadcasts over B and nh. att @ v is (B, nh, T, T) @ (B, nh, T, hs) -> (B, nh, T, hs).",
        "Formulas: att_scores = q kᵀ / √hs; att_masked[..., t, s] = −inf where s > t; "
        "att = exp(x − max) / Σ exp(x − max) along the last axis (subtracting the row's max keeps "
        "exp from overflowing and changes nothing else; e^−inf = 0); y_heads = att v.",
        "Near-code: att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs); "
        "future = np.triu(np.ones((T, T), dtype=bool), k=1); att = np.where(future, -np.inf, att); "
        "e = np.exp(att - att.max(axis=-1, keepdims=True)); att = e / e.sum(axis=-1, keepdims=True); "
        "return att @ v",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
