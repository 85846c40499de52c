"""layernorm: LayerNorm forward and backward as pure functions, graded against the engine."""

from __future__ import annotations

import numpy as np

from engine.layers import layernorm_backward, layernorm_forward
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, GradCheck, Mistake, Rung
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case

# ε as GPT-2 has it, on rows whose variance is small enough for ε to matter; then a big ε
EPS = (1e-5, 0.1)
SPREAD = (0.01, 0.5)


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("N", "C")):
        rng = rng_for("layernorm", i)
        N, C = dims["N"], dims["C"]
        spread, eps = SPREAD[i % len(SPREAD)], EPS[i % len(EPS)]  # the random set: the second's
        x = rng.standard_normal((N, C)) * spread + rng.standard_normal((N, 1))  # rows off centre
        w, b = 1.0 + 0.5 * rng.standard_normal(C), 0.5 * rng.standard_normal(C)
        dout = rng.standard_normal((N, C))
        tracer = Tracer(dims=dims)
        _, xhat, rstd = layernorm_forward(x, w, b, eps, tracer=tracer)
        layernorm_backward(dout, xhat, rstd, w, tracer=tracer)
        calls = [Call("layernorm_forward", {"x": x, "w": w, "b": b, "eps": eps}, ["out", "xhat", "rstd"]),
                 Call("layernorm_backward", {"dout": dout, "xhat": xhat, "rstd": rstd, "w": w},
                      ["dx", "dw", "db"])]
        graded = ["mean", "var", "rstd", "xhat", "out", "dw", "db", "dxhat", "dx"]
        out.append(traced_case(tracer, calls, graded, {"x": x, "w": w, "b": b, "eps": eps,
                                                       "dout": dout}))
    return out


def _rows(a):
    return a.mean(axis=-1, keepdims=True)


MISTAKES = (
    Mistake("normalised over the tokens",
            "LayerNorm works on each token alone, across its C channels: the mean is over the last "
            "axis, one number per row, (N,). Over axis 0 you mix different tokens.",
            lambda c: {"mean": c.value("x").mean(axis=0)},
            ('show("mean", x.mean(axis=-1))', 'show("mean", x.mean(axis=0))')),
    Mistake("unbiased variance",
            "LayerNorm divides by C (the biased variance, numpy's default ddof=0), not by C − 1.",
            lambda c: {"var": c.value("var") * c.dims["C"] / (c.dims["C"] - 1)},
            ("(xc * xc).mean(axis=-1)", "(xc * xc).sum(axis=-1) / (x.shape[-1] - 1)")),
    Mistake("variance of x, not of x − mean",
            "the variance is the mean of (x − mean)², the centred values squared, not the mean of x².",
            lambda c: {"var": (c.value("x") ** 2).mean(axis=-1)},
            ("(xc * xc).mean(axis=-1)", "(x * x).mean(axis=-1)")),
    Mistake("ε outside the square root",
            "ε goes inside: 1 / √(var + ε), as in PyTorch and GPT-2. With a small variance "
            "1 / (√var + ε) is a different number.",
            lambda c: {"rstd": 1.0 / (np.sqrt(c.value("var")) + c.value("eps"))},
            ("1.0 / np.sqrt(var + eps)", "1.0 / (np.sqrt(var) + eps)")),
    Mistake("w and b left out",
            "after normalising, each channel is scaled by its gain w and shifted by its b: "
            "out = xhat ⊙ w + b.",
            lambda c: {"out": c.value("xhat")},
            ("out = xhat * w + b", "out = xhat")),
    Mistake("dw without x̂",
            "out = x̂ ⊙ w + b, so ∂out/∂w is x̂: dw = Σ_rows dout ⊙ x̂. Σ_rows dout alone is db.",
            lambda c: {"dw": c.value("dout").sum(axis=0)},
            ("(dout * xhat).sum(axis=0)", "dout.sum(axis=0)")),
    Mistake("dw summed over the channels",
            "a gradient has the shape of what it differentiates: dw is (C,) like w, a sum over "
            "the N rows (axis 0).",
            lambda c: {"dw": (c.value("dout") * c.value("xhat")).sum(axis=1)},
            ("(dout * xhat).sum(axis=0)", "(dout * xhat).sum(axis=1)")),
    Mistake("dx̂ without w",
            "out = x̂ ⊙ w + b: the gradient reaching x̂ is dout ⊙ w.",
            lambda c: {"dxhat": c.value("dout")},
            ('show("dxhat", dout * w)', 'show("dxhat", dout)')),
    Mistake("the mean terms left out",
            "every x̂ of a row depends on every x of it (through the mean and the variance), so dx "
            "subtracts two row means: rstd · (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)).",
            lambda c: {"dx": c.value("rstd")[:, None] * c.value("dxhat")},
            ("(dxhat - dxhat.mean(axis=-1, keepdims=True)\n"
             "                          - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))",
             "dxhat")),
    Mistake("dx without rstd",
            "x̂ = (x − mean) · rstd, so the chain rule multiplies by rstd on the way back.",
            lambda c: {"dx": c.value("dx") / c.value("rstd")[:, None]},
            ("dx = rstd[:, None] * (", "dx = (")),
)

