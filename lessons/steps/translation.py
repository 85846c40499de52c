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

The translator is kqv's own trained model when one is kept where the Train screen and
``kqv train translate --out`` put it (:func:`kept_translator`); otherwise it is the lesson's
untrained model, and the notes say so: an untrained model cannot answer the pizza question.

The vocabulary of the lesson's own model is a byte-level BPE (:mod:`engine.data.bpe`) learnt
from the lesson's pairs, so it is the same on every machine; a trained checkpoint brings its
own. All the maths is the engine's: this module makes token ids and picks views of the trace.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.data.bpe import BOS_ID, EOS_ID, PAD_ID, BPEVocab, pad_batch
from engine.errors import KqvError
from engine.layers import check_heads, head_counts
from engine.trace import Tracer
from engine.translation.model import Transformer, TransformerConfig
from lessons.model import Extra, RealTraceFn, TraceFn, TraceRun

# Our own sentences (not from the Tatoeba file). Row 0 of every batch is the pizza sentence.
PAIRS = [
    ("The pizza came out of the oven and it tasted good.",
     "La pizza est sortie du four et elle était bonne."),
    ("The cat is asleep.", "Le chat dort."),
    ("I like cheese.", "J'aime le fromage."),
    ("The oven is hot.", "Le four est chaud."),
    ("She ate the whole pizza.", "Elle a mangé toute la pizza."),
    ("He turned off the oven.", "Il a éteint le four."),
    ("We are hungry.", "Nous avons faim."),
    ("The bread smells good.", "Le pain sent bon."),
]
# the pizza question: the same start, two endings; "it" is the pizza (elle) or the oven (il)
PIZZA = [
    ("The pizza came out of the oven and it tasted good.",
     "La pizza est sortie du four et elle était bonne.", "pizza"),
    ("The pizza came out of the oven and it was turned off.",
     "La pizza est sortie du four et il était éteint.", "oven"),
]
PRONOUN_PREFIX = "La pizza est sortie du four et"  # the French up to the pronoun
PRONOUNS = ("elle", "il")  # feminine (la pizza), masculine (le four); a word may be several pieces
LESSON_VOCAB = 340  # the 256 bytes, 3 specials and some merges: short words whole, longer ones cut
MAX_LEN = 16  # the longest S and T the lesson allows
BEAMS = 4
MAX_HEADS = 16
LN_EPS_NOTE = "ε = 10⁻⁵"

EXTRAS = {"pieces", "pad_mask", "enc_attn", "memory", "dec_attn", "cross_attn", "norms", "smoothing",
          "beams", "pizza"}


# -- the vocabulary, the batch, the model ---------------------------------------------------------


@lru_cache(maxsize=1)
def lesson_vocab() -> BPEVocab:
    """A byte-level BPE learnt from the lesson's own sentences, both languages together."""
    texts = [side for pair in PAIRS for side in pair] + [side for s, t, _ in PIZZA for side in (s, t)]
    return BPEVocab.train(texts, LESSON_VOCAB)


def full_dims(dims: dict) -> dict[str, int]:
    """The learner's B, S, T, C, nh plus hs = C // nh, V, d_ff = 4C and the model's fixed sizes."""
    B, S, T, C, nh = (int(dims.get(k, d)) for k, d in (("B", 3), ("S", 14), ("T", 13), ("C", 32), ("nh", 4)))
    for name, value, top in (("B", B, len(PAIRS)), ("S", S, MAX_LEN), ("T", T, MAX_LEN)):
        if not 1 <= value <= top:
            raise KqvError(f"{name} must be between 1 and {top}, not {value}")
    if C > 0 and nh > 0 and C % nh:
        valid = ", ".join(str(h) for h in head_counts(C, MAX_HEADS))
        raise KqvError(f"channels per token (C) = {C} is not divisible by attention heads (nh) = {nh}: "
                       f"each head takes C/nh channels; with C = {C}, nh can be {valid}")
    check_heads(C, nh)
    from engine.translation.evaluate import max_new_tokens

    # the decode step's sizes for the lesson's own model (a trained one brings its own)
    max_new = max_new_tokens(len(lesson_vocab().encode(PIZZA[0][0])) + 1, 2 * MAX_LEN)
    return {"B": B, "S": S, "T": T, "C": C, "nh": nh, "hs": C // nh, "V": lesson_vocab().size,
            "d_ff": 4 * C, "max_len": 2 * MAX_LEN, "n_layer": 1, "n_dec_layer": 1,
            "beams": BEAMS, "max_new": max_new, "t": 1 + max_new}


