"""Questions about the encoder–decoder Transformer, generated from a traced run of the engine.

Each builder draws a small configuration for the learner's level, runs the real
:class:`engine.translation.model.Transformer` with a tracer on random source and target ids
(some rows padded), and asks about one recorded variable, an operation numpy is made to run, the
model's own parameter arrays, or a beam search the engine ran. The source length S and the
target length T always differ (and both exceed 1), so an answer that swaps the two axes is
wrong, never accidentally right.

Difficulty: level 0 is one sentence pair (B = 1), one head and one layer on each side; level 1
adds batches and several heads; level 2 stacks two or three layers on each side and asks about
any of them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from engine.trace import Record, Tracer, format_shape
from engine.translation.model import Transformer, TransformerConfig
from lessons.cards.question import Draw, Operand, Question, both, proof_line, shape_question, works_question

TOPIC = "translation"
CONVENTION = ("Conventions: batch first; the source (English) has S positions, the target (French) T; "
              "heads split as (B, nh, ·, hs) with hs = C / nh; weights stored (in, out), so x @ w.")
LETTERS = ("B", "S", "T", "C", "nh", "hs", "V", "d_ff")
PAD, BOS, EOS = 0, 1, 2


@dataclass
class TranslationRun:
    """A Transformer, the padded batch it ran on, and the trace of its forward and loss."""

    model: Transformer
    B: int
    S: int
    T: int
    trace: Tracer
    src_lens: list[int]  # real source pieces of each row (</s> included)
    tgt_lens: list[int]  # real target positions of each row
    letters = LETTERS
    derived = {"C": "nh*hs"}

    @property
    def config(self) -> TransformerConfig:
        return self.model.config

    @property
    def dims(self) -> dict[str, int]:
        return {k: v for k, v in self.trace.dims.items() if k in LETTERS}

    def setting(self) -> str:
        c = self.config
        heads = "nh=1 head" if c.n_head == 1 else f"nh={c.n_head} heads"
        layers = (f"{c.n_layer} encoder and {c.n_dec_layer} decoder layer" + ("s" if c.n_layer > 1 else ""))
        pairs = "B=1 sentence pair" if self.B == 1 else f"B={self.B} sentence pairs"
        return (f"An encoder–decoder Transformer with one vocabulary of V={c.vocab_size} pieces, "
                f"C={c.n_embd} channels, {heads} of hs={c.head_size}, d_ff={c.d_ff}, {layers}, reads "
                f"{pairs}: sources padded to S={self.S} pieces, decoder inputs padded to T={self.T}.")

    def layer(self, draw: Draw, side: str) -> str:
        """The prefix of a layer to ask about: h0, or any layer at level 2."""
        n = self.config.n_layer if side == "enc" else self.config.n_dec_layer
        return f"{side}.h{int(draw.rng.integers(n))}."


def _draw_sizes(draw: Draw) -> tuple[dict, int, int, int]:
    """Sizes for the level; S ≠ T always, and every free size distinct where the level allows."""
    rng = draw.rng
    for _attempt in range(1000):
        if draw.level == 0:
            B, nh, layers = 1, 1, 1
            hs = int(rng.integers(3, 17))
        else:
            B = int(rng.integers(2, 7 if draw.level == 1 else 9))
            nh = int(rng.integers(2, 5 if draw.level == 1 else 7))
            hs = int(rng.integers(2, 9))
            layers = 1 if draw.level == 1 else int(rng.integers(2, 4))
        C = nh * hs
        S = int(rng.integers(2, 13 if draw.level < 2 else 17))
        T = int(rng.integers(2, 13 if draw.level < 2 else 17))
        V = int(rng.integers(8, 40))
        d_ff = C * int(rng.integers(2, 5))
        free = [B, S, T, C, nh, V, d_ff] + ([hs] if nh > 1 else [])
        sizes = [n for n in free if n != 1]
        if len(set(sizes)) == len(sizes):
            break
    config = dict(vocab_size=V, n_embd=C, n_head=nh, n_layer=layers, n_dec_layer=layers, d_ff=d_ff,
                  max_len=max(S, T) + 2, dropout=0.0)
    return config, B, S, T


def _padded(rng: np.random.Generator, B: int, L: int, V: int) -> tuple[np.ndarray, list[int]]:
    """``(B, L)`` random pieces, each row ending with </s>; row 0 is full, the others end at a random
    length and are padded after it."""
    ids = rng.integers(3, V, size=(B, L))
    lens = [L] + [int(rng.integers(1, L + 1)) for _ in range(B - 1)]
    for b, n in enumerate(lens):
        ids[b, n - 1] = EOS
        ids[b, n:] = PAD
    return ids, lens


def run_translation(draw: Draw) -> TranslationRun:
    """Build a Transformer for the level and trace one forward and loss on random padded pairs."""
    config, B, S, T = _draw_sizes(draw)
    model = Transformer(TransformerConfig(**config), seed=int(draw.rng.integers(2**31)), dtype=np.float64)
    src, src_lens = _padded(draw.rng, B, S, config["vocab_size"])
    tgt_out, tgt_lens = _padded(draw.rng, B, T, config["vocab_size"])
    tgt_in = np.concatenate([np.full((B, 1), BOS), tgt_out[:, :-1]], axis=1)  # shifted right by one
    tgt_in[tgt_in == EOS] = PAD  # </s> is never read, only written
    tracer = Tracer(dims=model.dims(B, S, T))
    logits = model.forward(src, tgt_in, tracer=tracer)
    model.loss(logits, tgt_out, smoothing=0.1, tracer=tracer)
    return TranslationRun(model, B, S, T, tracer, src_lens, tgt_lens)


def _shape_question(card_id: str, draw: Draw, run: TranslationRun, record: Record, ask: str,
                    hints: tuple[str, str], derivation: list[str], proof: list) -> Question:
    return shape_question(card_id, TOPIC, CONVENTION, draw, run, record, ask, hints, derivation, proof)


def _b(rec: Record) -> str:
    return both(rec.symbolic, rec.shape)


# -- the cards -----------------------------------------------------------------------------


def cross_scores_shape(draw: Draw) -> Question:
    run = run_translation(draw)
    p, t = run.layer(draw, "dec") + "cross.", run.trace
    q, k, v, mem = t[f"{p}q"], t[f"{p}k"], t[f"{p}v"], t["memory"]
    name = draw.pick(("att_scores", "att", "att_scores", "k", "y_heads"))
    rec = t[f"{p}{name}"]
    layer = p.split(".")[1]
    if name == "k":
        ask = (f"In decoder layer {layer}'s cross-attention, the keys come from the encoder's memory. What "
               "is the shape of k (after splitting the heads)?")
        lines = [f"memory {_b(mem)}: one vector per source piece",
                 "k = memory @ c_kv.w's key half: (B, S, C)",
                 f"cut into heads and S swapped with nh → {_b(rec)}: keys are indexed by source positions"]
    else:
        ask = {"att_scores": f"In decoder layer {layer}, what is the shape of the cross-attention scores "
                             "att_scores = q @ kᵀ / √hs?",
               "att": f"In decoder layer {layer}, what is the shape of the cross-attention weights att "
                      "(after the padding mask and the softmax)?",
               "y_heads": f"In decoder layer {layer}, what is the shape of cross-attention's "
                          "y_heads = att @ v?"}[name]
        lines = [f"q comes from the decoder: {_b(q)}, one query per target position",
                 f"k and v come from the memory: {_b(k)}, one per source position",
                 f"q @ kᵀ: (B, nh, T, hs) @ (B, nh, hs, S) → (B, nh, T, S) = ({run.B}, {run.config.n_head}, "
                 f"{run.T}, {run.S}): rows are target positions, columns source positions"]
        if name != "att_scores":
            lines.append("the padding mask (B, 1, 1, S) and the softmax over S change no shape")
        if name == "y_heads":
            lines.append(f"att @ v: (B, nh, T, S) @ (B, nh, S, hs) → {_b(rec)}: the decoder's T rows come "
                         "back")
    return _shape_question(
        "translation.cross_scores_shape", draw, run, rec, ask,
        ("cross-attention: the queries come from the decoder (target positions), the keys and values from "
         "the encoder's memory (source positions).",
         f"q is {_b(q)}; k and v are {_b(k)}; the memory is {_b(mem)}."),
        lines, [q, k, v])


def pad_mask(draw: Draw) -> Question:
    """The padding mask's shape, or whether adding it (or a wrongly shaped one) to the scores works."""
    run = run_translation(draw)
    t = run.trace
    side = draw.pick(("enc", "dec"))
    p = run.layer(draw, side) + ("cross." if side == "dec" else "")
    mask, scores = t[f"{p}pad_mask"], t[f"{p}att_scores"]
    what = "the encoder's self-attention" if side == "enc" else "the decoder's cross-attention"
    if draw.level == 0 or draw.chance(0.4):
        return _shape_question(
            "translation.pad_mask", draw, run, mask,
            f"In {what} of layer {p.split('.')[1]}, the source's padding is hidden by a mask built from "
            "src == pad (B, S). What is the shape of that mask as it is broadcast onto the scores?",
            ("one row per sentence saying which source positions are padding; it must line up with the "
             "scores' key axis and stretch over the heads and the queries.",
             f"the scores are {_b(scores)}; src_pad is (B, S) = ({run.B}, {run.S})."),
            [f"src_pad (B, S) = ({run.B}, {run.S}): True at padding",
             f"the key axis is the last of the scores {_b(scores)}, so S goes last",
             f"size-1 axes for the heads and the queries, which numpy stretches → {_b(mask)}"], [scores])
    additive = np.where(mask.value, -np.inf, 0.0)  # (B, 1, 1, S): 0 keeps, −inf hides
    right = Operand("mask", additive, tuple(mask.symbolic), mask)
    wrong = Operand("maskᵀ", np.swapaxes(additive, -1, -2), ("B", "1", "S", "1"), mask)
    operand = right if draw.chance(0.5) else wrong
    where = "keys" if operand is right else "queries"
    return works_question(
        "translation.pad_mask", TOPIC, CONVENTION, draw, run, "+", Operand.of(scores, "att_scores"), operand,
        f"In {what} of layer {p.split('.')[1]}, the padding mask is written as 0 (keep) and −inf (hide) "
        f"and laid along the {where} axis: {operand.described()}. Will att_scores + {operand.label} work, "
        "and what comes out?", [scores],
        notes=(("the mask hides padded keys (columns) for every query: right",) if operand is right else
               ("laid along the queries, the mask would hide rows, not the padded keys: wrong even where it "
                "happens to broadcast",)))


