"""adamw: one AdamW step on one weight, graded against engine.optim.adamw_update."""

from __future__ import annotations

import numpy as np

from engine.optim import adamw_update
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, Mistake, Rung
from lessons.practice.gpt_inputs import rng_for, traced_case

# (n_in, n_out), step t, ε: a big ε first so where it sits shows, then the engine's default
SETS = (({"n_in": 5, "n_out": 7}, 3, 1e-3), ({"n_in": 9, "n_out": 4}, 10, 1e-8))
HYPER = {"lr": 0.05, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.1}


def cases() -> list[Case]:
    out = []
    for i, (dims, t, eps) in enumerate(SETS):
        rng = rng_for("adamw", i)
        shape = (dims["n_in"], dims["n_out"])
        p, g = rng.standard_normal(shape), rng.standard_normal(shape)
        m, v = 0.1 * rng.standard_normal(shape), 0.05 * rng.random(shape)  # earlier steps' moments
        # in the order of the signature: the learner's function is called with them positionally
        args = {"p": p, "g": g, "m": m, "v": v, "t": t, "lr": HYPER["lr"], "beta1": HYPER["beta1"],
                "beta2": HYPER["beta2"], "eps": eps, "weight_decay": HYPER["weight_decay"]}
        tracer = Tracer(dims=dict(dims))
        adamw_update(p.copy(), g, m.copy(), v.copy(), t, HYPER["lr"], HYPER["beta1"], HYPER["beta2"],
                     eps, HYPER["weight_decay"], tracer=tracer)  # in place: the copies change
        out.append(traced_case(tracer, [Call("adamw_update", args, ["p", "m", "v"])],
                               ["m", "v", "update", "p"], {f"{k}0": a for k, a in args.items()}))
    return out


def _step(c, m, v):
    """lr · m / (√v + ε) for moments the mistake got (or left) wrong."""
    return c.value("lr0") * m / (np.sqrt(v) + c.value("eps0"))


def _corrected(c):
    t = c.value("t0")
    return c.value("m") / (1 - c.value("beta10") ** t), c.value("v") / (1 - c.value("beta20") ** t)


def _decayed(c, factor):
    return c.value("p0") * factor - c.value("update")


MISTAKES = (
    Mistake("weight decay in the gradient (L2, not AdamW)",
            "AdamW shrinks p directly, p · (1 − lr·λ), and keeps λ out of the moments. Adding λ·p "
            "to g is Adam with L2, which the moments then rescale.",
            lambda c: {"m": c.value("beta10") * c.value("m0") + (1 - c.value("beta10"))
                       * (c.value("g0") + c.value("weight_decay0") * c.value("p0"))},
            ("p = p * (1 - lr * weight_decay)", "g = g + weight_decay * p")),
    Mistake("β₁ and β₂ swapped",
            "m, the mean of g, forgets with β₁ = 0.9; v, the mean of g², with β₂ = 0.99.",
            lambda c: {"m": c.value("beta20") * c.value("m0") + (1 - c.value("beta20")) * c.value("g0")},
            ("beta1 * m + (1 - beta1) * g", "beta2 * m + (1 - beta2) * g")),
    Mistake("g where g² belongs",
            "v tracks the squared gradient, g ⊙ g: its root is the scale each entry's step is divided by.",
            lambda c: {"v": c.value("beta20") * c.value("v0") + (1 - c.value("beta20")) * c.value("g0")},
            ("(1 - beta2) * g * g", "(1 - beta2) * g")),
    Mistake("no bias correction",
            "m and v start at zero, so early on they are too small; divide them by (1 − β₁ᵗ) and "
            "(1 − β₂ᵗ) before the step.",
            lambda c: {"update": _step(c, c.value("m"), c.value("v"))},
            ("m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)", "m_hat = m\n    v_hat = v")),
    Mistake("ε inside the square root",
            "Adam adds ε after the root: lr · m̂ / (√v̂ + ε).",
            lambda c: {"update": c.value("lr0") * _corrected(c)[0]
                       / np.sqrt(_corrected(c)[1] + c.value("eps0"))},
            ("np.sqrt(v_hat) + eps", "np.sqrt(v_hat + eps)")),
    Mistake("decay without lr",
            "the decay is scaled by the learning rate too: p · (1 − lr·λ), so it fades with the "
            "schedule.",
            lambda c: {"p": _decayed(c, 1 - c.value("weight_decay0"))},
            ("p * (1 - lr * weight_decay)", "p * (1 - weight_decay)")),
    Mistake("update added",
            "a step goes against the gradient: p − update.",
            lambda c: {"p": _decayed(c, 1 - c.value("lr0") * c.value("weight_decay0"))
                       + 2 * c.value("update")},
            ("return p - update", "return p + update")),
)