def fit(ids: list[int], n: int) -> list[int]:
    """``ids`` cut to ``n`` or padded to ``n`` with the pad id."""
    return ids[:n] + [PAD_ID] * max(0, n - len(ids))


def batch(vocab: BPEVocab, B: int, S: int, T: int):
    """``src (B, S)``, ``tgt_in (B, T)``, ``tgt_out (B, T)`` of the first B pairs, as training makes
    them: source = pieces + </s>, decoder input = <s> + pieces, target = pieces + </s>; each cut
    or padded to S or T. Also the pieces of each row, for labels."""
    src, tgt_in, tgt_out = [], [], []
    for english, french in PAIRS[:B]:
        s, t = vocab.encode(english), vocab.encode(french)
        src.append(fit(s + [EOS_ID], S))
        tgt_in.append(fit([BOS_ID] + t, T))
        tgt_out.append(fit(t + [EOS_ID], T))
    src, tgt_in, tgt_out = (np.array(a, dtype=np.int64) for a in (src, tgt_in, tgt_out))
    return src, tgt_in, tgt_out


def model_for(d: dict, seed: int, norm: str = "post") -> Transformer:
    """The lesson's untrained model: one encoder and one decoder layer, the paper's choices."""
    cfg = TransformerConfig(vocab_size=d["V"], n_embd=d["C"], n_head=d["nh"], n_layer=1, n_dec_layer=1,
                            d_ff=d["d_ff"], max_len=d["max_len"], dropout=0.1, norm=norm)
    return Transformer(cfg, seed=seed)


# -- the trained model, when there is one -----------------------------------------------------------


def kept_path() -> Path:
    """Where the app keeps the translation model it trains (``kqv train translate --out`` it there)."""
    from engine.files.paths import state_dir

    return state_dir() / "models" / "translate.npz"


def train_hint() -> str:
    return (f"make one with: kqv train translate --out {kept_path()} (the English-French pairs, "
            "1,200 iterations of a 2+2-layer model with C = 128: 10 to 20 minutes at 470-810 ms an "
            "iteration on a busy two-core machine, then a few minutes of test BLEU; --max-iters 400 for a "
            "quicker, weaker one; or press t on the Train screen)")


@lru_cache(maxsize=2)
def _load_kept(path: str, mtime: float):
    from engine.translation.checkpoint import load_translator

    model, vocab, meta = load_translator(path)
    return model, vocab, meta


def kept_translator():
    """``(model, vocab, meta)`` of the kept trained model, or None (with the reason) when there is none
    or it cannot be read."""
    path = kept_path()
    if not path.is_file():
        return None, "no trained translation model is kept on this machine"
    try:
        return _load_kept(str(path), os.path.getmtime(path)), ""
    except KqvError as exc:
        return None, f"the kept model {path} cannot be read ({exc})"


class LessonText:
    """Text to ids and back for a kqv model: its byte-level BPE, with the training's </s> and <s>."""

    def __init__(self, vocab: BPEVocab):
        self.vocab, self.bos, self.pad = vocab, BOS_ID, PAD_ID

    def source(self, text: str) -> list[int]:  # the pieces + </s>, as training feeds the encoder
        return self.vocab.encode(text) + [EOS_ID]

    def target(self, text: str) -> list[int]:  # the pieces, no </s>
        return self.vocab.encode(text)

    def word(self, word: str) -> list[int]:  # a word's pieces where it follows others (" elle")
        return self.vocab.encode(" " + word)

    def pieces(self, ids) -> list[str]:
        return self.vocab.pieces(ids)

    def decode(self, ids) -> str:
        return self.vocab.decode(ids)


