"""One byte-level BPE vocabulary for both languages of a translation model.

Byte-level BPE (GPT-2's tokenizer) starts from the 256 bytes, so any text can be written with
it, accents and all, and learns merges of the byte pairs that occur most often in the training
text: " chat" becomes one piece, "Courez" perhaps "Cour" + "ez". Training it on the English
and French sides together gives the two languages one vocabulary: the encoder's input, the
decoder's input and the output layer share one embedding matrix (the paper's weight tying),
and a word spelled the same in both ("Tom", "est", "ok") is one row.

Three special pieces come first: ``<pad>`` (id 0) fills a batch's short sentences up to the
longest and is masked wherever it could leak in; ``<s>`` (1) is the decoder's first input;
``</s>`` (2) ends a sentence. The vocabulary travels inside the checkpoint as the JSON text the
``tokenizers`` library writes (never a pickle), so a checkpoint is the whole model.
"""

from __future__ import annotations

import json

import numpy as np

from engine.errors import KqvError

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
SPECIALS = (PAD, BOS, EOS)  # ids 0, 1, 2
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


class BPEVocab:
    """``encode``/``decode`` between text and ids, and ``pieces`` to show what the model sees."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer  # a tokenizers.Tokenizer
        for i, special in enumerate(SPECIALS):
            if tokenizer.token_to_id(special) != i:
                raise KqvError(f"the vocabulary's {special} is not id {i}; it was not made by kqv")

    @classmethod
    def train(cls, texts: list[str], vocab_size: int = 8000) -> BPEVocab:
        """Learn ``vocab_size`` pieces (the 3 specials and the 256 bytes included) from ``texts``."""
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if not isinstance(vocab_size, int) or not 259 < vocab_size <= 65536:
            raise KqvError(f"vocab-size must be a whole number from 260 (the 256 bytes, the 3 special "
                           f"pieces and one merge) to 65536, got {vocab_size!r}")
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS),
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
        tokenizer.train_from_iterator(texts, trainer=trainer)
        return cls(tokenizer)

    @classmethod
    def from_json(cls, text: str, where: str = "the checkpoint") -> BPEVocab:
        from tokenizers import Tokenizer

        if not isinstance(text, str):
            raise KqvError(f"{where} holds no vocabulary")
        try:
            json.loads(text)
            tokenizer = Tokenizer.from_str(text)
        except Exception as exc:  # tokenizers raises its own Exception subclass for bad JSON
            raise KqvError(f"{where} holds a vocabulary the tokenizers library cannot read "
                           f"({str(exc).splitlines()[0][:120]})") from None
        return cls(tokenizer)

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    @property
    def size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> list[int]:
        """The ids of ``text`` (no start or end piece added)."""
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids) -> str:
        """The text of ``ids``; special pieces are left out."""
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def pieces(self, ids) -> list[str]:
        """Each id as readable text: the byte-level "Ġ" for a space shown as "▁", as SentencePiece does."""
        out = []
        for i in ids:
            i = int(i)
            if i < len(SPECIALS):
                out.append(SPECIALS[i])
                continue
            piece = self.tokenizer.decode([i], skip_special_tokens=False)
            out.append(piece.replace(" ", "▁") if piece else self.tokenizer.id_to_token(i))
        return out


def pad_batch(seqs: list[list[int]], pad_id: int = PAD_ID) -> np.ndarray:
    """Sequences of ids as one (B, L) int array, filled with ``pad_id`` after each one's end."""
    L = max(len(s) for s in seqs)
    out = np.full((len(seqs), L), pad_id, dtype=np.int64)
    for row, s in zip(out, seqs, strict=True):
        row[: len(s)] = s
    return out
