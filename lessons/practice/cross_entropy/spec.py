"""cross_entropy: the loss and its gradient at the logits, graded against the engine."""

from __future__ import annotations

import numpy as np

from engine.gpt.loss import cross_entropy_backward, cross_entropy_forward
from engine.layers import softmax_forward
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, GradCheck, Mistake, Rung
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("N", "V")):
        rng = rng_for("cross_entropy", i)
        N, V = dims["N"], dims["V"]
        logits = rng.standard_normal((N, V)) * 2.0
        targets = rng.integers(0, V, N)
        tracer = Tracer(dims=dims)
        _, probs = cross_entropy_forward(logits, targets, tracer=tracer)
        cross_entropy_backward(probs, targets, tracer=tracer)
        calls = [Call("cross_entropy_forward", {"logits": logits, "targets": targets}, ["loss", "probs"]),
                 Call("cross_entropy_backward", {"probs": probs.copy(), "targets": targets}, "dlogits")]
        out.append(traced_case(tracer, calls, ["probs", "loss", "dlogits"],
                               {"logits": logits, "targets": targets}))
    return out


def _picked(c):
    return c.value("probs")[np.arange(c.dims["N"]), c.value("targets")]


MISTAKES = (
    Mistake("softmax over the wrong axis",
            "each position's V scores become its probabilities: the max and the sum run along a "
            "row (axis=1), over the vocabulary, not down the N positions.",
            lambda c: {"probs": softmax_forward(c.value("logits").T).T},
            ("logits.max(axis=1, keepdims=True)  # (N, V), each row's largest is 0\n"
             "    e = np.exp(z)\n"
             '    probs = show("probs", e / e.sum(axis=1, keepdims=True))',
             "logits.max(axis=0, keepdims=True)  # (N, V), each row's largest is 0\n"
             "    e = np.exp(z)\n"
             '    probs = show("probs", e / e.sum(axis=0, keepdims=True))')),
    Mistake("whole columns picked",
            "probs[:, targets] takes N whole columns, an (N, N) block. Each row needs its own "
            "target: probs[np.arange(N), targets], N numbers.",
            lambda c: {"loss": np.asarray(-np.log(c.value("probs")[:, c.value("targets")]).mean())},
            ("probs[np.arange(N), targets]", "probs[:, targets]")),
    Mistake("log left out",
            "the loss is the mean of −log p(target): −p alone is not a cross-entropy, and its "
            "gradient is not probs − onehot.",
            lambda c: {"loss": np.asarray(-_picked(c).mean())},
            ("-np.log(probs[np.arange(N), targets]).mean()", "-probs[np.arange(N), targets].mean()")),
    Mistake("sum where a mean belongs",
            "the loss is the mean over the N positions, so it does not grow with the batch.",
            lambda c: {"loss": np.asarray(-np.log(_picked(c)).sum())},
            ("targets]).mean()", "targets]).sum()")),
    Mistake("dlogits not divided by N",
            "the loss is a mean over N positions, so each position's gradient carries a 1/N.",
            lambda c: {"dlogits": c.value("dlogits") * c.dims["N"]},
            ("return dlogits / N", "return dlogits")),
    Mistake("divided by V instead of N",
            "the 1/N comes from averaging over the N positions (rows), not over the V tokens.",
            lambda c: {"dlogits": c.value("dlogits") * c.dims["N"] / c.dims["V"]},
            ("return dlogits / N", "return dlogits / probs.shape[1]")),
    Mistake("one-hot not subtracted",
            "softmax and cross-entropy together give probs − onehot(targets): subtract 1 at each "
            "row's target.",
            lambda c: {"dlogits": c.value("probs") / c.dims["N"]},
            ("    dlogits[np.arange(N), targets] -= 1.0\n", "")),
    Mistake("1 subtracted everywhere",
            "only the target's entry of each row loses 1: dlogits[np.arange(N), targets] -= 1.",
            lambda c: {"dlogits": (c.value("probs") - 1.0) / c.dims["N"]},
            ("dlogits[np.arange(N), targets] -= 1.0", "dlogits -= 1.0")),
)

DERIVE = Derive(
    text=(
        "Write the loss at the top of the GPT, and work its gradient out yourself. The logits are "
        "flattened to (N, V), one row per position. Softmax each row into probabilities (subtract "
        "the row's max first), pick each row's probability of its target, and average −log of those "
        "N numbers. The backward gives dlogits (N, V), the gradient of that mean at the logits."
    ),
    rungs=(
        Rung(("probs", "loss"), (
            "The forward is in the docstring. Softmax along axis=-1 with keepdims=True; "
            "probs[np.arange(N), targets] picks one probability per row, (N,).",
            "loss = -np.log(probs[np.arange(N), targets]).mean(), a single number.",
        )),
        Rung(("dlogits",), (
            "loss = (1/N) Σₙ −log pₙ,ₜ with t = targets[n]. Row n of the logits reaches only its own "
            "term. In that term, go back through −log first: d(−log p)/dp = −1/p.",
            "Then through softmax: ∂pₜ/∂zⱼ = pₜ·([j = t] − pⱼ). Multiply by −1/pₜ: the pₜ cancels.",
            "What is left for row n is pⱼ − [j = t]: the row's probabilities with 1 taken off at "
            "the target. The mean over N rows divides every row by N.",
            "dlogits = probs.copy(); dlogits[np.arange(N), targets] -= 1; dlogits /= N.",
        )),
    ),
)


EXERCISE = Exercise(
    name="cross_entropy",
    title="cross-entropy loss and dlogits",
    step="loss",
    function="cross_entropy_backward",
    phase="forward",
    text=(
        "Write the loss at the top of the GPT and its gradient. The logits are flattened to "
        "(N, V), one row per position. Softmax each row into probabilities (subtract the row's max "
        "first), pick each row's probability of its target, and average −log of those N numbers. "
        "The backward of softmax and cross-entropy together is short: dlogits = (probs − "
        "onehot(targets)) / N, the /N because the loss is a mean."
    ),
    hints=(
        "Shapes: logits and probs are (N, V); probs[np.arange(N), targets] picks one entry per row, "
        "(N,); the loss is a single number, shape (). dlogits is (N, V), like logits.",
        "Formulas: probs = exp(z) / Σ_row exp(z) with z = logits − max_row; loss = −(1/N) Σₙ log "
        "probs[n, targets[n]]; dlogits = (probs − onehot) / N.",
        "Near-code: z = logits - logits.max(axis=1, keepdims=True); e = np.exp(z); probs = e / "
        "e.sum(axis=1, keepdims=True); loss = -np.log(probs[np.arange(N), targets]).mean()  and  "
        "d = probs.copy(); d[np.arange(N), targets] -= 1; return d / N",
    ),
    mistakes=MISTAKES,
    cases=cases,
    gradcheck=GradCheck("cross_entropy_forward", (("logits", "dlogits"),), output=0),
    derive=DERIVE,
)
