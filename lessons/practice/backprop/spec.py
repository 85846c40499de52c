"""backprop: ∇b and ∇w of a mini-batch, every δ graded, in backward order."""

from __future__ import annotations

from engine.digits.network import sigmoid_prime
from lessons.practice.digit_net import digit_runs, output_delta, output_layer
from lessons.practice.exercise import Call, Case, Exercise, Mistake


def cases() -> list[Case]:
    out = []
    for run in digit_runs():
        L = len(run.weights) + 1
        layers = range(2, L + 1)
        returns = [[f"nabla_b{l}" for l in layers], [f"nabla_w{l}" for l in layers]]
        out.append(Case(dims=run.dims,
                        calls=[Call("backprop", {"x": run.x, "y": run.y, "weights": run.weights,
                                                 "biases": run.biases}, returns)],
                        expected=run.records("backward", r"delta\d+|nabla_[bw]\d+"),
                        values=run.values()))
    return out


def _hidden_layers(case: Case) -> range:
    """l = 2 … L−1: the layers whose δ is backpropagated."""
    return range(2, output_layer(case))


def _backpropagated(case: Case, slope_of: str) -> dict:
    """δˡ = (wˡ⁺¹)ᵀ δˡ⁺¹ ⊙ σ′(slope_of + l), or without σ′ when ``slope_of`` is empty."""
    out = {}
    for l in _hidden_layers(case):
        back = case.value(f"w{l + 1}").T @ case.value(f"delta{l + 1}")
        out[f"delta{l}"] = back * sigmoid_prime(case.value(f"{slope_of}{l}")) if slope_of else back
    return out


EXERCISE = Exercise(
    name="backprop",
    title="backprop on a mini-batch",
    step="grad2",
    function="backprop",
    phase="backward",
    text=(
        "Write backprop for a mini-batch of m columns with the quadratic cost, the engine's "
        "backprop_batch. Feedforward keeping every z and a; then δᴸ = (aᴸ − y) ⊙ σ′(zᴸ); then "
        "for l = L−1 … 2, δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ′(zˡ). Each layer's gradients: nabla_bˡ = δˡ "
        "summed over the m columns, (nl, 1), and nabla_wˡ = δˡ (aˡ⁻¹)ᵀ, (nl, nl−1), shaped "
        "like wˡ. Both are sums over the images (m times the gradient of the mean cost). Hand "
        "in every δ, nabla_b and nabla_w with show() and return (nabla_b, nabla_w)."
    ),
    hints=(
        "Shapes: every δˡ is shaped like zˡ, (nl, m); (w³)ᵀ is (n2, n3), so (w³)ᵀ @ δ³ is "
        "(n2, m). nabla_w² = δ² @ (a¹)ᵀ is (n2, m) @ (m, n1) = (n2, n1), like w². nabla_b² "
        "keeps a column: (n2, 1), so sum with keepdims=True.",
        "Formulas: δᴸ = (aᴸ − y) ⊙ σ′(zᴸ); δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ′(zˡ) going down; "
        "nabla_bˡ = Σ over columns of δˡ; nabla_wˡ = δˡ (aˡ⁻¹)ᵀ. weights[l - 2] is wˡ.",
        "Near-code: delta = (a - y) * sigmoid_prime(zs[-1]); for l in range(L, 1, -1): if l < L: "
        "delta = (weights[l - 1].T @ delta) * sigmoid_prime(zs[l - 2]); "
        "nabla_b[l - 2] = delta.sum(axis=1, keepdims=True); nabla_w[l - 2] = delta @ activations[l - 2].T",
    ),
    mistakes=(
        Mistake("mean where the engine sums",
                "nabla_b and nabla_w add up the m images' gradients (Nielsen's update then "
                "divides by m): sum δ over the columns, do not average it.",
                lambda case: {f"nabla_b{l}": case.value(f"nabla_b{l}") / case.dims["m"]
                              for l in range(2, output_layer(case) + 1)},
                ("delta.sum(axis=1, keepdims=True)", "delta.mean(axis=1, keepdims=True)")),
        Mistake("no σ′ at the output",
                "for the quadratic cost the output error is δᴸ = (aᴸ − y) ⊙ σ′(zᴸ): the σ′ only "
                "cancels for cross-entropy.",
                lambda case: {output_delta(case): case.value(f"a{output_layer(case)}") - case.value("y")},
                ("(a - y) * sigmoid_prime(zs[-1])", "(a - y)")),
        Mistake("σ′(a) at the output",
                "σ′ is the slope of σ at zᴸ, the output layer's weighted input; σ′(aᴸ) is the slope "
                "at another point: δᴸ = (aᴸ − y) ⊙ σ′(zᴸ).",
                lambda case: {output_delta(case): (case.value(f"a{output_layer(case)}") - case.value("y"))
                              * sigmoid_prime(case.value(f"a{output_layer(case)}"))},
                ("sigmoid_prime(zs[-1])", "sigmoid_prime(a)")),
        Mistake("σ′ left out going back",
                "going down a layer, the error passes back through the weights and then through "
                "σ′(zˡ) of that layer: δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ σ′(zˡ).",
                lambda case: _backpropagated(case, ""),
                (") * sigmoid_prime(zs[l - 2])", ")")),
        Mistake("a used where z belongs",
                "σ′ is the slope of σ at zˡ, the layer's weighted input; σ′(aˡ) is the slope "
                "at another point.",
                lambda case: _backpropagated(case, "a"),
                ("sigmoid_prime(zs[l - 2])", "sigmoid_prime(activations[l - 1])")),
    ),
    cases=cases,
)
