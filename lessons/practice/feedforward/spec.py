"""feedforward: the digit net's forward pass on a mini-batch of columns."""

from __future__ import annotations

from lessons.practice.digit_net import digit_runs
from lessons.practice.exercise import Call, Case, Exercise, Mistake


def cases() -> list[Case]:
    out = []
    for run in digit_runs():
        expected = run.records("forward", r"[za]\d+")  # z2, a2, z3, a3, ... in forward order
        L = len(run.weights) + 1
        out.append(Case(dims=run.dims,
                        calls=[Call("feedforward", {"a": run.x, "weights": run.weights,
                                                    "biases": run.biases}, f"a{L}")],
                        expected=expected, values=run.values()))
    return out


EXERCISE = Exercise(
    name="feedforward",
    title="feedforward on a mini-batch",
    step="layer3",
    function="feedforward",
    phase="forward",
    text=(
        "Run the network forward. The input a is a mini-batch of m images as columns, (n1, m). "
        "weights[0] is w2 (n2, n1), stored (out, in); biases[0] is b2 (n2, 1). For each layer "
        "l = 2 … L: zˡ = wˡ aˡ⁻¹ + bˡ, then aˡ = σ(zˡ). Hand in every z and a with show() and "
        "return the output aᴸ, (nL, m)."
    ),
    hints=(
        "Shapes: w2 (n2, n1) @ a1 (n1, m) is (n2, m); b2 (n2, 1) is added to each of the m "
        "columns by broadcasting, so z2 and a2 are (n2, m). Every layer repeats this one layer on.",
        "Formula: for each (w, b) pair in order, z = w a + b (a matrix product, then the bias) "
        "and a = σ(z); the a of one layer is the input of the next.",
        "Near-code: for l, (w, b) in enumerate(zip(weights, biases), start=2): "
        "z = show(f\"z{l}\", w @ a + b); a = show(f\"a{l}\", sigmoid(z))",
    ),
    mistakes=(
        Mistake("bias left out",
                "z = w a + b: after the product, add the layer's bias column b.",
                lambda case: {"z2": case.value("w2") @ case.value("x")},
                ("w @ a + b", "w @ a")),
        Mistake("z used where a belongs",
                "the next layer reads the activation a = σ(z), not z: apply σ before handing a on.",
                lambda case: {"a2": case.value("z2")},
                ('show(f"a{l}", sigmoid(z))', 'show(f"a{l}", z)')),
        Mistake("e^z instead of e^−z",
                "σ(z) = 1 / (1 + e⁻ᶻ): with +z you get 1 − σ(z).",
                lambda case: {"a2": 1 - case.value("a2")},
                ("np.exp(-z)", "np.exp(z)")),
    ),
    cases=cases,
)
