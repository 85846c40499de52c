"""Handwritten digits for the lessons: real MNIST when it is on this machine, else stand-ins.

The lessons must never pass synthetic data off as MNIST, so every batch comes with a ``source``
line the lesson shows as a note: real MNIST (``engine.data.mnist``) when its files are here,
else the engine's synthetic digits (``engine.data.synthetic_digits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.errors import KqvError
from engine.files.paths import cache_dir


@dataclass(frozen=True)
class Digits:
    x: np.ndarray  # (N, 784) float32 in 0..1, one image per row
    labels: np.ndarray  # (N,) digits 0..9
    source: str  # one line for the learner: where these images come from
    real: bool  # True only for MNIST


def lesson_digits(n: int, seed: int, split: str = "test") -> Digits:
    """``n`` images picked by ``seed`` from ``split`` ("train" or "test")."""
    pool = _pool(split)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pool.labels), size=min(n, len(pool.labels)), replace=False)
    return Digits(pool.x[idx], pool.labels[idx], pool.source, pool.real)


@lru_cache(maxsize=2)
def _pool(split: str) -> Digits:
    """All images of a split, loaded once per process (MNIST takes a moment to read)."""
    mnist = _mnist(split)
    return mnist if mnist is not None else _synthetic(split)


def _mnist(split: str) -> Digits | None:
    sets = _mnist_subset()
    if sets is None:
        return None
    x, labels, source = sets[split]
    return Digits(x, labels, f"{source}, {split} split", source.startswith("MNIST"))


def forget_loaded() -> None:
    """Drop the images loaded so far, so the next lesson step looks for MNIST again (the app
    calls this once it has downloaded MNIST: the synthetic stand-ins are not kept)."""
    _pool.cache_clear()
    _mnist_subset.cache_clear()


SUBSET = {"train": 8000, "test": 2000}  # what the lessons draw from: enough, and quick to load
_SUBSET_FILE = "lesson-digits.npz"


@lru_cache(maxsize=1)
def _mnist_subset() -> dict[str, tuple[np.ndarray, np.ndarray, str]] | None:
    """A fixed subset of MNIST when its files are on this machine; never downloads.

    Reading all of MNIST (gunzip and checksums) takes about a second, too long for a lesson
    step, so the first time the lessons keep a small subset (8,000 training and 2,000 test
    images, 8 MB of bytes) in the cache folder, tied to the MNIST folder it came from.
    """
    from engine.data import mnist

    try:
        folder = mnist.find_mnist()
    except KqvError:
        return None
    if folder is None:
        return None
    cached = _read_subset(folder)
    if cached is not None:
        return cached
    try:
        train, _validation, test = mnist.load_mnist(folder, download=False)
    except KqvError:  # a damaged copy is `kqv data`'s to report; the lesson falls back
        return None
    out = {}
    for split, part in (("train", train), ("test", test)):
        pick = np.random.default_rng(0).choice(len(part.labels), SUBSET[split], replace=False)
        x = part.x[np.sort(pick)]
        out[split] = (x, part.labels[np.sort(pick)].astype(np.int64), part.source)
    _write_subset(folder, out)
    return out


def _read_subset(folder) -> dict | None:
    from engine.files.checkpoint import load_checkpoint

    path = cache_dir() / _SUBSET_FILE
    if not path.is_file():
        return None
    try:
        arrays, meta = load_checkpoint(path, kind="lesson-digits")
        if meta.get("folder") != str(folder):
            return None
        return {split: (arrays[f"{split}_x"].astype(np.float32) / 255.0,
                        arrays[f"{split}_labels"].astype(np.int64), meta[f"{split}_source"])
                for split in SUBSET}
    except (KqvError, KeyError, ValueError, OSError):
        return None  # rebuilt from the MNIST files below


def _write_subset(folder, sets: dict) -> None:
    from engine.files.checkpoint import save_checkpoint

    arrays, meta = {}, {"kind": "lesson-digits", "folder": str(folder)}
    for split, (x, labels, source) in sets.items():
        arrays[f"{split}_x"] = np.rint(x * 255.0).astype(np.uint8)  # the original bytes
        arrays[f"{split}_labels"] = labels.astype(np.uint8)
        meta[f"{split}_source"] = source
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        save_checkpoint(cache_dir() / _SUBSET_FILE, arrays, meta)
    except (KqvError, OSError):
        pass  # only a speed-up: without it the next start reads MNIST again


def _synthetic(split: str) -> Digits:
    from engine.data.synthetic_digits import synthetic_digits

    made = synthetic_digits(SUBSET[split] // 2, seed=1 if split == "train" else 2)
    x, labels = made.x, made.labels
    x = np.asarray(x, dtype=np.float32).reshape(len(labels), -1)
    return Digits(x, np.asarray(labels).astype(np.int64),
                  "synthetic digits drawn by kqv (not MNIST, which is not on this machine: D on "
                  "kqv's home screen or `kqv data mnist` fetches it, 11 MB)", False)

