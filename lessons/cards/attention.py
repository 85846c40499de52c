"""Questions about the GPT's attention and blocks, generated from a traced forward + backward.

Each builder draws a small configuration for the learner's level, runs the real
:class:`engine.gpt.model.GPT` with a tracer on random characters, and asks about one recorded
variable, an operation numpy is made to run, or the model's own parameter arrays.

Difficulty: level 0 is one sequence (B = 1) and one head (nh = 1) in one block; level 1 adds
batches and several heads; level 2 stacks two or three blocks and asks about any of them.
"""

from __future__ import annotations

import numpy as np

from engine.trace import Record, format_shape
from lessons.cards.gpt_run import CONVENTION, LETTERS, GPTRun, both_forms, flat_rows, run_gpt
from lessons.cards.question import (
    Draw,
    Operand,
    Question,
    apply,
    matmul_line,
    proof_line,
    shape_question,
    works_question,
)

TOPIC = "attention"
def _shape_question(card_id: str, draw: Draw, run: GPTRun, record: Record, ask: str,
                    hints: tuple[str, str], derivation: list[str], proof: list) -> Question:
    return shape_question(card_id, TOPIC, CONVENTION, draw, run, record, ask, hints, derivation, proof)


# -- the cards -----------------------------------------------------------------------------


def embedding_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    idx, wte, wpe, tok, pos, x = (t[n] for n in ("idx", "wte", "wpe", "tok_emb", "pos_emb", "x"))
    which = draw.pick(("tok_emb", "pos_emb", "x", "wte"))
    if which == "tok_emb":
        return _shape_question(
            "attention.embedding_shape", draw, run, tok,
            "idx holds the character ids. What is the shape of tok_emb = wte[idx]?",
            ("tok_emb = wte[idx]: one row of wte is looked up for every character of every sequence.",
             f"idx is {both_forms(idx)}; wte is {both_forms(wte)}."),
            [f"idx {both_forms(idx)}: B·T character ids",
             f"each id picks a row of wte {both_forms(wte)}: C numbers",
             f"so the ids' shape gains a C at the end → {both_forms(tok)}"], [idx, wte])
    if which == "pos_emb":
        return _shape_question(
            "attention.embedding_shape", draw, run, pos,
            "What is the shape of pos_emb = wpe[0:T], the learned position embeddings used?",
            ("pos_emb takes the first T rows of the position table wpe, one per position.",
             f"wpe is {both_forms(wpe)}; the sequences are T = {run.T} long."),
            [f"wpe[0:T]: {both_forms(wpe)} → {both_forms(pos)}",
             "no B: every sequence uses the same positions; adding it to tok_emb broadcasts over B"],
            [wpe])
    if which == "x":
        return _shape_question(
            "attention.embedding_shape", draw, run, x,
            "What is the shape of x = tok_emb + pos_emb, the input to the first block?",
            ("x = tok_emb + pos_emb: broadcasting adds the same position rows to every sequence.",
             f"tok_emb is {both_forms(tok)}; pos_emb is {both_forms(pos)}."),
            [f"tok_emb {both_forms(tok)} + pos_emb {both_forms(pos)}",
             f"line up from the right: (T, C) matches the last two; the missing B counts as 1 and "
             f"is stretched → {both_forms(x)}"], [tok, pos])
    return _shape_question(
        "attention.embedding_shape", draw, run, wte,
        "What is the shape of wte, the token embedding table?",
        ("wte has one row per character of the vocabulary, each row a vector of C channels.",
         f"the vocabulary has V = {run.config.vocab_size} characters; C = {run.config.n_embd}."),
        [f"wte is (V, C) = {format_shape(wte.shape)}: row v is the vector of character v",
         "it is also the output head: logits = ln_f @ wteᵀ, (B*T, C) @ (C, V) (weight tying)"], [])


