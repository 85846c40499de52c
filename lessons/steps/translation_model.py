"""The translation lesson's sentences, vocabulary, sizes and models, which its step scripts share.

:mod:`lessons.steps.translation` (the step script: the pair run) and
:mod:`lessons.steps.translation_decoding` (the decode and pizza runs) both import from here:
the lesson's own pairs and the two pizza sentences, its byte-level BPE (:func:`lesson_vocab`),
:func:`full_dims`, the teacher-forced batch, the lesson's untrained model (:func:`model_for`),
and the :class:`Translator` the last two steps ask (MarianMT, kqv's own kept trained model, or
the untrained one).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.data.bpe import BOS_ID, EOS_ID, PAD_ID, BPEVocab
from engine.errors import KqvError
from engine.layers import check_heads, head_counts
from engine.translation.model import Transformer, TransformerConfig

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
