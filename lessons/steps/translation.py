"""Step script of lessons/translation.md: the encoder–decoder of engine/translation/ on sentence pairs.

Three runs, each traced:

* ``pair``: the lesson's own untrained model (one encoder layer, one decoder layer, post-LN, at
  the learner's C and nh) on a batch of B English–French pairs, teacher-forced: the source cut
  or padded to S pieces, the decoder's input (``<s>`` + the reference) and its target (the
  reference + ``</s>``) cut or padded to T. Row 0 is always the pizza sentence. The lesson walks
  this one from the pieces to the label-smoothed loss;
* ``decode``: the pizza sentence translated greedily and with beam search (4 beams), step by
  step, by the translator (below);
* ``pizza``: the two pizza sentences ("... and it tasted good.", "... and it was turned off.")
  with their French references teacher-forced through the translator: the probability of
  "elle" against "il" where the pronoun comes, and the cross-attention row of that position.

The pair run is here; the decode and pizza runs are in :mod:`lessons.steps.translation_decoding`,
and what the three share (the sentences, the vocabulary, :func:`full_dims`, the models, the
translator) in :mod:`lessons.steps.translation_model`; ``TRACES`` names all three.

The translator is kqv's own trained model when one is kept where the Train screen and
``kqv train translate --out`` put it (:func:`kept_translator`); otherwise it is the lesson's
untrained model, and the notes say so: an untrained model cannot answer the pizza question.

The vocabulary of the lesson's own model is a byte-level BPE (:mod:`engine.data.bpe`) learnt
from the lesson's pairs, so it is the same on every machine; a trained checkpoint brings its
own. All the maths is the engine's: this module makes token ids and picks views of the trace.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.data.bpe import BOS_ID, EOS_ID, PAD_ID, BPEVocab
from engine.trace import Tracer
from engine.translation.model import Transformer
from lessons.model import Extra, RealTraceFn, TraceFn, TraceRun
from lessons.steps.translation_decoding import (  # noqa: F401  (the tests and tools read them here)
    run_decode,
    run_pizza,
    run_real_decode,
    run_real_pizza,
    word_probability,
    word_weight,
)
from lessons.steps.translation_model import (  # noqa: F401  (full_dims is the step script's; the tests read the rest here)
    BEAMS,
    PAIRS,
    PIZZA,
    PRONOUN_PREFIX,
    LessonText,
    batch,
    full_dims,
    kept_path,
    kept_translator,
    lesson_vocab,
    model_for,
)

EXTRAS = {"pieces", "pad_mask", "enc_attn", "memory", "dec_attn", "cross_attn", "norms", "smoothing",
          "beams", "pizza"}


# -- the pair run ------------------------------------------------------------------------------------


def run_pair(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    vocab = lesson_vocab()
    src, tgt_in, tgt_out = batch(vocab, d["B"], d["S"], d["T"])
    model = model_for(d, seed)
    tracer = Tracer(dims=d)
    logits = model.forward(src, tgt_in, tracer=tracer)  # no rng: evaluation mode, dropout off
    model.loss(logits, tgt_out, smoothing=0.1, tracer=tracer)
    src_pieces = [vocab.pieces(row) for row in src]
    tgt_pieces = [vocab.pieces(row) for row in tgt_in]
    notes = [f"untrained model, 1 encoder + 1 decoder layer, post-LN, random weights (seed {seed}); "
             f"row 0: {' '.join(src_pieces[0])}  →  {' '.join(tgt_pieces[0])}"]
    # tokens name the rows and columns of (B, nh, T, T) matrices: the decoder's French pieces
    return TraceRun(tracer, d, notes=notes, tokens=tgt_pieces, source_tokens=src_pieces,
                    extras=_pair_extras(tracer, model, d, src_pieces, tgt_pieces, tgt_out, seed))


def _pair_extras(tracer: Tracer, model: Transformer, d: dict, src_pieces, tgt_pieces, tgt_out,
                 seed: int) -> dict[str, Extra]:
    vocab = lesson_vocab()
    S = d["S"]
    src = tracer["src"].value
    pad = tracer["enc.h0.pad_mask"].value  # (B, 1, 1, S) True at padding
    additive = np.where(pad[:, 0, 0, :], -np.inf, 0.0)  # (B, S): what the mask adds to each row of scores
    cross = tracer["dec.h0.cross.att"].value
    return {
        "pieces": {"notes": _pieces_notes(vocab, src, src_pieces, tgt_pieces)},
        "pad_mask": {"heatmap": ("enc.h0.att_masked[B-1, 0]: the last row's scores, padding hidden",
                                 tracer["enc.h0.att_masked"].value[-1, 0], "source query", "source key",
                                 src_pieces[-1], src_pieces[-1]),
                     "notes": [f"the mask as numbers added to every row of scores (0 keeps, −inf hides), "
                               f"one row per sentence, S = {S} columns:"]
                     + [f"row {b}: " + " ".join("−inf" if np.isinf(x) else "0" for x in row)
                        + f"   ({int(pad[b].sum())} padding)" for b, row in enumerate(additive)]},
        "enc_attn": {"heatmap": ("enc.h0.att[0, 0]: row 0, head 0, no causal mask",
                                 tracer["enc.h0.att"].value[0, 0], "source query", "source key",
                                 src_pieces[0], src_pieces[0]),
                     "notes": _enc_attn_notes(tracer, src_pieces)},
        "memory": {"notes": _memory_notes(tracer, model)},
        "dec_attn": {"heatmap": ("dec.h0.att[0, 0]: the decoder's causal self-attention",
                                 tracer["dec.h0.att"].value[0, 0], "target query", "target key",
                                 tgt_pieces[0], tgt_pieces[0]),
                     "notes": _shift_notes(vocab, tracer["tgt_in"].value, tgt_out)},
        "cross_attn": _once(lambda: {
            "heatmap": ("dec.h0.cross.att[0, 0]: French rows (queries), English columns (keys)", cross[0, 0],
                        "target (French) query", "source (English) key", tgt_pieces[0], src_pieces[0]),
            "notes": _cross_notes(tracer, tgt_pieces, src_pieces) + trained_alignment()}),
        "norms": _once(lambda: {"notes": _norm_notes(tracer, d, seed)}),  # a second model: on demand, once
        "smoothing": {"notes": _smoothing_notes(tracer, vocab, d)},
    }


def _once(make):
    """``make``, called the first time it is asked for and remembered after (a costly extra)."""
    made: list = []

    def get():
        if not made:
            made.append(make())
        return made[0]

    return get


def _pieces_notes(vocab: BPEVocab, src, src_pieces, tgt_pieces) -> list[str]:
    english, french = PAIRS[0]
    ids = vocab.encode(french)
    lines = [f"the pair: {english!r} → {french!r}",
             "English pieces (id): " + _pairs(src_pieces[0], src[0]),
             "French pieces (id): " + _pairs(vocab.pieces(ids), ids),
             f"one vocabulary of V = {vocab.size} pieces for both languages (the 256 bytes, <pad> <s> </s>, "
             "and merges learnt from both sides); '▁' marks a piece that starts with a space"]
    shared = sorted({p for p in vocab.pieces(vocab.encode(english))} & set(vocab.pieces(ids)))
    if shared:
        lines.append(f"pieces both sentences use, one row of wte each: {', '.join(shared)}")
    lines.append(real_pair_note())
    return lines


def _pairs(pieces, ids) -> str:
    return "  ".join(f"{p}={i}" for p, i in zip(pieces, ids, strict=True))


def forget_found_pairs() -> None:
    """Look for the Tatoeba pairs again at the next note (the app calls this after downloading them)."""
    real_pair_note.cache_clear()


@lru_cache(maxsize=1)
def real_pair_note() -> str:
    """A real pair of the Tatoeba file when it is on this machine, else where to get it."""
    from engine.data.eng_fra import find_eng_fra

    path = find_eng_fra()
    if path is None:
        return ("the Tatoeba English-French file is not on this machine (D on the home screen or "
                "kqv data eng-fra fetches it); the lesson's own pairs are written for it")
    try:
        with open(path, encoding="utf-8") as f:
            for _, line in zip(range(20_000), f, strict=False):
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2 and " cat " in f" {parts[0]} ":
                    return f"a real pair from {path.name} (Tatoeba): {parts[0]!r} → {parts[1]!r}"
    except (OSError, UnicodeDecodeError):
        pass
    return f"{path.name} is on this machine; kqv train translate learns from its pairs"


def _enc_attn_notes(tracer: Tracer, src_pieces) -> list[str]:
    att = tracer["enc.h0.att"].value[0, 0]  # (S, S)
    S = att.shape[0]
    real = [p != "<pad>" for p in src_pieces[0]]
    first = att[0]
    return [f"row 0 ({src_pieces[0][0]!r}) gives weight to {int((first > 0).sum())} of the S = {S} source "
            f"positions: every real piece, before it and after it; the first piece sees the last, which a "
            "causal mask would forbid",
            f"sentence 0 has {sum(real)} real pieces; row 0's weights on them sum to "
            f"{first[real].sum():.3f}"]


def _memory_notes(tracer: Tracer, model: Transformer) -> list[str]:
    mem = tracer["memory"].value
    B, S, C = mem.shape
    return [f"memory holds B·S·C = {mem.size:,} numbers; each decoder layer projects it once into its "
            f"keys and values (cross.kv is (B, S, 2·C) = ({B}, {S}, {2 * C}))",
            "while translating, the encoder runs once per sentence and each layer's keys and values are "
            "kept: every new French piece reuses them (engine/translation/decode.py: encode_for_decoding)",
            f"this model has {model.config.n_dec_layer} decoder layer(s), so the memory is read "
            f"{model.config.n_dec_layer} time(s) per target position"]


def _shift_notes(vocab: BPEVocab, tgt_in, tgt_out) -> list[str]:
    rows = []
    for t, (a, b) in enumerate(zip(vocab.pieces(tgt_in[0]), vocab.pieces(tgt_out[0]), strict=True)):
        rows.append(f"{t}: {a} → {b}")
    return ["position t of tgt_in reads this piece and is trained to say the piece of tgt_out "
            "(the same sentence, one place to the left):", "  ".join(rows)]


def _cross_notes(tracer: Tracer, tgt_pieces, src_pieces) -> list[str]:
    att = tracer["dec.h0.cross.att"].value  # (B, nh, T, S)
    B, nh, T, S = att.shape
    real = np.array([p != "<pad>" for p in src_pieces[0]])
    lines = [f"cross.q is (B, nh, T, hs), cross.k and cross.v are (B, nh, S, hs): T = {T} queries, S = {S} "
             f"keys; the scores (B, nh, T, S) have one row per French position"]
    if B > 1:
        padded = int((src_pieces[-1:] and sum(p == "<pad>" for p in src_pieces[-1])) or 0)
        lines.append(f"sentence {B - 1} has {padded} padding column(s): their weight in every row is "
                     f"{att[B - 1, :, :, ~np.array([p != '<pad>' for p in src_pieces[-1]])].sum():.1f}")
    peak = att[0].mean(axis=0)[:, real].max(axis=1) if real.any() else np.zeros(T)
    n = max(int(real.sum()), 1)
    lines.append(f"untrained: each row is near uniform, about 1/{n} = {1 / n:.2f} per English piece; the "
                 f"largest weight in any row (mean over heads) is {peak.max():.2f}. "
                 "Alignment (chat → cat) only comes with training: the pizza step reads a trained model "
                 "when one is kept")
    return lines


ALIGNED = ("The cat is asleep.", "Le chat dort.")  # a pair whose alignment is easy to read


def trained_alignment() -> list[str]:
    """With a kept trained model: for each French piece of ALIGNED, the English piece its
    cross-attention row weighs most (last decoder layer, mean over heads), teacher-forced."""
    kept, _ = kept_translator()
    if kept is None:
        return []
    model, vocab, _ = kept
    text = LessonText(vocab)
    src = np.array([text.source(ALIGNED[0])], dtype=np.int64)
    out = text.target(ALIGNED[1]) + [EOS_ID]
    tracer = Tracer(dims=model.dims(1, src.shape[1], len(out)))
    model.forward(src, np.array([[BOS_ID] + out[:-1]], dtype=np.int64), tracer=tracer)
    att = tracer[f"dec.h{model.config.n_dec_layer - 1}.cross.att"].value[0].mean(axis=0)  # (T, S)
    english, french = text.pieces(src[0]), text.pieces(out)
    pairs = [f"{f} ← {english[int(row.argmax())]} {row.max():.2f}"
             for f, row in zip(french, att, strict=True)]
    return [f"the kept trained model on {ALIGNED[0]!r} → {ALIGNED[1]!r}: for each French piece written, the "
            "English piece its row (last decoder layer, mean over heads) weighs most: " + ", ".join(pairs)]


def _norm_notes(tracer: Tracer, d: dict, seed: int) -> list[str]:
    """The stream's size through the encoder layer, post-LN (this run) against pre-LN (same weights)."""
    vocab = lesson_vocab()
    src, tgt_in, tgt_out = batch(vocab, d["B"], d["S"], d["T"])
    pre = model_for(d, seed, norm="pre")
    other = Tracer(dims=d)
    pre.loss(pre.forward(src, tgt_in, tracer=other), tgt_out, tracer=other)
    real = tracer["src"].value != PAD_ID  # (B, S)

    def std(tr: Tracer, name: str) -> str:
        return f"{tr[name].value[real].std():.3f}"

    return [f"post-LN (this run, the paper): x {std(tracer, 'enc.x')} → x_attn "
            f"{std(tracer, 'enc.h0.x_attn')} → ln_1 {std(tracer, 'enc.h0.ln_1')} → x_mlp "
            f"{std(tracer, 'enc.h0.x_mlp')} → ln_2 "
            f"{std(tracer, 'enc.h0.ln_2')} (std over the real source pieces)",
            f"pre-LN (GPT-2's order, the same seed): x {std(other, 'enc.x')} → x_attn "
            f"{std(other, 'enc.h0.x_attn')} → x_out {std(other, 'enc.h0.x_out')} → enc.ln_f "
            f"{std(other, 'enc.ln_f')}: the stream keeps every sum, only the final LayerNorm rescales it",
            f"loss of the untrained model: post-LN {float(tracer['loss'].value):.3f}, pre-LN "
            f"{float(other['loss'].value):.3f} (both near the uniform guess; the order matters for training)"]