class MarianText:
    """The same for a MarianMT folder: source.spm for English, target.spm for French, one vocab.json;
    the decoder starts from the pad id (Marian's decoder_start_token_id)."""

    def __init__(self, tokenizer, config: TransformerConfig):
        self.tok, self.bos, self.pad = tokenizer, config.bos_id, config.pad_id

    def source(self, text: str) -> list[int]:
        return [int(i) for i in self.tok.encode(text)]

    def target(self, text: str) -> list[int]:
        return [int(i) for i in self.tok.encode_target(text)[:-1]]

    def word(self, word: str) -> list[int]:
        return [int(i) for i in self.tok.encode_target(word)[:-1]]

    def pieces(self, ids) -> list[str]:
        return self.tok.pieces(ids)

    def decode(self, ids) -> str:
        return self.tok.decode(ids)


class Translator:
    """The model the decode and pizza steps ask: MarianMT when one is given (``--model``, the g key),
    else kqv's own trained model if one is kept, else the lesson's untrained one."""

    def __init__(self, dims: dict, seed: int, marian: str | None = None):
        self.beam_options: dict = {}
        self.real = marian is not None
        if marian is not None:
            model, generation, tokenizer, folder = load_marian_once(marian)
            self.model, self.text, self.trained = model, MarianText(tokenizer, model.config), True
            cfg = model.config
            self.beam_options = dict(length_penalty=generation.length_penalty, banned=generation.banned,
                                     renormalize=generation.renormalize)
            self.describe = (f"the MarianMT weights in {folder}: {cfg.n_layer}+{cfg.n_dec_layer} layers, "
                             f"C = {cfg.n_embd}, nh = {cfg.n_head}, V = {cfg.vocab_size} (SentencePiece); "
                             "press g for the lesson's own model")
            return
        kept, why = kept_translator()
        if kept is not None:
            self.model, vocab, meta = kept
            self.text, self.trained = LessonText(vocab), True
            cfg = self.model.config
            self.describe = (f"kqv's own trained model ({kept_path()}): {cfg.n_layer}+{cfg.n_dec_layer} "
                             f"layers, C = {cfg.n_embd}, nh = {cfg.n_head}, V = {cfg.vocab_size}, trained "
                             f"{meta.get('iter', '?')} iterations on {meta.get('pairs', '?')}")
        else:
            d = full_dims(dims)
            self.model, self.text, self.trained = model_for(d, seed), LessonText(lesson_vocab()), False
            self.describe = (f"the lesson's UNTRAINED model (random weights, seed {seed}; C = {d['C']}, "
                             f"nh = {d['nh']}, V = {d['V']}): {why}; {train_hint()}")


@lru_cache(maxsize=1)
def load_marian_once(model: str):
    """A MarianMT folder (or hub name) loaded once per process: (model, generation, tokenizer, folder)."""
    from engine.hf.marian import load_pretrained

    return load_pretrained(model)


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


@lru_cache(maxsize=1)
def real_pair_note() -> str:
    """A real pair of the Tatoeba file when it is on this machine, else where to get it."""
    from engine.data.eng_fra import find_eng_fra

    path = find_eng_fra()
    if path is None:
        return ("the Tatoeba English-French file is not on this machine (kqv data eng-fra fetches it); "
                "the lesson's own pairs are written for it")
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


# -- the decode run ----------------------------------------------------------------------------------


def run_decode(dims: dict, seed: int, marian: str | None = None) -> TraceRun:
    from engine.translation.decode import beam_search, greedy
    from engine.translation.evaluate import max_new_tokens

    tr = Translator(dims, seed, marian)
    model, text = tr.model, tr.text
    english = PIZZA[0][0]
    src = np.array([text.source(english)], dtype=np.int64)  # (1, S)
    max_new = max_new_tokens(src.shape[1], model.config.max_len)
    steps: list = []
    tracer = Tracer()
    best = beam_search(model, src, beam=BEAMS, max_new=max_new, tracer=tracer, steps=steps,
                       **tr.beam_options)[0]
    first = greedy(model, src, max_new=max_new, banned=tr.beam_options.get("banned"))[0]
    d = {**model.dims(1, src.shape[1], 1), "beams": BEAMS, "t": 1 + max_new, "max_new": max_new}
    tracer.dims = d
    lines = [f"source: {english!r}, S = {src.shape[1]} pieces with </s>; at most {max_new} new pieces",
             f"greedy: {_text(text, first)}", f"beam {BEAMS}: {_text(text, best)}"]
    lines += _beam_lines(steps, text)
    if not tr.trained:
        lines.append("untrained: both outputs are pieces chosen by random weights, not French; a uniform "
                     f"guess would score −ln V = {-np.log(model.config.vocab_size):.2f} per piece, and the "
                     "random model's guesses are more peaked than that, not better")
    return TraceRun(tracer, d, notes=[tr.describe], extras={"beams": {"notes": lines}})


