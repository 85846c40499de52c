"""Marian's tokenizer: two SentencePiece models and one id space, as transformers'
``MarianTokenizer`` uses them.

A Marian folder holds ``source.spm`` (the source language's SentencePiece model, with its own
text normalisation, NFKC for opus-mt), ``target.spm`` (the target language's) and
``vocab.json``, which maps every piece of both to the model's ids (``</s>`` 0, ``<unk>`` 1,
..., ``<pad>`` last for opus-mt). SentencePiece's own ids are not the model's: a piece is
looked up by its text in vocab.json, and a piece vocab.json lacks becomes ``<unk>``.

* encoding a source sentence: ``source.spm`` cuts it into pieces (``▁`` marks a word's start),
  vocab.json gives their ids, ``</s>`` is appended; a leading ``>>fr<<`` (a multilingual
  model's target-language code) is kept as one token;
* decoding a translation: the ids' pieces, special tokens left out, are joined by
  ``target.spm`` and every ``▁`` becomes a space.

The ``sentencepiece`` library does the cutting; transformers is not needed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.reading import readable_file

SOURCE_SPM, TARGET_SPM, VOCAB_FILE = "source.spm", "target.spm", "vocab.json"
EOS, UNK, PAD = "</s>", "<unk>", "<pad>"
WORD_START = "\u2581"  # ▁
MAX_VOCAB_BYTES = 50_000_000  # opus-mt's vocab.json is about 1.5 MB


class MarianTokenizer:
    """Text to the model's ids and back, for one Marian folder."""

    def __init__(self, source, target, vocab: dict[str, int]):
        self.source, self.target, self.vocab = source, target, vocab
        self.pieces_by_id = {i: p for p, i in vocab.items()}
        for token in (EOS, UNK, PAD):
            if token not in vocab:
                raise KqvError(f"{VOCAB_FILE} has no {token} token; it is not a Marian vocabulary")
        self.eos_id, self.unk_id, self.pad_id = vocab[EOS], vocab[UNK], vocab[PAD]
        self.special = {self.eos_id, self.unk_id, self.pad_id}

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> MarianTokenizer:
        import sentencepiece as spm

        folder = Path(folder)
        models = []
        for name in (SOURCE_SPM, TARGET_SPM):
            path = folder / name
            if not readable_file(path):
                raise KqvError(f"no {name} in {folder}: a Marian folder holds source.spm and target.spm "
                               "(SentencePiece models) beside vocab.json")
            proc = spm.SentencePieceProcessor()
            try:
                proc.load(str(path))
            except (OSError, RuntimeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise KqvError(f"{path} is not a SentencePiece model ({first})") from None
            models.append(proc)
        return cls(*models, read_vocab(folder / VOCAB_FILE))

    @property
    def size(self) -> int:
        return len(self.vocab)

    @property
    def max_id(self) -> int:
        return max(self.vocab.values())

    def encode(self, text: str) -> np.ndarray:
        """``text`` -> ids ``(L,)``: source.spm's pieces looked up in vocab.json, then ``</s>``."""
        code = []
        if text.startswith(">>") and (end := text.find("<<")) != -1:
            code, text = [text[: end + 2]], text[end + 2 :]
        pieces = code + self.source.encode(text, out_type=str)
        return np.array([self.vocab.get(p, self.unk_id) for p in pieces] + [self.eos_id], dtype=np.int64)

    def encode_target(self, text: str) -> np.ndarray:
        """A reference translation -> ids ``(L,)``, cut by target.spm (transformers' ``text_target``)."""
        pieces = self.target.encode(text, out_type=str)
        return np.array([self.vocab.get(p, self.unk_id) for p in pieces] + [self.eos_id], dtype=np.int64)

    def pieces(self, ids) -> list[str]:
        """Each id's piece, as it stands in vocab.json (``▁`` for a word's start)."""
        return [self.pieces_by_id.get(int(i), UNK) for i in ids]

    def decode(self, ids) -> str:
        """The translation's text: special tokens left out, pieces joined, ``▁`` read as a space."""
        pieces = [self.pieces_by_id[int(i)] for i in ids if int(i) not in self.special
                  and int(i) in self.pieces_by_id]
        return self.target.decode_pieces(pieces).replace(WORD_START, " ").strip()


def read_vocab(path: Path) -> dict[str, int]:
    if not readable_file(path):
        raise KqvError(f"no {VOCAB_FILE} in {path.parent}: a Marian folder holds vocab.json beside "
                       "the .spm files")
    try:
        if path.stat().st_size > MAX_VOCAB_BYTES:
            raise KqvError(f"{path} is {path.stat().st_size:,} bytes, too big for a vocabulary")
        vocab = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise KqvError(f"{path} is not readable JSON ({type(exc).__name__})") from None
    if not isinstance(vocab, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in vocab.items()):
        raise KqvError(f"{path} is not a vocabulary: a JSON object of piece -> id (a whole number ≥ 0)")
    return vocab


class ExportedTokenizer:
    """The tokenizer of a folder written by ``kqv export`` from a translation checkpoint: kqv's
    byte-level BPE in ``tokenizer.json`` (no .spm files), with :class:`MarianTokenizer`'s methods."""

    def __init__(self, vocab):
        from engine.data.bpe import EOS_ID, PAD_ID

        self.bpe = vocab  # an engine.data.bpe.BPEVocab
        self.eos_id, self.pad_id, self.unk_id = EOS_ID, PAD_ID, None

    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> ExportedTokenizer:
        from engine.data.bpe import BPEVocab

        path = Path(folder) / "tokenizer.json"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KqvError(f"cannot read {path} ({type(exc).__name__})") from None
        return cls(BPEVocab.from_json(text, str(path)))

    @property
    def size(self) -> int:
        return self.bpe.size

    @property
    def max_id(self) -> int:
        return self.bpe.size - 1

    def encode(self, text: str) -> np.ndarray:
        return np.array(self.bpe.encode(text) + [self.eos_id], dtype=np.int64)

    def encode_target(self, text: str) -> np.ndarray:
        return self.encode(text)

    def pieces(self, ids) -> list[str]:
        return self.bpe.pieces(ids)

    def decode(self, ids) -> str:
        return self.bpe.decode(ids)


def folder_tokenizer(folder: str | os.PathLike):
    """A Marian folder's SentencePiece tokenizer, or, in a folder ``kqv export`` wrote (a
    tokenizer.json and no source.spm), kqv's BPE."""
    folder = Path(folder)
    if not readable_file(folder / SOURCE_SPM) and readable_file(folder / "tokenizer.json"):
        return ExportedTokenizer.from_folder(folder)
    return MarianTokenizer.from_folder(folder)