def memory_shape(draw: Draw) -> Question:
    run = run_translation(draw)
    t = run.trace
    name = draw.pick(("memory", "memory", "kv"))
    if name == "memory":
        rec, x = t["memory"], t["enc.x"]
        return _shape_question(
            "translation.memory_shape", draw, run, rec,
            "What is the shape of memory, the encoder's output that every decoder layer reads?",
            ("each encoder layer keeps the shape of its input: one C-vector per source position.",
             f"the encoder's input enc.x is {_b(x)}."),
            [f"enc.x {_b(x)}", "self-attention and the feed-forward keep (B, S, C)",
             f"memory {_b(rec)}: computed once per sentence, read by every decoder layer"], [x])
    p = run.layer(draw, "dec") + "cross."
    rec, mem = t[f"{p}kv"], t["memory"]
    return _shape_question(
        "translation.memory_shape", draw, run, rec,
        f"Decoder layer {p.split('.')[1]} projects the memory into its cross-attention keys and values in "
        "one matrix c_kv.w of shape (C, 2·C). What is the shape of kv = memory @ c_kv.w + c_kv.b?",
        ("a linear layer on every source position: (B·S, C) @ (C, 2·C).", f"memory is {_b(mem)}."),
        [f"memory {_b(mem)} viewed (B·S, C) = ({run.B * run.S}, {run.config.n_embd})",
         f"@ c_kv.w (C, 2·C) → (B·S, 2·C), viewed {_b(rec)}: keys and values side by side"], [mem])


