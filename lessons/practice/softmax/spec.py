"""softmax: a stable softmax over the last axis and its backward, graded against the engine."""

from __future__ import annotations

import numpy as np

from engine.layers import softmax_backward, softmax_forward
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, GradCheck, Mistake, Rung
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case

SYM = ("B", "nh", "T", "T")


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("B", "nh", "T")):
        rng = rng_for("softmax", i)
        B, nh, T = dims["B"], dims["nh"], dims["T"]
        # masked scores; the second set's run into the hundreds, where exp(x) overflows
        x = rng.standard_normal((B, nh, T, T)) * (1.0 if i == 0 else 300.0)
        x[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] = -np.inf
        dp = rng.standard_normal((B, nh, T, T))
        tracer = Tracer(dims=dims)
        p = softmax_forward(x, tracer, SYM)
        softmax_backward(dp, p, tracer, SYM)
        calls = [Call("softmax_forward", {"x": x}, "p"), Call("softmax_backward", {"dp": dp, "p": p}, "dx")]
        out.append(traced_case(tracer, calls, ["p", "dx"], {"x": x, "dp": dp}))
    return out


def _shifted_exp(c):
    x = c.value("x")
    return np.exp(x - x.max(axis=-1, keepdims=True))


def _unshifted_softmax(x):
    """exp(x) / Σ exp(x) as numpy computes it, overflowing to inf / inf = NaN on large scores."""
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)


def _row_sum(a, axis=-1):
    return a.sum(axis=axis, keepdims=True)


MISTAKES = (
    Mistake("softmax over the wrong axis",
            "each row (one query's scores against every key) must sum to 1: take the max and the "
            "sum along the last axis, axis=-1, keepdims=True.",
            lambda c: {"p": softmax_forward(c.value("x").swapaxes(-1, -2)).swapaxes(-1, -2)},
            ("x.max(axis=-1, keepdims=True))  # the row's largest becomes e⁰ = 1\n"
             "    return e / e.sum(axis=-1, keepdims=True)",
             "x.max(axis=-2, keepdims=True))  # the row's largest becomes e⁰ = 1\n"
             "    return e / e.sum(axis=-2, keepdims=True)")),
    Mistake("overflow: the max not subtracted",
            "exp of a score in the hundreds is inf, and inf / inf is NaN. Subtract each row's max "
            "first, e = exp(x − max): the fraction is unchanged and the largest term is e⁰ = 1.",
            lambda c: {"p": _unshifted_softmax(c.value("x"))},
            ("np.exp(x - x.max(axis=-1, keepdims=True))", "np.exp(x)")),
    Mistake("one sum for the whole array",
            "divide each row by its own sum (axis=-1, keepdims=True), not by the sum of every "
            "entry of the array: then only the whole array sums to 1, not each row.",
            lambda c: {"p": _shifted_exp(c) / _shifted_exp(c).sum()},
            ("e.sum(axis=-1, keepdims=True)", "e.sum()")),
    Mistake("not divided by the row sum",
            "exp(x − max) is only the top of the fraction: divide by its sum over the row so the "
            "weights add up to 1.",
            lambda c: {"p": _shifted_exp(c)},
            ("return e / e.sum(axis=-1, keepdims=True)", "return e")),
    Mistake("the Σ term left out",
            "every p in a row depends on every x of the row (they share the sum), so dx has a "
            "second term: dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ), not p ⊙ dp.",
            lambda c: {"dx": c.value("p") * c.value("dp")},
            ("p * (dp - row)", "p * dp")),
    Mistake("only the diagonal of the Jacobian",
            "p(1 − p) is only ∂pᵢ/∂xᵢ; the off-diagonal −pᵢpⱼ terms matter too. Together: "
            "dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ).",
            lambda c: {"dx": c.value("dp") * c.value("p") * (1 - c.value("p"))},
            ("p * (dp - row)", "dp * p * (1 - p)")),
    Mistake("Σ over the wrong axis",
            "the sum Σⱼ dpⱼ pⱼ runs over one row (the keys, the last axis), like the softmax itself.",
            lambda c: {"dx": c.value("p") * (c.value("dp") - _row_sum(c.value("dp") * c.value("p"), -2))},
            ("(dp * p).sum(axis=-1, keepdims=True)", "(dp * p).sum(axis=-2, keepdims=True)")),
    Mistake("the final ⊙ p left out",
            "after subtracting the row's Σ, multiply by p: dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ).",
            lambda c: {"dx": c.value("dp") - _row_sum(c.value("dp") * c.value("p"))},
            ("return p * (dp - row)", "return dp - row")),
)