def qkv_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t, c = run.block(draw), run.trace, run.config
    ln1, w, qkv = t[f"{p}ln_1"], t[f"{p}attn.c_attn.w"], t[f"{p}qkv"]
    name = draw.pick(("q", "k", "v", "q", "qkv"))
    rec = t[f"{p}{name}"]
    lines = [matmul_line(flat_rows(run, f"{p}ln_1", "ln_1"), Operand.of(w, "c_attn.w")) + ", viewed "
             f"(B, T, 3*C) = {format_shape(qkv.shape)}"]
    if name != "qkv":
        lines += [f"split the last axis in three: q, k, v are each (B, T, C) = "
                  f"({run.B}, {run.T}, {c.n_embd})",
                  f"view each as (B, T, nh, hs) = ({run.B}, {run.T}, {c.n_head}, {c.head_size}): "
                  f"C = nh·hs channels cut into heads",
                  f"swap T and nh → {both_forms(rec)}: each head becomes a batch of its own"]
    return _shape_question(
        "attention.qkv_shape", draw, run, rec,
        f"In block {p[:-1]}, what is the shape of {name}"
        f"{'' if name == 'qkv' else ' (after splitting the heads)'}?",
        ("qkv = ln_1 @ c_attn.w + c_attn.b gives q, k and v side by side; each is cut into nh heads of "
         "hs channels and the head axis is moved before T.",
         f"ln_1 is {both_forms(ln1)}; c_attn.w is {both_forms(w)}; nh = {c.n_head}, hs = {c.head_size}."),
        lines, [ln1, w, qkv])


def scores_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t = run.block(draw), run.trace
    q, k = Operand.of(t[f"{p}q"], "q"), Operand.of(t[f"{p}k"], "kᵀ", transposed=True)
    name = draw.pick(("att_scores", "att_masked", "att"))
    rec = t[f"{p}{name}"]
    lines = [matmul_line(q, k), "× 1/√hs multiplies by one number: no change of shape"]
    if name != "att_scores":
        lines.append("the causal mask (T, T) sets the future to −inf, broadcast over B and nh: no change")
    if name == "att":
        lines.append("softmax over the last axis makes each row sum to 1: no change")
    if name == "att":
        lines.append("one T × T table per sequence and per head: row t says how much query t takes from "
                     "each position")
    else:
        lines.append("one T × T table per sequence and per head: row t holds query t's raw scores against "
                     "every key; only the softmax turns them into weights")
    ask = {"att_scores": "the attention scores att_scores = q @ kᵀ / √hs",
           "att_masked": "att_masked, the scores after the causal mask",
           "att": "att, the attention weights after softmax"}[name]
    return _shape_question(
        "attention.scores_shape", draw, run, rec, f"In block {p[:-1]}, what is the shape of {ask}?",
        ("att_scores = q @ kᵀ / √hs: every query against every key, per sequence and per head; "
         "masking and softmax keep the shape.",
         f"{q.described()}; {k.described()}."),
        lines, [q.record, k.record])


def output_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t, c = run.block(draw), run.trace, run.config
    name = draw.pick(("y_heads", "y", "attn_out"))
    rec = t[f"{p}{name}"]
    att, v, yh = Operand.of(t[f"{p}att"], "att"), Operand.of(t[f"{p}v"], "v"), t[f"{p}y_heads"]
    lines = [matmul_line(att, v)]
    hint1 = "y_heads = att @ v: each query's weights average the values of the positions it attends to."
    proof = [att.record, v.record]
    if name in ("y", "attn_out"):
        lines += [f"swap nh and T back: (B, nh, T, hs) → (B, T, nh, hs) = ({run.B}, {run.T}, {c.n_head}, "
                  f"{c.head_size})",
                  f"view the nh·hs channels as one axis of C = {c.n_embd} → (B, T, C) = "
                  f"{format_shape(t[f'{p}y'].shape)}"]
        hint1 = ("y puts the heads side by side again: y_heads = att @ v, then nh moves back after T and "
                 "the heads' channels join.")
        proof.append(yh)
    if name == "attn_out":
        w = t[f"{p}attn.c_proj.w"]
        lines.append(matmul_line(flat_rows(run, f"{p}y", "y"), Operand.of(w, "c_proj.w")) +
                     ", viewed (B, T, C)")
        hint1 = "attn_out = y @ c_proj.w + c_proj.b, where y is the heads side by side again."
        proof += [t[f"{p}y"], w]
    return _shape_question(
        "attention.output_shape", draw, run, rec, f"In block {p[:-1]}, what is the shape of {name}?",
        (hint1, f"{att.described()}; {v.described()}; nh = {c.n_head}, hs = {c.head_size}."),
        lines, proof)


