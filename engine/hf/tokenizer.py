"""Tokenizers in the Hugging Face format: GPT-2's byte-level BPE in, a character vocabulary out.

GPT-2 does not read characters. Its tokenizer (byte-level BPE) turns text into pieces learned
from how often byte sequences occur: " pizza" (with its leading space) is one token, a rare
word is several. The pieces and their ids live in ``tokenizer.json`` beside the weights, and
the ``tokenizers`` library (the one transformers uses) reads it, so kqv splits text exactly as
GPT-2 was trained to see it. ``<|endoftext|>`` (id 50256 in GPT-2) separates documents.

The other way, :func:`char_tokenizer_json` writes a kqv character vocabulary as a
``tokenizer.json``: one token per character, nothing merged, so a model exported with
``kqv export`` is read by transformers' tokenizer exactly as kqv reads it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.data.text import CharVocab
from engine.errors import KqvError
from engine.files.reading import readable_file

TOKENIZER_FILE = "tokenizer.json"
# GPT-2's tokenizer.json is 1.4 MB, a 250,000-token vocabulary's about 20 MB; tokenizers reads
# the whole file into memory, so a bigger one (a sparse 10 GB file) is refused before it is read
MAX_TOKENIZER_BYTES = 200_000_000
END_OF_TEXT = "<|endoftext|>"


class HFTokenizer:
    """A ``tokenizer.json`` read by ``tokenizers``; ``encode``/``decode`` like :class:`CharVocab`."""

    def __init__(self, tokenizer, source: str = ""):
        self.tokenizer = tokenizer  # a tokenizers.Tokenizer
        self.source = source

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> HFTokenizer:
        from tokenizers import Tokenizer

        path = Path(path)
        if not readable_file(path):
            raise KqvError(f"no {TOKENIZER_FILE} at {path}: a GPT-2 folder holds config.json, "
                           "model.safetensors and tokenizer.json")
        if (size := path.stat().st_size) > MAX_TOKENIZER_BYTES:
            raise KqvError(f"{path} is {size:,} bytes; the largest tokenizers are tens of MB, so this is "
                           "not one kqv will read into memory")
        try:
            return cls(Tokenizer.from_file(str(path)), str(path))
        except Exception as exc:  # tokenizers raises plain Exceptions for a bad file
            raise KqvError(f"{path} is not a tokenizer.json that tokenizers can read ({exc})") from None

    @property
    def size(self) -> int:
        return self.tokenizer.get_vocab_size()

    @property
    def rows_needed(self) -> int:
        """1 + the largest id the tokenizer can give: the rows of wte it needs. Not :attr:`size`,
        the count of tokens: ids need not be 0..size-1 (two tokens, ids 0 and 100000, need 100001)."""
        return 1 + max(self.tokenizer.get_vocab(with_added_tokens=True).values(), default=-1)

    def encode(self, text: str) -> np.ndarray:
        """Text -> token ids (special tokens such as ``<|endoftext|>`` written in the text count).

        A character the vocabulary lacks is refused, as for kqv's own checkpoints, even where
        the tokenizer would map it to its unknown token (an exported one does, for transformers):
        kqv never feeds the model a stand-in the user did not write."""
        try:
            encoding = self.tokenizer.encode(text, add_special_tokens=False)
        except Exception as exc:  # a character tokenizer without an unknown token
            raise KqvError(f"{self.source or 'the tokenizer'} cannot encode this text ({exc}); use only "
                           "characters of the model's training text") from None
        unk = getattr(self.tokenizer.model, "unk_token", None)  # None for GPT-2's byte-level BPE
        unseen = sorted({text[a:b] for token, (a, b) in zip(encoding.tokens, encoding.offsets, strict=True)
                         if token == unk and text[a:b] != unk})
        if unseen:
            shown = ", ".join(map(repr, unseen[:5]))
            raise KqvError(f"{self.source or 'the tokenizer'} has no token for {shown}; use only characters "
                           "of the model's training text")
        return np.asarray(encoding.ids, dtype=np.int64)

    def encode_prompt(self, text: str, n_positions: int) -> np.ndarray:
        """A prompt's ids, refusing one that is no tokens or more than the model can read."""
        ids = self.encode(text)
        if ids.size == 0:
            raise KqvError(f"the prompt {text!r} turns into no tokens; give some text, "
                           "e.g. --prompt \"The pizza\"")
        if ids.size > n_positions:
            raise KqvError(f"the prompt is {ids.size} tokens; this model reads at most {n_positions} "
                           "(n_positions): shorten it")
        return ids

    def decode(self, ids) -> str:
        return self.tokenizer.decode([int(i) for i in np.asarray(ids).reshape(-1)],
                                     skip_special_tokens=False)

    def pieces(self, ids) -> list[str]:
        """The text of each token alone (" pizza", " it"): labels for attention maps."""
        return [self.decode([i]) for i in np.asarray(ids).reshape(-1)]

    @property
    def end_of_text(self) -> int | None:
        """The id of ``<|endoftext|>``, or None for a tokenizer without it (a character one)."""
        return self.tokenizer.token_to_id(END_OF_TEXT)


def stand_in(vocab: CharVocab) -> str:
    """The character an exported tokenizer reads an unknown character as: the space when the
    vocabulary has one (a guess that keeps a word boundary), else its first character.

    A word-level tokenizer with no unknown token fails on any character outside its vocabulary
    (transformers: ``tok("Café")`` raises "Missing [UNK] token"). A token of its own would need
    a row of wte, and a new row changes every next-token probability (the softmax runs over it
    too), so the unknown token is a character the model has. It is the word-level model's own
    setting, not a special token, so decoding keeps every space.

    Padding is the same question: ``padding=True`` needs a pad token, and any id will do (the
    attention mask hides padded positions). But a pad token named in tokenizer_config.json
    becomes a special token, and ``decode(..., skip_special_tokens=True)``, which the
    text-generation pipeline calls, would drop that character from every text. So none is
    named; the README's export section sets one in a line, after loading, where it is not.
    """
    return " " if " " in vocab.chars else vocab.chars[0]


def char_tokenizer(vocab: CharVocab):
    """A ``tokenizers.Tokenizer`` with one token per character of ``vocab``, ids as kqv's.

    Every character is split off on its own (the pre-tokenizer), looked up whole (a word-level
    model whose "words" are characters), and decoding joins them with nothing between (Fuse).
    A character outside the vocabulary becomes :func:`stand_in` (for transformers; kqv's own
    :meth:`HFTokenizer.encode` refuses it).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({c: i for i, c in enumerate(vocab.chars)}, unk_token=stand_in(vocab)))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return tok


def char_tokenizer_json(vocab: CharVocab) -> str:
    """``tokenizer.json`` text for a character vocabulary (see :func:`char_tokenizer`)."""
    return char_tokenizer(vocab).to_str(pretty=True)
