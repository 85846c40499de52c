"""Questions about the GPT's backward pass, from a traced forward + backward (lesson "backward").

Same runs as :mod:`lessons.cards.attention` (fresh sizes for the level at every review),
asking about the gradients the engine traced: attention's datt, dv, datt_scores, dq, dk and
dqkv, the two shares of the tied table's gradient, dlogits, the LayerNorm gains' and shifts'
gradients, and which rows of dwpe a pass reaches. Every answer is read from the trace.
"""

from __future__ import annotations

import numpy as np

from lessons.cards.gpt_run import CONVENTION, LETTERS, GPTRun, both_forms, flat_rows, run_gpt
from lessons.cards.question import Draw, Operand, Question, matmul_line, proof_line, shape_question

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
        "datt_scores": ("softmax backward, row by row: att ⊙ (datt − Σ datt ⊙ att), the gradient at "
                        "att_scores.",
                        [f"element by element with att {both_forms(att)}: the shape of att_scores",
                         "masked entries get exactly 0: att is 0 there"], [att]),
        "dq": ("att_scores = q @ kᵀ / √hs, so dq = (datt_scores / √hs) @ k; the factor leaves the shape.",
               [matmul_line(Operand.of(ds, "datt_scores"), Operand.of(k, "k"))], [ds, k]),
        "dk": ("att_scores = q @ kᵀ / √hs, so dk = (datt_scores / √hs)ᵀ @ q; the factor leaves the shape.",
               [matmul_line(Operand.of(ds, "datt_scoresᵀ", transposed=True), Operand.of(q, "q"))], [ds, q]),
        "dqkv": ("dq, dk and dv each go back from (B, nh, T, hs) to (B, T, C), then side by side.",
                 [f"each of dq, dk, dv: {both_forms(q)} → swap nh and T back → (B, T, C)",
                  "three of them side by side along the last axis: (B, T, 3*C), the shape of qkv"],
                 [t[f"{p}dq"], t[f"{p}qkv"]]),
    }
    hint, lines, proof = rules[name]
    return _shape_question(
        "backward.attention_grads", draw, run, rec,
        f"In block {p[:-1]}'s backward pass, what is the shape of {name}?",
        (hint, f"dy_heads is {both_forms(dy)}; att is {both_forms(att)}; q, k and v are {both_forms(q)}."),
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
                                     dlogits), flat_rows(run, "ln_f", "ln_f (flat)"))]
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
         "gradient, and dwte is their sum.", f"wte is {both_forms(wte)}; B*T = {B_T}."),
        lines + [f"both shares, and their sum dwte, have wte's shape {both_forms(wte)}"], proof + [wte])


def dlogits_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    rec, logits = t["dlogits"], t["logits"]
    return _shape_question(
        "backward.dlogits", draw, run, rec,
        "The backward pass starts at the loss. What is the shape of dlogits, the gradient at the logits?",
        ("the loss is the mean over B·T positions of −ln softmax(logits)[target]; its gradient at each "
         "position's logits is softmax − onehot(target), over B·T.", f"logits is {both_forms(logits)}."),
        [f"one gradient entry per logit: dlogits has the shape of logits, {both_forms(logits)}",
         "row (b, t) is (p − onehot(target)) / (B·T): every wrong token pushed down by its probability, "
         "the right one pulled up"],
        [logits])


def layernorm_grads(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    p = run.block(draw)
    norm = draw.pick((f"{p}ln_1", f"{p}ln_2", "ln_f"))
    which = draw.pick(("dw", "db"))
    rec = t[f"{norm}.{which}"]
    out = t[norm]
    rule = "Σ over the rows of dout ⊙ x̂" if which == "dw" else "Σ over the rows of dout"
    return _shape_question(
        "backward.layernorm_grads", draw, run, rec,
        f"LayerNorm {norm} has a gain w and a shift b, one number per channel. What is the shape of "
        f"{norm}.{which}, the gradient of its {'gain' if which == 'dw' else 'shift'}?",
        (f"{which} = {rule}: every token's gradient added up, channel by channel.",
         f"{norm}'s output is {both_forms(out)}."),
        [f"{which} = {rule}: the B·T rows of a {both_forms(out)} array summed into one row",
         f"so (C,), the shape of {norm}.{which[1:]}: one number per channel"],
        [out])


def dwpe_rows(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    wpe, dwpe = t["wpe"], t["dwpe"]
    rows = np.flatnonzero(np.any(dwpe.value != 0, axis=1))  # the rows the backward pass reached
    block_size = run.trace.dims["block_size"]
    return Question(
        card_id="backward.dwpe_rows", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"The position table wpe is {both_forms(wpe)}. After one backward pass on sequences of "
             f"T={run.T}, how many rows of dwpe are not zero? Answer with a number."),
        convention=CONVENTION, kind="count", answer=int(rows.size), letters=LETTERS,
        hints=("pos_emb = wpe[0:T]: the forward reads the first T rows only.",
               f"T = {run.T}, block_size = {block_size}."),
        derivation=(f"the forward read rows 0..T−1 of wpe, so only they get a gradient: {run.T} rows",
                    f"each of them is dx summed over the B = {run.B} sequences",
                    f"rows T..block_size−1 ({block_size - run.T} of them) stay exactly 0"),
        proof=(proof_line(wpe), proof_line(dwpe)), dims=run.dims, derived=dict(run.derived),
        subject="dwpe", evidence={"arrays": {"non-zero rows of dwpe": rows}},
    )


CARDS = (
    ("backward.attention_grads", "attention's gradients: datt, dv, dq, dk, dqkv", attention_grads),
    ("backward.wte_shares", "the two shares of wte's gradient", wte_shares),
    ("backward.dlogits", "the gradient at the logits", dlogits_shape),
    ("backward.layernorm_grads", "LayerNorm's dw and db", layernorm_grads),
    ("backward.dwpe_rows", "which rows of dwpe a pass reaches", dwpe_rows),
)