DERIVE = Derive(
    text=(
        "Write LayerNorm as the engine's two functions, and work the backward out yourself. "
        "Forward: each row of x (N, C), one token, gets its own mean and biased variance over its "
        "C channels; x̂ = (x − mean) / √(var + ε); out = x̂ ⊙ w + b. Backward: from dout (N, C), "
        "find dw and db (C,), dx̂ (N, C) and dx (N, C) by going back through those lines. The "
        "input sets use row variances small enough that where ε sits matters."
    ),
    rungs=(
        Rung(("mean", "var", "rstd", "xhat", "out"), (
            "The forward is yours to copy from the docstring: one line of numpy per line there. "
            "Every statistic is per row: mean and var take axis=-1 and are (N,).",
            "An (N,) statistic meets an (N, C) array through mean[:, None], which is (N, 1) and "
            "broadcasts over the C channels. w and b are (C,) and broadcast over the rows as they are.",
            "var divides by C (np.mean, no ddof), and ε goes inside the root: 1 / np.sqrt(var + eps).",
        )),
        Rung(("dw", "db"), (
            "Write the last line entry by entry: out[n, c] = xhat[n, c]·w[c] + b[c]. Nudge w[c]: "
            "which entries of out move, and by how much each?",
            "Every row n moves: ∂out[n, c]/∂w[c] = xhat[n, c] and ∂out[n, c]/∂b[c] = 1. The chain "
            "rule adds one term per entry of out that w[c] touches, so the rows are summed.",
            "dw[c] = Σₙ dout[n, c]·xhat[n, c] and db[c] = Σₙ dout[n, c]: sums over axis 0, "
            "each (C,) like w and b.",
        )),
        Rung(("dxhat",), (
            "Same line, the other factor: out[n, c] = xhat[n, c]·w[c] + b[c]. How much does "
            "out[n, c] move when xhat[n, c] does? And does xhat[n, c] touch any other entry of out?",
            "∂out[n, c]/∂xhat[n, c] = w[c], and no other entry depends on it, so no sum: "
            "dxhat = dout ⊙ w, with w broadcast over the rows.",
        )),
        Rung(("dx",), (
            "dx is not just dxhat · rstd: x[n, j] reaches xhat[n, i] for every i of its row, "
            "through (x − mean) for its own entry, and through mean and var for all of them. "
            "Work on one row, and follow the three paths one at a time.",
            "The pieces for one row, with r = rstd and x̂ = (x − μ)·r: ∂μ/∂xⱼ = 1/C; "
            "∂var/∂xⱼ = 2(xⱼ − μ)/C (the term through μ sums to zero); ∂r/∂var = −r³/2, "
            "so ∂r/∂xⱼ = −r²·x̂ⱼ/C.",
            "Then ∂x̂ᵢ/∂xⱼ = r·[i = j] − r/C − x̂ᵢ·r·x̂ⱼ/C, and dxⱼ = Σᵢ dx̂ᵢ ∂x̂ᵢ/∂xⱼ "
            "= r·(dx̂ⱼ − (1/C)Σᵢ dx̂ᵢ − x̂ⱼ·(1/C)Σᵢ dx̂ᵢ x̂ᵢ): two row means, the mean terms.",
            "dx = rstd[:, None] * (dxhat − dxhat.mean(axis=-1, keepdims=True) − xhat * "
            "(dxhat * xhat).mean(axis=-1, keepdims=True)).",
        )),
    ),
)

EXERCISE = Exercise(
    name="layernorm",
    title="LayerNorm, forward and backward",
    step="layernorm",
    function="layernorm_backward",
    phase="forward",
    text=(
        "Write LayerNorm as the engine's two functions. Forward: each row of x (N, C), one token, "
        "gets its own mean and biased variance over its C channels; x̂ = (x − mean) / √(var + ε); "
        "out = x̂ ⊙ w + b. Backward: dw = Σ_rows dout ⊙ x̂ and db = Σ_rows dout, both (C,); "
        "dx̂ = dout ⊙ w; dx = rstd · (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)), the means along each row. "
        "The input sets use row variances small enough that where ε sits matters."
    ),
    hints=(
        "Shapes: mean, var and rstd are (N,), one per token; mean[:, None] is (N, 1) and "
        "broadcasts over the C channels. w and b are (C,) and broadcast over the N rows. "
        "dw and db are (C,), shaped like w and b: sums over axis 0.",
        "Formulas: var = mean((x − mean)²) (divide by C); rstd = 1/√(var + ε); x̂ = (x − mean)·rstd; "
        "dx = rstd · (dx̂ − mean_row(dx̂) − x̂ · mean_row(dx̂ ⊙ x̂)).",
        "Near-code: mean = x.mean(axis=-1); xc = x - mean[:, None]; var = (xc * xc).mean(axis=-1); "
        "rstd = 1.0 / np.sqrt(var + eps); xhat = xc * rstd[:, None]  and  dxhat = dout * w; "
        "dx = rstd[:, None] * (dxhat - dxhat.mean(-1, keepdims=True) - xhat * (dxhat * xhat).mean(-1, "
        "keepdims=True))",
    ),
    mistakes=MISTAKES,
    cases=cases,
    gradcheck=GradCheck("layernorm_forward", (("x", "dx"), ("w", "dw"), ("b", "db")), upstream="dout",
                        output=0),
    derive=DERIVE,
)