def mlp_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t = run.block(draw), run.trace
    name = draw.pick(("fc", "gelu", "mlp_out"))
    rec, ln2, w_fc, w_proj = t[f"{p}{name}"], t[f"{p}ln_2"], t[f"{p}mlp.c_fc.w"], t[f"{p}mlp.c_proj.w"]
    lines = [matmul_line(flat_rows(run, f"{p}ln_2", "ln_2"), Operand.of(w_fc, "c_fc.w"))
             + ", viewed (B, T, 4*C)"]
    if name in ("gelu", "mlp_out"):
        lines.append("gelu acts element by element: no change of shape")
    if name == "mlp_out":
        lines.append(matmul_line(flat_rows(run, f"{p}gelu", "gelu"), Operand.of(w_proj, "c_proj.w")) +
                     ", viewed (B, T, C): back to the residual stream's width")
    return _shape_question(
        "attention.mlp_shape", draw, run, rec, f"In block {p[:-1]}'s MLP, what is the shape of {name}?",
        ("the MLP widens every position to 4·C (fc = ln_2 @ c_fc.w + c_fc.b), applies gelu, and "
         "projects back to C (c_proj).",
         f"ln_2 is {both_forms(ln2)}; c_fc.w is {both_forms(w_fc)}; c_proj.w is {both_forms(w_proj)}."),
        lines, [ln2, w_fc] + ([w_proj] if name == "mlp_out" else []))


def logits_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    t = run.trace
    lnf, wte, logits = t["ln_f"], t["wte"], t["logits"]
    wte_t = Operand.of(wte, "wteᵀ", transposed=True)
    return _shape_question(
        "attention.logits_shape", draw, run, logits,
        "What is the shape of logits, the scores for the next character?",
        ("logits = ln_f @ wteᵀ: the head reuses the token embedding table (weight tying).",
         f"ln_f is {both_forms(lnf)}; wteᵀ is {wte_t.described().split(' is ', 1)[1]}."),
        [matmul_line(flat_rows(run, "ln_f", "ln_f"), wte_t) + ", viewed (B, T, V)",
         "one score per vocabulary character at every position of every sequence",
         "for the loss they are flattened back to (B*T, V): one row per position, its target one id"],
        [lnf, wte])


def grad_shape(draw: Draw) -> Question:
    run = run_gpt(draw)
    p, t = run.block(draw), run.trace
    layers = {f"{p}attn.c_attn": (f"{p}ln_1", f"{p}dqkv"), f"{p}attn.c_proj": (f"{p}y", f"{p}dy"),
              f"{p}mlp.c_fc": (f"{p}ln_2", f"{p}dfc"), f"{p}mlp.c_proj": (f"{p}gelu", f"{p}dgelu")}
    if draw.level >= 1 and draw.chance(0.25):  # the tied table collects gradient from both its uses
        dwte, wte = t["dwte"], t["wte"]
        return _shape_question(
            "attention.grad_shape", draw, run, dwte,
            "What is the shape of dwte, the gradient of the loss with respect to the token table wte?",
            ("a gradient has the shape of what it differentiates; wte gets gradient from the lookup "
             "and from the tied output head, added together.",
             f"wte is {both_forms(wte)}."),
            ["dlogitsᵀ @ ln_f: (V, B*T) @ (B*T, C) → (V, C) (the head's share)",
             "plus, for each id in idx, that position's dx added to its row (the lookup's share)",
             f"= wte's shape {both_forms(wte)}"], [wte])
    layer = draw.pick(list(layers))
    short = layer.split(".", 1)[1]
    w, dw = t[f"{layer}.w"], t[f"{layer}.dw"]
    n_in, n_out = w.shape
    sym_in, sym_out = w.symbolic
    if layer.endswith("attn.c_proj"):  # its input y is the heads side by side; dout is dy's partner
        x_label, dout_label = "y", "dattn_out"
    else:
        x_label = layers[layer][0].split(".", 1)[1]
        dout_label = "d" + {"c_attn": "qkv", "c_fc": "fc", "c_proj": "mlp_out"}[short.split(".")[1]]
    return _shape_question(
        "attention.grad_shape", draw, run, dw,
        f"What is the shape of {short}.dw, the gradient of the loss with respect to {short}.w?",
        ("a linear layer's weight gradient is dw = xᵀ @ dout: its input, transposed, times the gradient "
         "at its output.",
         f"the input {x_label} is (B*T, {sym_in}) = ({run.B * run.T}, {n_in}); {dout_label} is "
         f"(B*T, {sym_out}) = ({run.B * run.T}, {n_out})."),
        [f"{x_label}ᵀ @ {dout_label}: ({sym_in}, B*T) @ (B*T, {sym_out}) → ({sym_in}, {sym_out})   = "
         f"({n_in}, {run.B * run.T}) @ ({run.B * run.T}, {n_out}) → {format_shape(dw.shape)}",
         f"the product sums over all B·T positions; what is left is {short}.w's shape {both_forms(w)}: "
         "a gradient has the shape of what it differentiates, so the optimizer (AdamW, whose m and v are "
         "shaped like w too) updates w entry by entry"],
        [w])