def _text(vocab, ids) -> str:
    """The words of ``ids``, or their pieces when they are special pieces only (an untrained model
    may write <s> again and again)."""
    words = vocab.decode(ids)
    return repr(words) if words.strip() else " ".join(vocab.pieces(ids)) or "(nothing)"


def _beam_lines(steps, vocab, shown: int = 4) -> list[str]:
    from engine.translation.decode import NEG

    lines = []
    for step in steps[:shown]:
        beams = []
        for k in range(step.running.shape[1]):
            score = step.running_scores[0, k]
            if score <= NEG / 2:
                continue
            tokens = _text(vocab, step.running[0, k, 1:])
            beams.append(f"{tokens} {score:.2f} (from beam {step.parents[0, k]})")
        lines.append(f"step {step.t - 1}: " + "; ".join(beams))
    done = steps[-1] if steps else None
    if done is not None:
        fin = [f"{s:.3f} ({n} pieces)"
               for s, n in zip(done.finished_scores[0], done.finished_len[0], strict=True) if s > NEG / 2]
        lines.append(f"after {len(steps)} steps, finished scores Σ log p / length: " + ", ".join(fin))
    return lines


# -- the pizza run ------------------------------------------------------------------------------------


def _pronoun_position(text, french: str) -> tuple[list[int], int]:
    """The reference's ids and the place in ``tgt_in = <s> + ids`` whose output is the pronoun's first
    piece: the prefix's length (position 0 is <s>)."""
    ids = text.target(french)
    prefix = text.target(PRONOUN_PREFIX)
    if ids[: len(prefix)] != prefix:  # a merge across the boundary: find the longest common start
        n = 0
        while n < min(len(ids), len(prefix)) and ids[n] == prefix[n]:
            n += 1
        prefix = prefix[:n]
    return ids, len(prefix)


