"""The quadratic cost and the output error δᴸ it gives (network2's QuadraticCost)."""

from __future__ import annotations

from engine.digits.network import sigmoid_prime
from lessons.practice.digit_net import output_delta, output_error_cases
from lessons.practice.exercise import Derive, Exercise, Mistake, Rung

DERIVE = Derive(
    text=(
        "Write the quadratic cost and work its output error out yourself, as network2's "
        "QuadraticCost has them. fn(a, y) is the cost of the mini-batch: ½‖y − a‖² for each of the "
        "m columns, averaged over the m images, one number, shape (). delta(z, a, y) is "
        "δᴸ = ∂Cₓ/∂zᴸ for each image, with aᴸ = σ(zᴸ): shaped like zᴸ, (nL, m)."
    ),
    rungs=(
        Rung(("C",), (
            "½‖y − a‖² is half the sum of one column's squared differences; the cost averages that "
            "over the m columns. One number: sum over both axes, then divide by m.",
            "return 0.5 * np.sum((a - y) ** 2) / a.shape[1]",
        )),
        Rung(("delta3", "delta4"), (
            "zⱼᴸ reaches Cₓ only through its own aⱼᴸ = σ(zⱼᴸ), so the chain rule has two factors: "
            "∂Cₓ/∂aⱼᴸ times ∂aⱼᴸ/∂zⱼᴸ.",
            "∂Cₓ/∂aⱼ = aⱼ − yⱼ (the ½ cancels the square's 2), and ∂aⱼ/∂zⱼ = σ′(zⱼ): the slope of σ at "
            "z, not at a (sigmoid_prime is given above).",
            "δᴸ = (a − y) ⊙ σ′(z): return (a - y) * sigmoid_prime(z).",
        )),
    ),
)


EXERCISE = Exercise(
    name="quadratic_cost",
    title="the quadratic cost and δᴸ",
    step="output-error",
    function="delta",
    phase="forward",
    text=(
        "Write the quadratic cost and its output error, as network2's QuadraticCost does. "
        "fn(a, y) is the cost of the mini-batch: ½‖y − a‖² for each of the m columns, averaged "
        "over the m images, one number, shape (). delta(z, a, y) is δᴸ = ∂Cₓ/∂zᴸ for each "
        "image: (a − y) ⊙ σ′(zᴸ), shaped like zᴸ, (nL, m)."
    ),
    hints=(
        "Shapes: a, y and z are all (nL, m). C is a single number (shape ()), so fn sums over "
        "both axes and divides by m = a.shape[1]. δᴸ keeps the shape (nL, m): no sum in it.",
        "Formulas: C = (1/m) Σ ½ (a − y)², summed over every entry; δᴸ = (a − y) ⊙ σ′(z), an "
        "element-by-element product with the slope of σ at z (not at a).",
        "Near-code: return 0.5 * np.sum((a - y) ** 2) / a.shape[1]  and  "
        "return (a - y) * sigmoid_prime(z)",
    ),
    mistakes=(
        Mistake("sum where the mean belongs",
                "C is averaged over the m images of the mini-batch: divide the sum by m.",
                lambda case: {"C": case.value("C") * case.dims["m"]},
                (" / a.shape[1]", "")),
        Mistake("½ left out",
                "the quadratic cost is ½‖y − a‖²: the ½ makes its derivative exactly a − y.",
                lambda case: {"C": 2 * case.value("C")},
                ("0.5 * np.sum", "np.sum")),
        Mistake("no σ′",
                "for the quadratic cost δᴸ = (a − y) ⊙ σ′(zᴸ): the σ′ only cancels for cross-entropy.",
                lambda case: {output_delta(case): case.value("aL") - case.value("y")},
                ("(a - y) * sigmoid_prime(z)", "(a - y)")),
        Mistake("a used where z belongs",
                "σ′ is the slope of σ at z, the neuron's input; σ′(a) is the slope somewhere else.",
                lambda case: {output_delta(case): (case.value("aL") - case.value("y"))
                              * sigmoid_prime(case.value("aL"))},
                ("* sigmoid_prime(z)", "* sigmoid_prime(a)")),
        Mistake("y − a instead of a − y",
                "∂C/∂a = a − y (output minus wanted): with y − a every step would climb the cost.",
                lambda case: {output_delta(case): (case.value("y") - case.value("aL"))
                              * sigmoid_prime(case.value("zL"))},
                ("return (a - y) *", "return (y - a) *")),
    ),
    cases=lambda: output_error_cases("quadratic"),
    derive=DERIVE,
)