DERIVE = Derive(
    text=(
        "Write softmax over the last axis, as attention applies it to each row of scores, and work "
        "its backward out yourself. Forward: p = exp(x − max) / Σ exp(x − max); subtracting each "
        "row's maximum keeps exp from overflowing (the second input set has scores in the hundreds: "
        "without it you get inf / inf = NaN), and a masked −inf becomes exactly 0. Backward: from "
        "dp, the gradient at p, find dx, the gradient at x. x, p, dp and dx are all (B, nh, T, T)."
    ),
    rungs=(
        Rung(("p",), (
            "The forward is in the docstring: the max and the Σ are along the last axis, one number "
            "per row, kept as (B, nh, T, 1) with keepdims=True so they broadcast back over the row.",
            "e = np.exp(x - x.max(axis=-1, keepdims=True)); p = e / e.sum(axis=-1, keepdims=True). "
            "A −inf score gives exp(−inf) = 0: the mask needs no special case.",
        )),
        Rung(("dx",), (
            "Each pᵢ of a row depends on every xⱼ of that row, through the shared Σ. So "
            "dxⱼ = Σᵢ dpᵢ · ∂pᵢ/∂xⱼ: you need the whole row-by-row Jacobian, not only its diagonal.",
            "Differentiate pᵢ = e^{xᵢ} / S with S = Σₖ e^{xₖ}: the numerator gives pᵢ when i = j, "
            "the denominator gives −pᵢ·pⱼ for every i. So ∂pᵢ/∂xⱼ = pᵢ·[i = j] − pᵢ·pⱼ.",
            "Sum it against dp: dxⱼ = pⱼ·dpⱼ − pⱼ·Σᵢ dpᵢ·pᵢ. The Σ is one number per row, the "
            "same for every j of it.",
            "dx = p * (dp − (dp * p).sum(axis=-1, keepdims=True)). Where the mask hid a key, p is 0, "
            "and so is dx.",
        )),
    ),
)

EXERCISE = Exercise(
    name="softmax",
    title="a stable softmax and its backward",
    step="softmax",
    function="softmax_backward",
    phase="forward",
    text=(
        "Write softmax over the last axis, as attention applies it to each row of scores, and its "
        "backward. Forward: p = exp(x − max) / Σ exp(x − max); subtracting each row's maximum keeps "
        "exp from overflowing (the second input set has scores in the hundreds: without it you get "
        "inf / inf = NaN), and a masked −inf becomes exactly 0. Backward: the Jacobian of one row "
        "is diag(p) − p pᵀ, which applied to dp gives dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ). x, p, dp and dx "
        "are all (B, nh, T, T)."
    ),
    hints=(
        "Shapes: everything is (B, nh, T, T). The row max and the row sums are (B, nh, T, 1) with "
        "keepdims=True, so they broadcast back over the row; without keepdims they are (B, nh, T) "
        "and line up with the wrong axis.",
        "Formulas: p = e / Σ e with e = exp(x − max over the row); dx = p ⊙ (dp − Σ_row dp ⊙ p).",
        "Near-code: e = np.exp(x - x.max(axis=-1, keepdims=True)); return e / e.sum(axis=-1, "
        "keepdims=True)  and  row = (dp * p).sum(axis=-1, keepdims=True); return p * (dp - row)",
    ),
    mistakes=MISTAKES,
    cases=cases,
    gradcheck=GradCheck("softmax_forward", (("x", "dx"),), upstream="dp"),
    derive=DERIVE,
)