def _smoothing_notes(tracer: Tracer, vocab: BPEVocab, d: dict) -> list[str]:
    from engine.translation.loss import smoothed_cross_entropy_forward

    V, eps = d["V"], 0.1
    probs = tracer["probs"].value  # (B*T, V)
    target = int(tracer["tgt_out"].value[0, 0])
    q = np.full(V, eps / (V - 2))
    q[PAD_ID] = 0.0
    q[target] = 1 - eps
    piece = vocab.pieces([target])[0]
    logits = tracer["logits"].value
    B, T = logits.shape[:2]
    flat, targets = logits.reshape(B * T, V).astype(np.float64), tracer["tgt_out"].value.reshape(-1)
    plain = smoothed_cross_entropy_forward(flat, targets, PAD_ID, 0.0)[0]
    smooth = float(tracer["loss"].value)
    real = int((targets != PAD_ID).sum())
    shown = ", ".join(f"{x:.5f}" for x in q[:6])
    return [f"q for row 0, position 0 (the target is {piece!r}, id {target}): 1 − ε = {1 - eps:.1f} there, "
            f"ε/(V − 2) = {eps}/{V - 2} = {eps / (V - 2):.5f} on each of the other V − 2 pieces, 0 on <pad>",
            f"q[0:6] = [{shown}, …]; it sums to {q.sum():.3f}",
            f"the model's probs for that row put {probs[0, target]:.4f} on {piece!r} (a uniform guess: 1/V = "
            f"{1 / V:.4f})",
            f"loss over the {real} real target positions (B·T = {B * T}, padding left out): smoothed "
            f"{smooth:.3f}, plain cross-entropy {plain:.3f}, ln V = {np.log(V):.3f}"]


TRACES: dict[str, TraceFn] = {"pair": run_pair, "decode": run_decode, "pizza": run_pizza}
# the runs whose sentences (and a trained model's sizes) fix B, S and T, whatever the learner chose
OWN_SIZES = ("decode", "pizza")
# with --model (a MarianMT folder or hub name) or the g key, the last two steps ask a real translator
REAL_MODEL_TRACES: dict[str, RealTraceFn] = {"decode": run_real_decode, "pizza": run_real_pizza}