def matmul_check(draw: Draw) -> Question:
    run = run_gpt(draw, strict=draw.symbolic)
    p, t, T = run.block(draw), run.trace, run.T
    bs = run.config.block_size
    ln1 = t[f"{p}ln_1"]
    one_seq = Operand("ln_1[0]", ln1.value[0], ln1.symbolic[1:], ln1)  # one sequence: (T, C)
    w_attn, w_proj = Operand.of(t[f"{p}attn.c_attn.w"], "c_attn.w"), Operand.of(t[f"{p}attn.c_proj.w"],
                                                                                 "c_proj.w")
    q, k, v = (Operand.of(t[f"{p}{n}"], n) for n in "qkv")
    att, scores = Operand.of(t[f"{p}att"], "att"), Operand.of(t[f"{p}att_scores"], "att_scores")
    # additive masks, 0 where a key may be seen and −inf above the diagonal: adding 0/1 would hide nothing
    mask = Operand("mask", np.where(np.triu(np.ones((T, T), dtype=bool), 1), -np.inf, 0.0), ("T", "T"))
    big_mask = Operand("mask_full", np.where(np.triu(np.ones((bs, bs), dtype=bool), 1), -np.inf, 0.0),
                       ("block_size", "block_size"))
    candidates = [
        ("@", one_seq, w_attn), ("@", w_attn, one_seq),
        ("@", flat_rows(run, f"{p}ln_1", "ln_1 (flat)"), w_attn),
        ("@", q, Operand.of(q.record, "kᵀ", transposed=True)), ("@", q, k),
        ("@", att, v), ("@", v, att),
        ("@", Operand.of(t[f"{p}y"], "y"), w_proj), ("@", Operand.of(t[f"{p}y_heads"], "y_heads"), w_proj),
        ("+", scores, mask), ("+", scores, big_mask),
        ("+", Operand.of(t["tok_emb"]), Operand.of(t["pos_emb"])), ("+", Operand.of(t["tok_emb"]),
                                                                      Operand.of(t["wpe"])),
    ]
    works = [c for c in candidates if apply(c[0], c[1], c[2])[0] is not None]
    fails = [c for c in candidates if apply(c[0], c[1], c[2])[0] is None]
    op, a, b = draw.pick(works if (draw.chance(0.5) or not fails) else fails)
    where = "" if a.label == "tok_emb" else f"In block {p[:-1]}: "
    notes = {"mask": f"mask is the causal mask as an additive array, (T, T) = ({T}, {T}): 0 on and below "
                     "the diagonal, −inf above it",
             "mask_full": f"mask_full is the same additive mask (0 or −inf) for the longest context, "
                          f"(block_size, block_size) = ({bs}, {bs})",
             "ln_1[0]": "ln_1[0] is the first sequence of ln_1 alone",
             "ln_1 (flat)": "ln_1 (flat) is ln_1 viewed as one row per position, (B*T, C)"}
    extra = " ".join(f"({notes[o.label]}.)" for o in (a, b) if o.label in notes)
    meaning = []
    if b.label in ("mask", "mask_full"):
        meaning.append("why a 0/−inf mask: adding 0 leaves a visible score as it is, adding −inf makes a "
                       "future score −inf, which softmax turns into exactly 0; a 0/1 mask would only nudge "
                       "some scores by 1 and hide nothing. The engine does the same with "
                       "np.copyto(att, -inf, where=mask), or np.where(mask, -inf, att)")
    if b.label == "mask_full" and T != bs:
        meaning.append(f"a mask made for block_size must be cropped to the T = {T} positions first: "
                       "mask_full[:T, :T]")
    question = works_question(
        "attention.matmul_check", TOPIC, CONVENTION, draw, run, op, a, b,
        f"{where}will {a.label} {op} {b.label} work, and what shape comes out?"
        + (f" {extra}" if extra else ""), [], tuple(meaning))
    return question


