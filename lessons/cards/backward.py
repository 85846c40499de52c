"""Questions about the GPT's backward pass, from a traced forward + backward (lesson "backward").

Same runs as :mod:`lessons.cards.attention` (fresh sizes for the level at every review),
asking about the gradients the engine traced: attention's datt, dv, datt_scores, dq, dk and
dqkv, and the two shares of the tied table's gradient. Every answer is the traced shape.
"""

from __future__ import annotations

from lessons.cards.attention import CONVENTION, GPTRun, _b, _flat, run_gpt
from lessons.cards.question import Draw, Operand, Question, matmul_line, shape_question

TOPIC = "backward"


def _shape_question(card_id: str, draw: Draw, run: GPTRun, record, ask: str, hints: tuple[str, str],
                    derivation: list[str], proof: list) -> Question:
    return shape_question(card_id, TOPIC, CONVENTION, draw, run, record, ask, hints, derivation, proof)


def attention_grads(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t = run.block(draw), run.trace
    name = draw.pick(("datt", "dv", "datt_scores", "dq", "dk", "dqkv"))
    rec = t[f"{p}{name}"]
    dy, v, att, q, k = (t[f"{p}{n}"] for n in ("dy_heads", "v", "att", "q", "k"))
    ds = t[f"{p}datt_scores"]
    rules = {
        "datt": ("y_heads = att @ v, so the gradient at att is dy_heads @ vᵀ.",
                 [matmul_line(Operand.of(dy, "dy_heads"), Operand.of(v, "vᵀ", transposed=True))], [dy, v]),
        "dv": ("y_heads = att @ v, so the gradient at v is attᵀ @ dy_heads (a sum over the queries).",
               [matmul_line(Operand.of(att, "attᵀ", transposed=True), Operand.of(dy, "dy_heads"))],
               [att, dy]),
        "datt_scores": ("softmax backward, row by row: att ⊙ (datt − Σ datt ⊙ att), times 1/√hs.",
                        [f"element by element with att {_b(att)}: the shape of att_scores",
                         "masked entries get exactly 0: att is 0 there"], [att]),
        "dq": ("scores = q @ kᵀ (scaled), so dq = datt_scores @ k.",
               [matmul_line(Operand.of(ds, "datt_scores"), Operand.of(k, "k"))], [ds, k]),
        "dk": ("scores = q @ kᵀ (scaled), so dk = datt_scoresᵀ @ q.",
               [matmul_line(Operand.of(ds, "datt_scoresᵀ", transposed=True), Operand.of(q, "q"))], [ds, q]),
        "dqkv": ("dq, dk and dv each go back from (B, nh, T, hs) to (B, T, C), then side by side.",
                 [f"each of dq, dk, dv: {_b(q)} → swap nh and T back → (B, T, C)",
                  "three of them side by side along the last axis: (B, T, 3*C), the shape of qkv"],
                 [t[f"{p}dq"], t[f"{p}qkv"]]),
    }
    hint, lines, proof = rules[name]
    return _shape_question(
        "backward.attention_grads", draw, run, rec,
        f"In block {p[:-1]}'s backward pass, what is the shape of {name}?",
        (hint, f"dy_heads is {_b(dy)}; att is {_b(att)}; q, k and v are {_b(q)}."),
        lines + [f"a gradient has the shape of what it differentiates: {name} is shaped like {name[1:]}"],
        proof)


def wte_shares(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    name = draw.pick(("dwte_head", "dwte_lookup"))
    rec, wte = t[name], t["wte"]
    B_T = run.B * run.T
    if name == "dwte_head":
        ask = "the tied head's share of wte's gradient, dwte_head = dlogitsᵀ @ ln_f"
        dlogits = t["dlogits"]
        lines = [matmul_line(Operand("dlogitsᵀ (flat)", dlogits.value.reshape(B_T, -1).T, ("V", "B*T"),
                                     dlogits), _flat(run, "ln_f", "ln_f (flat)"))]
        proof = [dlogits, t["ln_f"]]
    else:
        ask = ("the lookup's share of wte's gradient, dwte_lookup (each position's dx added to its "
               "token's row)")
        lines = [f"onehot(idx)ᵀ @ dx (flat): (V, B*T) @ (B*T, C) → (V, C)   = ({wte.shape[0]}, {B_T}) @ "
                 f"({B_T}, {wte.shape[1]}) → ({rec.shape[0]}, {rec.shape[1]})"]
        proof = [t["dx"], t["idx"]]
    return _shape_question(
        "backward.wte_shares", draw, run, rec, f"What is the shape of {ask}?",
        ("wte is used twice, by the lookup and by the tied output head; each use gives it a share of "
         "gradient, and dwte is their sum.", f"wte is {_b(wte)}; B*T = {B_T}."),
        lines + [f"both shares, and their sum dwte, have wte's shape {_b(wte)}"], proof + [wte])


CARDS = (
    ("backward.attention_grads", "attention's gradients: datt, dv, dq, dk, dqkv", attention_grads),
    ("backward.wte_shares", "the two shares of wte's gradient", wte_shares),
)
