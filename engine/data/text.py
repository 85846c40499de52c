"""Text for the character GPT: read a file, turn characters into ids, cut training batches.

The vocabulary is every distinct character of the text, sorted, so the same text always gives
the same ids (Tiny Shakespeare has 65: newline, space, punctuation, letters). The first 90% of
the text trains, the last 10% validates. A batch is B random windows of T+1 characters: the
first T are the input ``x``, the same window shifted by one is the target ``y`` (the character
that comes next at every position).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import KqvError


def read_text(path: str | os.PathLike, min_chars: int = 2) -> str:
    """Read a UTF-8 text file; refuse a missing, empty, non-UTF-8 or too short one."""
    path = Path(path)
    if not path.is_file():
        raise KqvError(f"no text file at {path}; pass an existing UTF-8 file with --text")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KqvError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8"
        ) from None
    except OSError as exc:
        raise KqvError(f"cannot read {path}: {exc.strerror}") from None
    if not text:
        raise KqvError(f"{path} is empty; the GPT needs some text to learn from")
    if len(text) < min_chars:
        raise KqvError(
            f"{path} has {len(text)} characters, too short: training needs more than block_size + 1 "
            f"= {min_chars} characters in each of the train and validation parts"
        )
    return text


@dataclass(frozen=True)
class CharVocab:
    """The characters of a text, in sorted order; a character's id is its position."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> CharVocab:
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    @property
    def start_char(self) -> str:
        """Where generation starts without a prompt: a line break (a new line of the play), or
        the first character when the text has none."""
        return "\n" if "\n" in self.chars else self.chars[0]

    def encode(self, text: str) -> np.ndarray:
        """Characters -> ids."""
        table = {c: i for i, c in enumerate(self.chars)}
        try:
            return np.fromiter((table[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as exc:
            raise KqvError(
                f"the character {exc.args[0]!r} is not in this model's vocabulary; "
                "use only characters from the text it was trained on"
            ) from None

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in np.asarray(ids).reshape(-1))


def encode_fast(vocab: CharVocab, text: str) -> np.ndarray:
    """Encode a long text in one pass of numpy (a million characters in ~0.1 s)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    alphabet = np.frombuffer(vocab.chars.encode("utf-32-le"), dtype=np.uint32)
    ids = np.searchsorted(alphabet, codes)
    ids = np.minimum(ids, alphabet.size - 1)
    bad = alphabet[ids] != codes
    if bad.any():
        vocab.encode(text[int(np.argmax(bad))])  # raises the one-line error naming the character
    return ids.astype(np.int64)


def decode_fast(vocab: CharVocab, ids: np.ndarray) -> str:
    """Ids back to text in one pass of numpy (a million characters in milliseconds)."""
    codes = np.frombuffer(vocab.chars.encode("utf-32-le"), dtype=np.uint32)
    return codes[ids].astype("<u4").tobytes().decode("utf-32-le")


def split_train_val(ids: np.ndarray, block_size: int, train_fraction: float = 0.9):
    """The first 90% of the ids for training, the rest for validation.

    Each part must hold at least one window of ``block_size + 1`` characters.
    """
    n = int(len(ids) * train_fraction)
    train, val = ids[:n], ids[n:]
    need = block_size + 1
    if len(train) < need or len(val) < need:
        total = int(np.ceil(need / (1 - train_fraction))) + 1
        raise KqvError(
            f"the text has {len(ids)} characters: too short for block_size={block_size}; the 10% "
            f"validation part needs at least {need}, so give at least {total} characters "
            "or a smaller --block-size"
        )
    return train, val


def get_batch(data: np.ndarray, batch_size: int, block_size: int, rng: np.random.Generator):
    """B random windows: ``x (B, T)`` and the next characters ``y (B, T)``."""
    start = rng.integers(0, len(data) - block_size, size=batch_size)
    offsets = start[:, None] + np.arange(block_size)  # (B, T) positions in the text
    return data[offsets], data[offsets + 1]


@dataclass
class TextData:
    """A text ready for training: its vocabulary and the encoded train and validation parts."""

    vocab: CharVocab
    train: np.ndarray
    val: np.ndarray
    source: str = ""

    @classmethod
    def from_text(cls, text: str, block_size: int, source: str = "") -> TextData:
        vocab = CharVocab.from_text(text)
        train, val = split_train_val(encode_fast(vocab, text), block_size)
        return cls(vocab, train, val, source)

    @classmethod
    def from_file(cls, path: str | os.PathLike, block_size: int) -> TextData:
        text = read_text(path, min_chars=2)
        return cls.from_text(text, block_size, str(path))
