"""The cross-entropy cost for sigmoid outputs and its δᴸ = a − y (network2's CrossEntropyCost)."""

from __future__ import annotations

import numpy as np

from engine.digits.network import sigmoid_prime
from lessons.practice.digit_net import output_delta, output_error_cases
from lessons.practice.exercise import Derive, Exercise, Mistake, Rung

DERIVE = Derive(
    text=(
        "Write the cross-entropy cost for sigmoid outputs and work its output error out yourself, "
        "as network2's CrossEntropyCost has them (`kqv train digits --cost cross-entropy`). "
        "fn(a, y) = −Σ[y ln a + (1 − y) ln(1 − a)] over the outputs of each image, averaged over "
        "the m images: shape (). delta(z, a, y) is δᴸ = ∂Cₓ/∂zᴸ for each image, with aᴸ = σ(zᴸ), "
        "shaped like zᴸ, (nL, m). Work it out: it has a surprise in it."
    ),
    rungs=(
        Rung(("C",), (
            "The bracket is summed over every output of every image, then divided by the m images; "
            "mind the minus in front: C is positive.",
            "return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / a.shape[1]",
        )),
        Rung(("delta3", "delta4"), (
            "The chain rule as for the quadratic cost, ∂Cₓ/∂aⱼ · ∂aⱼ/∂zⱼ, with this cost's "
            "∂Cₓ/∂aⱼ: differentiate −[y ln a + (1 − y) ln(1 − a)] with respect to a.",
            "∂Cₓ/∂aⱼ = −y/a + (1 − y)/(1 − a) = (a − y) / (a(1 − a)). Now multiply by σ′(z), and "
            "write σ′(z) with a.",
            "σ′(z) = σ(z)(1 − σ(z)) = a(1 − a), which cancels the denominator: δᴸ = a − y, with no σ′ "
            "left, so a saturated output neuron still learns fast. return a - y",
        )),
    ),
)


EXERCISE = Exercise(
    name="cross_entropy_cost",
    title="the cross-entropy cost and δᴸ",
    step="train",
    function="delta",
    phase="forward",
    text=(
        "Write the cross-entropy cost for sigmoid outputs, as network2's CrossEntropyCost does "
        "(`kqv train digits --cost cross-entropy`). fn(a, y) = −Σ[y ln a + (1 − y) ln(1 − a)] "
        "over the outputs of each image, averaged over the m images: shape (). Its output "
        "error is δᴸ = a − y, shaped like zᴸ, (nL, m): the σ′(zᴸ) of the quadratic cost "
        "cancels, so a saturated output neuron still learns fast."
    ),
    hints=(
        "Shapes: a and y are (nL, m); C is one number, shape (): sum over both axes, then "
        "divide by m = a.shape[1]. δᴸ is (nL, m), no sum.",
        "Formulas: C = −(1/m) Σ [y ln a + (1 − y) ln(1 − a)]; δᴸ = a − y (work out ∂C/∂a "
        "times σ′(z) = a(1 − a): the a(1 − a) cancels).",
        "Near-code: return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)) / a.shape[1]  and  "
        "return a - y",
    ),
    mistakes=(
        Mistake("sum where the mean belongs",
                "C is averaged over the m images of the mini-batch: divide the sum by m.",
                lambda case: {"C": case.value("C") * case.dims["m"]},
                (" / a.shape[1]", "")),
        Mistake("(1 − y) ln(1 − a) left out",
                "for sigmoid outputs each output neuron is its own yes/no question: the cost "
                "also punishes a large a where y is 0, through (1 − y) ln(1 − a).",
                lambda case: {"C": -np.sum(case.value("y") * np.log(case.value("aL"))) / case.dims["m"]},
                (" + (1 - y) * np.log(1 - a)", "")),
        Mistake("σ′ kept",
                "with the cross-entropy cost the σ′(zᴸ) cancels: δᴸ = a − y, nothing more.",
                lambda case: {output_delta(case): (case.value("aL") - case.value("y"))
                              * sigmoid_prime(case.value("zL"))},
                ("return a - y", "return (a - y) * a * (1 - a)")),
        Mistake("y − a instead of a − y",
                "δᴸ = ∂Cₓ/∂zᴸ = a − y (output minus wanted): with y − a every step would climb the cost.",
                lambda case: {output_delta(case): case.value("y") - case.value("aL")},
                ("return a - y", "return y - a")),
    ),
    cases=lambda: output_error_cases("cross-entropy"),
    derive=DERIVE,
)
