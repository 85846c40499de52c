"""Sentence pairs for translation: ``source<TAB>target`` lines, grouped and split by source.

Tatoeba often gives several French translations of one English sentence ("Run!" is both
"Cours !" and "Courez !"). Two consequences shape this module:

* the split into train / validation / test is made **by source sentence**: if "Run!" went to
  training with one translation and to the test set with the other, the model would be tested
  on a sentence it had already learnt, and its BLEU would flatter it;
* every translation of a test sentence is a reference for BLEU, so a model that answers
  "Courez !" is not marked wrong because the first reference said "Cours !".

A file is read strictly: a line with no tab, an empty side or bytes that are not UTF-8 is
refused with its line number, never skipped in silence (a file of silently dropped lines
trains a model on something other than what its author thinks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import KqvError

SPLIT_SEED = 20  # the split never changes with --seed: every run tests on the same sentences
MAX_HELD_OUT = 1000  # source sentences in each of validation and test, at most
HELD_OUT_FRACTION = 0.05  # of the source sentences, for each of validation and test

# A Group is one source sentence with every translation the file gives for it.
Group = tuple[str, list[str]]


@dataclass
class PairSplits:
    """Train / validation / test groups of one pairs file, split by source sentence."""

    train: list[Group]
    val: list[Group]
    test: list[Group]
    source: str  # where the pairs came from, for messages ("eng-fra.txt")
    n_pairs: int  # lines read

    def pairs(self, split: str) -> list[tuple[str, str]]:
        """Every (source, target) pair of a split: one training example per translation."""
        return [(src, tgt) for src, tgts in getattr(self, split) for tgt in tgts]

    def describe(self) -> str:
        counts = ", ".join(f"{len(getattr(self, s)):,} {s}" for s in ("train", "val", "test"))
        return f"{self.n_pairs:,} pairs of {self.source} ({counts} source sentences)"


def read_pairs(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The (source, target) pairs of a ``source<TAB>target`` UTF-8 file, in file order.

    Surrounding spaces are stripped from each side; a line may carry more tab-separated
    columns after the target (the Anki exports add an attribution), which are ignored. Blank
    lines are skipped. Anything else that is not a pair is one :class:`KqvError` naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise KqvError(f"no pairs file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KqvError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_pairs(raw, str(path))


def parse_pairs(raw: bytes, path: str) -> list[tuple[str, str]]:
    """The pairs in the bytes of a pairs file (``path`` names it in messages); see :func:`read_pairs`."""
    if raw.startswith(b"\xef\xbb\xbf"):  # a byte-order mark some editors add
        raw = raw[3:]
    pairs = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise KqvError(f"{path}: line {number} is not valid UTF-8 (byte {exc.start + 1}); save the file "
                           "as UTF-8") from None
        if not text.strip():
            continue
        if "\t" not in text:
            raise KqvError(f"{path}: line {number} has no tab; each line is source<TAB>target: "
                           f"{_clip(text)!r}")
        source, target = (side.strip() for side in text.split("\t")[:2])
        if not source or not target:
            side = "source" if not source else "target"
            raise KqvError(f"{path}: line {number} has an empty {side} side: {_clip(text)!r}")
        pairs.append((source, target))
    if len(pairs) < 2:
        raise KqvError(f"{path} holds {len(pairs)} pair{'s' if len(pairs) != 1 else ''}; translation needs "
                       "at least 2 (one to train on, one to test)")
    return pairs


def group_by_source(pairs: list[tuple[str, str]]) -> list[Group]:
    """One group per distinct source sentence, in order of first appearance; each target kept
    once (a file that repeats a pair does not weigh it twice)."""
    groups: dict[str, list[str]] = {}
    for source, target in pairs:
        targets = groups.setdefault(source, [])
        if target not in targets:
            targets.append(target)
    return list(groups.items())


def split_groups(groups: list[Group], seed: int = SPLIT_SEED) -> tuple[list[Group], list[Group], list[Group]]:
    """Shuffle the source sentences with ``seed`` and deal them to test, validation, train.

    Test and validation each get 5% of the source sentences, at most 1,000 (enough for a BLEU
    that moves by well under a point between two draws) and test at least one; train keeps
    the rest, at least one. No source sentence is in two splits.
    """
    n = len(groups)
    if n < 2:
        raise KqvError(f"the pairs hold {n} distinct source sentence{'s' if n != 1 else ''}; a train and a "
                       "test split need at least 2")
    held = min(MAX_HELD_OUT, int(n * HELD_OUT_FRACTION))
    n_test = max(1, held)
    n_val = min(held, n - n_test - 1)
    order = np.random.default_rng(seed).permutation(n)
    test = [groups[i] for i in order[:n_test]]
    val = [groups[i] for i in order[n_test:n_test + n_val]]
    train = [groups[i] for i in np.sort(order[n_test + n_val:])]  # file order: shortest first
    return train, val, test


def load_pairs(path: str | os.PathLike, seed: int = SPLIT_SEED) -> PairSplits:
    """Read, group and split a pairs file."""
    pairs = read_pairs(path)
    train, val, test = split_groups(group_by_source(pairs), seed)
    return PairSplits(train, val, test, source=Path(path).name, n_pairs=len(pairs))


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
