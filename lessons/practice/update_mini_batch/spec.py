"""update_mini_batch: one step of stochastic gradient descent with η/m."""

from __future__ import annotations

from lessons.practice.digit_net import ETA, digit_runs, output_layer
from lessons.practice.exercise import Call, Case, Derive, Exercise, Mistake, Rung


def cases() -> list[Case]:
    out = []
    for run in digit_runs(update=True):
        L = len(run.weights) + 1
        layers = range(2, L + 1)
        nabla_w = [run.tracer[f"nabla_w{l}"].value for l in layers]
        nabla_b = [run.tracer[f"nabla_b{l}"].value for l in layers]
        m = run.dims["m"]
        returns = [[f"w{l}" for l in layers], [f"b{l}" for l in layers]]
        values = {f"old_w{l}": w for l, w in zip(layers, run.weights, strict=True)}
        values.update({f"old_b{l}": b for l, b in zip(layers, run.biases, strict=True)})
        out.append(Case(dims=run.dims,
                        calls=[Call("update_mini_batch", {"weights": run.weights, "biases": run.biases,
                                                          "nabla_w": nabla_w, "nabla_b": nabla_b,
                                                          "eta": ETA, "m": m}, returns)],
                        expected=run.records("update", r"[wb]\d+"),  # w2, b2, w3, b3, ... after the step
                        values={**run.values(), **values}))
    return out


def _stepped(case: Case, step) -> dict:
    """Every new w and b as ``step(old, nabla)`` would make them."""
    out = {}
    for l in range(2, output_layer(case) + 1):
        for p in "wb":
            out[f"{p}{l}"] = step(case.value(f"old_{p}{l}"), case.value(f"nabla_{p}{l}"))
    return out


DERIVE = Derive(
    text=(
        "Take one step of gradient descent, and work its formula out yourself. backprop gave "
        "nabla_w and nabla_b, the gradients of the sum of the m images' costs. The step lowers the "
        "mean cost over the mini-batch: move every weight and bias against that mean cost's "
        "gradient, η times it. Return the new (weights, biases), shaped like the old ones."
    ),
    rungs=(
        Rung(("w2", "w3", "w4"), (
            "Gradient descent moves a weight against the gradient: downhill, by η times the slope "
            "of the cost it lowers. That cost is the mean over the m images, and nabla_w is the "
            "slope of their sum.",
            "The mean's gradient is the sum's divided by m: nabla_w / m. So each wˡ takes a step "
            "of η·nabla_wˡ/m, subtracted.",
            "wˡ − (η/m)·nabla_wˡ for each layer in order: "
            "[w - (eta / m) * nw for w, nw in zip(weights, nabla_w)].",
        )),
        Rung(("b2", "b3", "b4"), (
            "The biases step exactly as the weights do, each against its own gradient of the mean "
            "cost.",
            "bˡ − (η/m)·nabla_bˡ for each layer: the same list comprehension over biases and nabla_b.",
        )),
    ),
)


EXERCISE = Exercise(
    name="update_mini_batch",
    title="update_mini_batch: the SGD step",
    step="update",
    function="update_mini_batch",
    phase="forward",
    text=(
        "Take one step of gradient descent. backprop gave nabla_w and nabla_b, the gradients "
        "summed over the m images of the mini-batch; dividing by m makes them the gradient of "
        "the mean cost. Move every weight and bias a little against it: "
        "w ← w − (η/m)·nabla_w and b ← b − (η/m)·nabla_b, for every layer. Return the new "
        "(weights, biases), shaped like the old ones."
    ),
    hints=(
        "Shapes: each nabla_wˡ is shaped like wˡ (nl, nl−1) and each nabla_bˡ like bˡ (nl, 1), "
        "so the step is element by element: no @, no transpose, no sum.",
        "Formula: wˡ − (η/m)·nabla_wˡ and bˡ − (η/m)·nabla_bˡ, for each pair in order. η/m "
        "because nabla is a sum over m images: the step is η times their average gradient.",
        "Near-code: weights = [w - (eta / m) * nw for w, nw in zip(weights, nabla_w)]; the "
        "same for the biases; return weights, biases",
    ),
    mistakes=(
        Mistake("η instead of η/m",
                "nabla_w is summed over the m images: divide the step by m, (η/m)·nabla_w, or a "
                "bigger mini-batch takes a bigger step.",
                lambda case: _stepped(case, lambda old, nabla: old - ETA * nabla),
                ("(eta / m) * nw", "eta * nw")),
        Mistake("+ instead of −",
                "the gradient points uphill, where the cost grows: step against it, w − (η/m)·nabla_w.",
                lambda case: _stepped(case, lambda old, nabla: old + ETA / case.dims["m"] * nabla),
                ("w - (eta / m) * nw", "w + (eta / m) * nw")),
    ),
    cases=cases,
    derive=DERIVE,
)