DERIVE = Derive(
    text=(
        "kqv's GPT learns with AdamW, not the digit net's plain w − η·∇w. Write one step for one "
        "weight, working each line out from what it is for. Adam keeps two running means per entry, "
        "m of the gradient and v of its square, both started at 0 and corrected for it; each entry "
        "steps by its corrected mean over the root of its corrected mean square, so every entry "
        "moves by about lr whatever its gradient's scale. AdamW's weight decay shrinks p first, "
        "apart from the gradient."
    ),
    rungs=(
        Rung(("m", "v"), (
            "A running mean that keeps β₁ of its old value must take the other 1 − β₁ from the new "
            "g, so the weights add up to 1. v is the same with β₂, and the thing averaged is g "
            "squared, entry by entry. Nothing else goes into them: the decay is not part of g.",
            "m ← β₁·m + (1 − β₁)·g and v ← β₂·v + (1 − β₂)·g⊙g.",
        )),
        Rung(("update",), (
            "Started at 0, after t steps of a constant g the running mean is (1 − β₁ᵗ)·g, not g: "
            "it has gathered only that much of its weight. The correction divides that factor out; "
            "the same for v with β₂.",
            "m̂ = m / (1 − β₁ᵗ) and v̂ = v / (1 − β₂ᵗ). The step is the mean gradient over its typical "
            "size, √v̂, with ε added after the root so a zero v̂ divides by ε, not by 0.",
            "update = lr * m_hat / (np.sqrt(v_hat) + eps).",
        )),
        Rung(("p",), (
            "Two moves on p: the decay, then the step. The decay does not go through g (putting λ·p "
            "into g is Adam with L2, which m and v would then rescale); it shrinks p itself by a "
            "fraction lr·λ. The step goes against the gradient.",
            "p ← p·(1 − lr·weight_decay) before the moments, and p ← p − update at the end.",
        )),
    ),
)


EXERCISE = Exercise(
    name="adamw",
    title="one AdamW step",
    step="adamw",
    function="adamw_update",
    phase="forward",
    text=(
        "kqv's GPT learns with AdamW, not the digit net's plain w − η·∇w. Write one step for one "
        "weight. Adam keeps two running means per entry, m of the gradient and v of its square; "
        "each step moves p by lr · m̂ / (√v̂ + ε), so every entry gets a step of about lr whatever its "
        "gradient's scale. m̂ and v̂ undo the bias of starting m and v at zero. AdamW's weight decay "
        "shrinks p by lr·λ first, apart from the gradient (the engine decays 2-D weights only)."
    ),
    hints=(
        "Shapes: p, g, m, v, m̂, v̂ and update are all (n_in, n_out): everything is entry by entry, "
        "no matrix product, no sum. t, lr, β₁, β₂, ε, λ are plain numbers.",
        "Formulas: p ← p(1 − lr·λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; "
        "update = lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε); p ← p − update.",
        "Near-code: p = p * (1 - lr * weight_decay); m = beta1 * m + (1 - beta1) * g; "
        "v = beta2 * v + (1 - beta2) * g * g; update = lr * (m / (1 - beta1**t)) / "
        "(np.sqrt(v / (1 - beta2**t)) + eps); return p - update, m, v",
    ),
    mistakes=MISTAKES,
    cases=cases,
    derive=DERIVE,
)