def loss_positions(draw: Draw) -> Question:
    """How many target positions the loss counts: the decoder input shifted, padding left out."""
    run = run_translation(draw)
    t = run.trace
    out = t["tgt_out"]
    real = out.value[out.value != PAD]
    lens = run.tgt_lens
    pieces = [n - 1 for n in lens]  # the French pieces before </s>
    return Question(
        card_id="translation.loss_positions", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=(f"The French sentences have {', '.join(map(str, pieces))} pieces (row by row). The decoder "
             "reads <s> + the pieces and is trained to write the pieces + </s>, padded to T. How many "
             "positions does the loss count? Answer with a number."),
        convention=CONVENTION, kind="count", answer=int(real.size), letters=LETTERS,
        hints=("tgt_out is the target shifted left by one: each sentence's pieces and then </s>; padding "
               "positions count for nothing.",
               f"pieces per row: {pieces}; T = {run.T}."),
        derivation=(f"each row counts its pieces + 1 (the </s>): {' + '.join(map(str, lens))} = {sum(lens)}",
                    "<s> is only ever an input, never a target",
                    f"the other {run.B * run.T - sum(lens)} of the B·T = {run.B * run.T} positions are "
                    "padding"),
        proof=(proof_line(t["tgt_in"]), proof_line(out), proof_line(t["loss"])), dims=run.dims,
        derived=dict(run.derived), subject="tgt_out", evidence={"arrays": {"tgt_out != pad": real}},
    )


