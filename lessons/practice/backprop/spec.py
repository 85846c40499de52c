"""backprop: ∇b and ∇w of a mini-batch, every δ graded, in backward order."""

from __future__ import annotations

from engine.digits.network import sigmoid_prime
from lessons.practice.digit_net import digit_runs, output_delta, output_layer
from lessons.practice.exercise import Call, Case, Derive, Exercise, Mistake, Rung


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


def _role(name: str, dims: dict[str, int]) -> str:
    """delta{L} is the output layer's error, every other delta a hidden layer's: L is the number
    of layer sizes n1 … nL in the set's dims (3 in the first set, 4 in the second)."""
    L = sum(1 for d in dims if d.startswith("n"))
    if name.startswith("delta"):
        return "delta_out" if name == f"delta{L}" else "delta_hidden"
    return name.rstrip("0123456789")  # nabla_b3 -> nabla_b


DERIVE = Derive(
    text=(
        "Write backprop for a mini-batch of m columns with the quadratic cost, the engine's "
        "backprop_batch, and work its formulas out yourself. The forward: zˡ = wˡ aˡ⁻¹ + bˡ, "
        "aˡ = σ(zˡ); the cost C sums Cₓ = ½‖aᴸ − y‖² over the m images. Find the error of each "
        "layer, δˡ = ∂C/∂zˡ (nl, m), from the top down, and from it nabla_bˡ (nl, 1) and nabla_wˡ "
        "(nl, nl−1), shaped like bˡ and wˡ. Hand in every δ, nabla_b and nabla_w with show() and "
        "return (nabla_b, nabla_w)."
    ),
    rungs=(
        Rung(("delta_out",), (
            "Start at the top. In image x's cost Cₓ = ½ Σⱼ (aⱼᴸ − yⱼ)², zⱼᴸ reaches Cₓ only through "
            "its own aⱼᴸ = σ(zⱼᴸ). The chain rule: ∂Cₓ/∂zⱼᴸ = ∂Cₓ/∂aⱼᴸ · ∂aⱼᴸ/∂zⱼᴸ.",
            "∂Cₓ/∂aⱼᴸ = aⱼᴸ − yⱼ (the ½ cancels the square's 2), and ∂aⱼᴸ/∂zⱼᴸ = σ′(zⱼᴸ): the slope "
            "of σ at z, so keep every z of the forward.",
            "δᴸ = (aᴸ − y) ⊙ σ′(zᴸ), entry by entry, every column at once.",
        )),
        Rung(("nabla_b",), (
            "zˡ = wˡ aˡ⁻¹ + bˡ: when bⱼˡ moves, zⱼˡ of every image moves by as much. And C adds the "
            "images' costs.",
            "So image x's ∂Cₓ/∂bⱼˡ is δⱼˡ in column x, and ∂C/∂bⱼˡ adds the m columns.",
            "nabla_bˡ = δˡ summed over axis 1 with keepdims=True: (nl, 1), like bˡ.",
        )),
        Rung(("nabla_w",), (
            "zⱼˡ = Σₖ wⱼₖˡ aₖˡ⁻¹ + bⱼˡ: when wⱼₖˡ moves, zⱼˡ of image x moves by aₖˡ⁻¹ of that image.",
            "∂C/∂wⱼₖˡ = Σₓ δⱼˡ(x) · aₖˡ⁻¹(x): for each pair (j, k), a sum over the m images of the "
            "error at j times the activation at k.",
            "That sum is a matrix product: nabla_wˡ = δˡ @ (aˡ⁻¹)ᵀ, (nl, m) @ (m, nl−1), shaped like wˡ.",
        )),
        Rung(("delta_hidden",), (
            "One layer down: zₖˡ reaches the cost only through aₖˡ = σ(zₖˡ), but aₖˡ feeds every "
            "zⱼˡ⁺¹ = Σₖ wⱼₖˡ⁺¹ aₖˡ + bⱼˡ⁺¹ of the layer above. So δₖˡ adds a term for each j.",
            "δₖˡ = (Σⱼ wⱼₖˡ⁺¹ δⱼˡ⁺¹) · σ′(zₖˡ). The Σⱼ runs down a column of wˡ⁺¹: it is a product "
            "with its transpose.",
            "δˡ = ((wˡ⁺¹)ᵀ @ δˡ⁺¹) ⊙ σ′(zˡ), for l = L−1 down to 2 in a loop (weights[l − 1] is wˡ⁺¹, "
            "weights[l − 2] is wˡ).",
        )),
    ),
    role=_role,
)


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
    derive=DERIVE,
)
