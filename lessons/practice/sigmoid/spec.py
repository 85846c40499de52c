"""σ and σ′: the neuron's squashing function and its slope, element by element."""

from __future__ import annotations

import numpy as np

from engine.digits.network import sigmoid, sigmoid_prime
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, Mistake, Rung

SHAPES = ((5, 4), (6, 3))  # (n, m): odd and different, so a transpose shows


def cases() -> list[Case]:
    out = []
    for i, (n, m) in enumerate(SHAPES):
        z = np.random.default_rng(30 + i).normal(0, 3, (n, m))  # far enough out that σ bends
        tracer = Tracer(dims={"n": n, "m": m})
        tracer.record("sigmoid(z)", sigmoid(z), "σ(z) = 1 / (1 + e⁻ᶻ)", "forward", ("n", "m"))
        tracer.record("sigmoid_prime(z)", sigmoid_prime(z), "σ′(z) = σ(z)(1 − σ(z))", "forward",
                      ("n", "m"))
        out.append(Case(dims=tracer.dims,
                        calls=[Call("sigmoid", {"z": z}, "sigmoid(z)"),
                               Call("sigmoid_prime", {"z": z}, "sigmoid_prime(z)")],
                        expected=list(tracer), values={"z": z}))
    return out


DERIVE = Derive(
    text=(
        "Write the sigmoid σ(z) = 1 / (1 + e⁻ᶻ), and work its derivative σ′(z) out yourself, "
        "written with σ(z). Both act on every entry of z on its own, so the result has the shape "
        "of z: z is (n, m) and so are σ(z) and σ′(z). Where is σ′ largest, and what does that say "
        "about a neuron far from 0?"
    ),
    rungs=(
        Rung(("sigmoid(z)",), (
            "No matrix product and no sum: numpy applies exp, + and / to every entry at once. "
            "Mind the sign in the exponent.",
            "return 1.0 / (1.0 + np.exp(-z))",
        )),
        Rung(("sigmoid_prime(z)",), (
            "Write σ(z) = (1 + e⁻ᶻ)⁻¹ and differentiate the power −1 with the chain rule; the "
            "inside, 1 + e⁻ᶻ, has derivative −e⁻ᶻ.",
            "σ′(z) = e⁻ᶻ / (1 + e⁻ᶻ)². Split it as 1/(1 + e⁻ᶻ) times e⁻ᶻ/(1 + e⁻ᶻ), and write the "
            "second factor with σ: it is 1 − σ(z).",
            "σ′(z) = σ(z)·(1 − σ(z)), at most ¼ (at z = 0): s = sigmoid(z); return s * (1 - s)",
        )),
    ),
)


EXERCISE = Exercise(
    name="sigmoid",
    title="σ and σ′",
    step="layer2",
    function="sigmoid_prime",
    phase="forward",
    text=(
        "Write the sigmoid σ(z) = 1 / (1 + e⁻ᶻ) and its derivative σ′(z) = σ(z)(1 − σ(z)). "
        "Both act on every entry of z on its own, so the result has the shape of z: "
        "z is (n, m) and so are σ(z) and σ′(z). σ′ is largest (¼) at z = 0 and nearly 0 far "
        "from it: that is why a saturated neuron learns slowly."
    ),
    hints=(
        "Shapes: σ(z) and σ′(z) are both shaped like z, (n, m). No matrix product, no sum: "
        "numpy applies exp, +, / to every entry at once.",
        "Formulas: σ(z) = 1 / (1 + e^(−z)); σ′(z) = σ(z)·(1 − σ(z)). Compute σ(z) once inside "
        "sigmoid_prime and reuse it.",
        "Near-code: return 1.0 / (1.0 + np.exp(-z))  and  s = sigmoid(z); return s * (1 - s)",
    ),
    mistakes=(
        Mistake("e^z instead of e^−z",
                "σ uses e to the power minus z: with +z you get 1 − σ(z), large where it "
                "should be small.",
                lambda case: {"sigmoid(z)": 1 - case.value("sigmoid(z)")},
                ("np.exp(-z)", "np.exp(z)")),
        Mistake("z where σ(z) belongs",
                "σ′ is σ(z)(1 − σ(z)), written with σ(z), not with z itself.",
                lambda case: {"sigmoid_prime(z)": case.value("z") * (1 - case.value("z"))},
                ("s * (1 - s)", "z * (1 - z)")),
        Mistake("1 + σ instead of 1 − σ",
                "the slope is σ(z) times (1 minus σ(z)): it falls to 0 as σ(z) nears 1.",
                lambda case: {"sigmoid_prime(z)": case.value("sigmoid(z)")
                              * (1 + case.value("sigmoid(z)"))},
                ("s * (1 - s)", "s * (1 + s)")),
    ),
    cases=cases,
    derive=DERIVE,
)