def smoothed_target(draw: Draw) -> Question:
    """The label-smoothed target row q, read back from the engine's gradient (dlogits = (probs − q)/n):
    how many of its entries are above zero, or how much larger it is at the right piece."""
    run = run_translation(draw)
    model, t = run.model, run.trace
    V, eps = run.config.vocab_size, 0.1
    model.backward(t)
    d, probs = t["dlogits"].value, t["probs"].value  # (B*T, V), row 0 is a real position
    n = int((t["tgt_out"].value != PAD).sum())
    q = probs[0] - n * d[0]  # (V,) the target row the loss compared row 0 with
    target = int(t["tgt_out"].value[0, 0])
    other = next(v for v in range(3, V) if v != target)
    common = dict(card_id="translation.smoothed_target", topic=TOPIC, level=draw.level, setting=run.setting(),
                  convention=CONVENTION, letters=LETTERS, dims=run.dims, derived=dict(run.derived),
                  subject="q", proof=(proof_line(t["probs"]), proof_line(t["dlogits"])))
    rule = (f"The loss smooths each target with ε = {eps}: 1 − ε on the right piece, and ε shared equally by "
            "every other piece except <pad>, which gets nothing.")
    if draw.level == 0 or draw.chance(0.5):
        kept = q[q > 1e-12]
        return Question(
            **common, kind="count", answer=int(kept.size),
            ask=f"{rule} How many of the V entries of one position's target row q are above zero? Answer "
                "with a number.",
            hints=("the right piece gets 1 − ε, the others ε/(V − 2), <pad> exactly 0.", f"V = {V}."),
            derivation=(f"V = {V} entries: the right piece, V − 2 = {V - 2} others, and <pad>",
                        f"all but <pad> are above zero: V − 1 = {V - 1}",
                        "smoothing mass on <pad> would teach the model to write padding"),
            evidence={"arrays": {"q > 0": kept}})
    answer = (1 - eps) * (V - 2) / eps
    measured = float(q[target] / q[other])
    return Question(
        **common, kind="number", answer=answer,
        ask=f"{rule} How many times larger is q at the right piece than at one wrong piece? Answer with a "
            "number.",
        hints=("the right piece gets 1 − ε; each of the V − 2 wrong pieces (not <pad>) ε/(V − 2).",
               f"ε = {eps}, V = {V}."),
        derivation=(f"a wrong piece: ε/(V − 2) = {eps}/{V - 2} = {eps / (V - 2):.5f}",
                    f"(1 − ε) / (ε/(V − 2)) = {1 - eps:.1f} · {V - 2} / {eps} = {answer:.1f}",
                    f"read back from the engine's gradient (q = probs − n·dlogits): {measured:.3f}"),
        evidence={"value": measured, "within": 1e-6 * answer}, tolerance=0.5)