def param_count(draw: Draw) -> Question:
    """Parameters of a layer (level 0), a block (level 1) or the model: its arrays' sizes."""
    run = run_gpt(draw)
    params = run.model.params  # {"h0.attn.c_attn.w": array, ...}: the model's own parameters
    c = run.config
    if draw.level == 0:
        layer = draw.pick(("h0.attn.c_attn", "h0.attn.c_proj", "h0.mlp.c_fc", "h0.mlp.c_proj"))
        names = [n for n in params if n.rsplit(".", 1)[0] == layer]
        what = f"the linear layer {layer.split('.', 1)[1]} (weight and bias)"
    elif draw.level == 1 or draw.chance(0.5):
        p = f"h{int(draw.rng.integers(c.n_layer))}."
        names = [n for n in params if n.startswith(p)]
        what = f"block {p[:-1]} (two LayerNorms, attention, MLP; weights and biases)"
    else:
        names = list(params)
        what = "the whole model (embeddings, every block, ln_f; the head shares wte)"
    total = int(sum(params[n].size for n in names))
    lines = _count_lines(params, names)
    lines.append(f"total: {total:,}")
    shown = [n for n in names if n in run.trace]
    return Question(
        card_id="attention.param_count", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=f"How many parameters does {what} have? Answer with a number.", convention=CONVENTION,
        kind="count", answer=total, letters=LETTERS,
        hints=("a linear layer from n_in to n_out has n_in·n_out weights and n_out biases; a LayerNorm "
               "has C weights and C biases; c_attn goes C → 3C, the MLP C → 4C → C.",
               "; ".join(f"{n} is {format_shape(params[n].shape)}" for n in names[:8])
               + ("; ..." if len(names) > 8 else "") + "."),
        derivation=tuple(lines), proof=tuple(proof_line(run.trace[n]) for n in shown[:6]),
        dims=run.dims, derived=dict(run.derived), subject=",".join(names),
        evidence={"arrays": {n: params[n] for n in names}, "model": run.model},
    )


def _count_lines(params: dict, names: list[str]) -> list[str]:
    """One line per array; for a whole model, one line per block (they are all alike)."""
    def line(n):
        a = params[n]
        return f"{n}: {a.size:,}" if a.ndim == 1 else f"{n}: {' × '.join(map(str, a.shape))} = {a.size:,}"

    blocks = sorted({n.split(".", 1)[0] for n in names if n.startswith("h") and n[1].isdigit()})
    if len(blocks) < 2:
        return [line(n) for n in names]
    out = [line(n) for n in names if n.split(".", 1)[0] not in blocks]
    for b in blocks:
        mine = [n for n in names if n.split(".", 1)[0] == b]
        out.append(f"block {b}: {len(mine)} arrays = {sum(params[n].size for n in mine):,}")
    return out


CARDS = (
    ("attention.embedding_shape", "token and position embeddings", embedding_shape),
    ("attention.qkv_shape", "q, k, v and the heads", qkv_shape),
    ("attention.scores_shape", "attention scores, mask and softmax", scores_shape),
    ("attention.output_shape", "att @ v and merging the heads", output_shape),
    ("attention.mlp_shape", "the MLP: C → 4C → C", mlp_shape),
    ("attention.logits_shape", "logits through the tied head", logits_shape),
    ("attention.grad_shape", "gradient of a projection weight", grad_shape),
    ("attention.matmul_check", "will this multiply (or broadcast) work?", matmul_check),
    ("attention.param_count", "counting parameters of a layer, a block, a model", param_count),
)