def run_pizza(dims: dict, seed: int, marian: str | None = None) -> TraceRun:
    tr = Translator(dims, seed, marian)
    model, vocab = tr.model, tr.text
    sources = [vocab.source(e) for e, _, _ in PIZZA]
    refs, positions = zip(*(_pronoun_position(vocab, f) for _, f, _ in PIZZA), strict=True)
    src = pad_batch(sources, vocab.pad)
    tgt_in = pad_batch([[vocab.bos] + ids for ids in refs], vocab.pad)
    B, S = src.shape
    T = tgt_in.shape[1]
    d = model.dims(B, S, T)
    tracer = Tracer(dims=d)
    model.forward(src, tgt_in, tracer=tracer)  # (B, T, V) logits, traced
    words = [vocab.word(w) for w in PRONOUNS]
    last = f"dec.h{model.config.n_dec_layer - 1}.cross.att"
    att = tracer[last].value  # (B, nh, T, S)
    lines = []
    several = [f"{w} is {len(ids)} pieces here ({' '.join(vocab.pieces(ids))}): its probability is "
               "the product of each piece's, given the ones before"
               for w, ids in zip(PRONOUNS, words, strict=True) if len(ids) > 1]
    lines += several
    figure = None
    prefers = []
    logits = tracer["logits"].value.astype(np.float64)  # (B, T, V)
    for b, ((english, _, meaning), q) in enumerate(zip(PIZZA, positions, strict=True)):
        src_p = vocab.pieces(src[b])
        prefix = list(tgt_in[b, 1:q + 1])
        pe, pi = (word_probability(model, src[b:b + 1], prefix, w, vocab.bos) for w in words)
        prefers.append("elle" if pe > pi else "il")
        row = att[b, :, q, :].mean(axis=0)  # (S,) mean over heads
        top = np.argsort(row)[::-1][:3]
        said = " ".join(vocab.pieces(tgt_in[b, 1:q + 1]))
        z = logits[b, q] - logits[b, q].max()
        p = np.exp(z) / np.exp(z).sum()
        best = np.argsort(p)[::-1][:3]
        lines.append(f"{english!r} (it = the {meaning}): after {said!r}, position {q} of tgt_in: "
                     f"p(elle) = {pe:.4f}, p(il) = {pi:.4f}; its likeliest next pieces there: "
                     + ", ".join(f"{vocab.pieces([j])[0]} {p[j]:.3f}" for j in best))
        n_real = sum(piece != "<pad>" for piece in src_p)
        lines.append(f"  {last} row {q}, mean over heads: "
                     + ", ".join(f"{src_p[j]} {row[j]:.2f}" for j in top)
                     + f"; on 'pizza' {word_weight(src_p, row, 'pizza'):.2f}, on 'oven' "
                     f"{word_weight(src_p, row, 'oven'):.2f} (a uniform row: 1/{n_real} = {1 / n_real:.2f} "
                     "a piece)")
        if b == 0:
            figure = (vocab.pieces([tgt_in[b, q]])[0] + " → ?", src_p, att[b, :, q, :])
    if not tr.trained:
        V = model.config.vocab_size
        lines.append(f"this model is untrained: its probabilities and attention come from random weights (a "
                     f"uniform guess gives a one-piece word 1/V = {1 / V:.4f}); whatever preference shows is "
                     f"chance, not grammar. {train_hint()}")
    elif prefers == ["elle", "il"]:
        lines.append("this model prefers elle for the pizza and il for the oven: its choice follows the noun "
                     "'it' stands for; the attention row shows where it read while choosing, not why")
    else:
        lines.append(f"this model prefers {prefers[0]} for the pizza and {prefers[1]} for the oven: it has "
                     "not tied the pronoun to the right noun in both sentences"
                     + ("" if tr.real else " (a small model, trained briefly; the probabilities say how far "
                        "it is from either)"))
    extra: Extra = {"notes": lines}
    if figure is not None:
        extra["attends"] = figure
    return TraceRun(tracer, d, notes=[tr.describe], extras={"pizza": extra},
                    tokens=[vocab.pieces(row) for row in tgt_in],
                    source_tokens=[vocab.pieces(row) for row in src])


def word_probability(model: Transformer, src: np.ndarray, prefix: list[int], word: list[int],
                     bos: int = BOS_ID) -> float:
    """p(word | source, prefix) for a word of one or more pieces: the product of each piece's
    probability given the prefix and the word's earlier pieces (one teacher-forced forward)."""
    tgt_in = np.array([[bos] + prefix + word[:-1]], dtype=np.int64)  # (1, len(prefix) + len(word))
    logits = model.forward(src, tgt_in)[0].astype(np.float64)  # (T, V)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    at = np.arange(len(prefix), len(prefix) + len(word))
    return float(np.exp(logp[at, word].sum()))


def word_weight(pieces: list[str], row: np.ndarray, word: str) -> float:
    """The weight ``row`` gives the pieces of ``word`` together ("▁o" + "ven" for oven): a word starts
    at the first piece, a piece that begins with '▁', a special piece or a punctuation mark."""
    total, current, weights = 0.0, "", []
    for piece, w in [*zip(pieces, row, strict=True), ("▁", 0.0)]:
        if piece.startswith("▁") or piece in ("<pad>", "</s>") or not piece.strip(".,!?'"):
            if current.lower() == word:
                total += sum(weights)
            current, weights = "", []
        current += piece.lstrip("▁")
        weights.append(float(w))
    return total


TRACES: dict[str, TraceFn] = {"pair": run_pair, "decode": run_decode, "pizza": run_pizza}
# the runs whose sentences (and a trained model's sizes) fix B, S and T, whatever the learner chose
OWN_SIZES = ("decode", "pizza")


def run_real_decode(model: str, seed: int) -> TraceRun:
    return run_decode({}, seed, marian=model)


def run_real_pizza(model: str, seed: int) -> TraceRun:
    return run_pizza({}, seed, marian=model)


# with --model (a MarianMT folder or hub name) or the g key, the last two steps ask a real translator
REAL_MODEL_TRACES: dict[str, RealTraceFn] = {"decode": run_real_decode, "pizza": run_real_pizza}
