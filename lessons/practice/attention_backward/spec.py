"""attention_backward: datt, dv, the softmax backward, dq and dk, graded against the engine."""

from __future__ import annotations

import math

from engine.attention import attention_backward, attention_forward
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Derive, Exercise, Mistake, Rung
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("B", "nh", "T", "hs")):
        rng = rng_for("attention_backward", i)
        shape = (dims["B"], dims["nh"], dims["T"], dims["hs"])
        q, k, v, dy = (rng.standard_normal(shape) for _ in range(4))
        _, att, _ = attention_forward(q, k, v)
        tracer = Tracer(dims=dims)
        attention_backward(dy, q, k, v, att, tracer=tracer)
        args = {"dy": dy, "q": q, "k": k, "v": v, "att": att}
        out.append(traced_case(tracer, [Call("attention_backward", args, ["dq", "dk", "dv"])],
                               ["datt", "dv", "datt_scores", "dq", "dk"], args))
    return out


def _swap(a):
    return a.swapaxes(-1, -2)


def _scale(c):
    return 1.0 / math.sqrt(c.dims["hs"])


MISTAKES = (
    Mistake("datt transposed",
            "y_heads = att @ v, so datt = dy @ vᵀ: row t of datt pairs query t's dy with every "
            "value. v @ dyᵀ is its transpose, the same (T, T) shape.",
            lambda c: {"datt": _swap(c.value("datt"))},
            ("dy @ v.transpose(0, 1, 3, 2)", "v @ dy.transpose(0, 1, 3, 2)")),
    Mistake("att where attᵀ belongs",
            "y_heads = att @ v, so dv = attᵀ @ dy: value s collects from every query that attended "
            "to it, down column s of att. att @ dy has the same shape and the wrong numbers.",
            lambda c: {"dv": c.value("att") @ c.value("dy")},
            ("dv = att.transpose(0, 1, 3, 2) @ dy", "dv = att @ dy")),
    Mistake("softmax backward without the Σ term",
            "each weight of a row depends on every score of it, so the softmax backward subtracts "
            "the row's Σ datt ⊙ att: att ⊙ (datt − Σ).",
            lambda c: {"datt_scores": c.value("att") * c.value("datt")},
            ("att * (datt - row)", "att * datt")),
    Mistake("1/√hs left out of the backward",
            "the forward scaled q @ kᵀ by 1/√hs, so the gradient reaching q and k carries the same "
            "factor: dq = (datt_scores / √hs) @ k.",
            lambda c: {"dq": c.value("dq") / _scale(c)},
            (" / math.sqrt(hs)", "")),
    Mistake("dq with the scores transposed",
            "att_scores = q @ kᵀ / √hs, so dq = (datt_scores / √hs) @ k (row t of dq mixes the keys "
            "query t saw); the transpose belongs to dk.",
            lambda c: {"dq": _swap(c.value("datt_scores")) @ c.value("k") * _scale(c)},
            ("dq = dqk @ k", "dq = dqk.transpose(0, 1, 3, 2) @ k")),
    Mistake("dk without the transpose",
            "att_scores = q @ kᵀ / √hs puts keys on the columns, so dk = (datt_scores / √hs)ᵀ @ q.",
            lambda c: {"dk": c.value("datt_scores") @ c.value("q") * _scale(c)},
            ("dk = dqk.transpose(0, 1, 3, 2) @ q", "dk = dqk @ q")),
)

DERIVE = Derive(
    text=(
        "Write the backward pass of the attention core, and work it out yourself from the forward: "
        "att_scores = q @ kᵀ / √hs, att = softmax(masked att_scores), y_heads = att @ v. From dy, the "
        "gradient at y_heads, go back line by line: datt and dv, then datt_scores through the "
        "softmax, then dq and dk. Every gradient has the shape of what it differentiates."
    ),
    rungs=(
        Rung(("datt", "dv"), (
            "y_heads = att @ v is one matrix product per batch row and head. Write one entry: "
            "y[i, d] = Σⱼ att[i, j]·v[j, d]. Which entries of y does att[i, j] reach, and v[j, d]?",
            "att[i, j] reaches y[i, d] for every d, with slope v[j, d]: datt[i, j] = Σ_d dy[i, d]·v[j, d]. "
            "v[j, d] reaches y[i, d] for every i, with slope att[i, j]: dv[j, d] = Σᵢ att[i, j]·dy[i, d].",
            "As products: datt = dy @ vᵀ and dv = attᵀ @ dy, where ᵀ swaps the last two axes only: "
            ".swapaxes(-1, -2), or .transpose(0, 1, 3, 2).",
        )),
        Rung(("datt_scores",), (
            "att = softmax(att_masked), row by row; the mask only put −inf where a key is hidden, and "
            "there att is 0, so nothing flows back through it. This is softmax's backward, from datt "
            "to the gradient at the scores.",
            "One row of softmax: ∂attᵢ/∂sⱼ = attᵢ·[i = j] − attᵢ·attⱼ, so the gradient at sⱼ is "
            "attⱼ·dattⱼ minus attⱼ times one number per row, Σᵢ dattᵢ·attᵢ.",
            "datt_scores = att * (datt − (datt * att).sum(axis=-1, keepdims=True)).",
        )),
        Rung(("dq", "dk"), (
            "att_scores = q @ kᵀ / √hs is a matrix product again, times a constant. The 1/√hs scaled "
            "the forward, so it scales the gradient on the way back as well.",
            "Per entry: s[i, j] = Σ_d q[i, d]·k[j, d] / √hs. So ∂s[i, j]/∂q[i, d] = k[j, d] / √hs "
            "(summed over j for dq) and ∂s[i, j]/∂k[j, d] = q[i, d] / √hs (summed over i for dk).",
            "dq = (datt_scores / √hs) @ k and dk = (datt_scores / √hs)ᵀ @ q, with √hs = "
            "math.sqrt(q.shape[-1]).",
        )),
    ),
)


EXERCISE = Exercise(
    name="attention_backward",
    title="attention, backward",
    step="dq-dk",
    function="attention_backward",
    phase="backward",
    text=(
        "Write the backward pass of the attention core, the forward read backwards. y_heads = att @ v "
        "gives two gradients, datt = dy @ vᵀ and dv = attᵀ @ dy. Softmax's backward turns datt into "
        "the gradient of the scores, datt_scores = att ⊙ (datt − Σ_row datt ⊙ att). att_scores = "
        "q @ kᵀ / √hs then gives dq = (datt_scores / √hs) @ k and dk = (datt_scores / √hs)ᵀ @ q. Every "
        "gradient has the shape of what it differentiates."
    ),
    hints=(
        "Shapes: datt and datt_scores are (B, nh, T, T) like att; dq, dk, dv are (B, nh, T, hs) "
        "like q, k, v. ᵀ is .transpose(0, 1, 3, 2): only the last two axes swap.",
        "Formulas: for C = A @ B, dA = dC @ Bᵀ and dB = Aᵀ @ dC. Softmax: dx = p ⊙ (dp − Σ_row dp ⊙ p). "
        "Then × 1/√hs on the way to q and k.",
        "Near-code: datt = dy @ v.transpose(0, 1, 3, 2); dv = att.transpose(0, 1, 3, 2) @ dy; "
        "ds = att * (datt - (datt * att).sum(-1, keepdims=True)); g = ds / math.sqrt(hs); "
        "return g @ k, g.transpose(0, 1, 3, 2) @ q, dv",
    ),
    mistakes=MISTAKES,
    cases=cases,
    derive=DERIVE,
)