def beam_shape(draw: Draw) -> Question:
    """The shape of beam search's finished beams: (B, beams, 1 + max_new)."""
    from engine.translation.decode import beam_search

    run = run_translation(draw)
    model = run.model
    beams = int(draw.rng.integers(2, 6))
    max_new = int(draw.rng.integers(2, model.config.max_len))
    src = run.trace["src"].value
    tracer = Tracer(dims={**run.trace.dims, "beams": beams, "t": max_new + 1})
    beam_search(model, src, beam=beams, max_new=max_new, tracer=tracer, banned=(PAD, EOS))
    traced = tracer["beam_tokens"]
    rec = dataclasses.replace(traced, symbolic=("B", "beams", "max_new+1"))
    view = BeamRun(run, beams, max_new)
    return shape_question(
        "translation.beam_shape", TOPIC, CONVENTION, draw, view, rec,
        f"Beam search with beams={beams} translates the B source sentences, max_new={max_new} pieces "
        "each (here </s> is never chosen, so every beam runs to max_new). What is the shape of "
        "beam_tokens, the finished beams with their <s> in front?",
        ("each source sentence keeps `beams` candidate translations; each is <s> followed by the pieces "
         "written so far.", f"B = {run.B}, beams = {beams}, max_new = {max_new}."),
        [f"B = {run.B} sentences × beams = {beams} candidates each",
         f"each candidate: <s> + max_new = {max_new} pieces → {max_new + 1} places",
         f"beam_tokens {format_shape(rec.shape)}; while searching, the decoder ran on B·beams = "
         f"{run.B * beams} rows at once"], [])


@dataclass
class BeamRun:
    """A traced run seen by a beam-search question: two more letters, beams and max_new."""

    run: TranslationRun
    beams: int
    max_new: int
    letters = (*LETTERS, "beams", "max_new")
    derived = {"C": "nh*hs"}

    @property
    def dims(self) -> dict[str, int]:
        return {**self.run.dims, "beams": self.beams, "max_new": self.max_new}

    def setting(self) -> str:
        return self.run.setting()


def layer_params(draw: Draw) -> Question:
    """Parameters of an encoder layer against a decoder layer (the decoder has one more attention)."""
    run = run_translation(draw)
    params = run.model.params
    side = draw.pick(("enc", "dec", "dec"))
    n_layers = run.config.n_layer if side == "enc" else run.config.n_dec_layer
    p = f"{side}.h{int(draw.rng.integers(n_layers))}."
    names = [n for n in params if n.startswith(p)]
    total = int(sum(params[n].size for n in names))
    C, F = run.config.n_embd, run.config.d_ff
    lines = [f"{n}: {' × '.join(map(str, params[n].shape))} = {params[n].size:,}" for n in names]
    lines.append(f"total: {total:,}")
    what = ("one encoder layer (self-attention, feed-forward, two LayerNorms)" if side == "enc" else
            "one decoder layer (self-attention, cross-attention, feed-forward, three LayerNorms)")
    shown = [n for n in names if n in run.trace]
    return Question(
        card_id="translation.layer_params", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=f"How many parameters (weights and biases) does {what} have? Answer with a number.",
        convention=CONVENTION, kind="count", answer=total, letters=LETTERS,
        hints=("a linear layer n_in → n_out has n_in·n_out + n_out; self-attention is C → 3C and C → C; "
               "cross-attention C → C (queries), C → 2C (keys, values) and C → C; the feed-forward "
               "C → d_ff → C; a LayerNorm 2·C.", f"C = {C}, d_ff = {F}."),
        derivation=tuple(lines), proof=tuple(proof_line(run.trace[n]) for n in shown[:6]),
        dims=run.dims, derived=dict(run.derived), subject=",".join(names),
        evidence={"arrays": {n: params[n] for n in names}},
    )


CARDS = (
    ("translation.cross_scores_shape", "cross-attention: target queries, source keys", cross_scores_shape),
    ("translation.pad_mask", "the padding mask and its broadcast", pad_mask),
    ("translation.memory_shape", "the memory and its keys and values", memory_shape),
    ("translation.loss_positions", "the decoder's input and target, shifted by one", loss_positions),
    ("translation.smoothed_target", "the label-smoothed target row", smoothed_target),
    ("translation.beam_shape", "beam search's beams", beam_shape),
    ("translation.layer_params", "parameters of an encoder and a decoder layer", layer_params),
)
