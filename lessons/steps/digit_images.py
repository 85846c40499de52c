"""Handwritten digits for the lessons: real MNIST when it is on this machine, else stand-ins.

The lessons must never pass synthetic data off as MNIST, so every batch comes with a ``source``
line the lesson shows as a note. Order of preference: real MNIST (``engine.mnist``), the
engine's synthetic digits (``engine.synthetic_digits``), and, only when neither exists, noisy
copies of ten random patterns (one per class) so the training step still has something
learnable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from engine.errors import KqvError


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
    if mnist is not None:
        return mnist
    synthetic = _synthetic(split)
    if synthetic is not None:
        return synthetic
    return _patterns(split)


def _mnist(split: str) -> Digits | None:
    loaded = _mnist_sets()
    if loaded is None:
        return None
    train, _validation, test = loaded
    part = train if split == "train" else test
    genuine = part.source.startswith("MNIST")
    return Digits(part.x, part.labels, f"{part.source}, {split} split", genuine)


@lru_cache(maxsize=1)
def _mnist_sets():
    """MNIST's (train, validation, test) when the files are on this machine; never downloads."""
    try:
        from engine import mnist
    except ImportError:
        return None
    try:
        folder = mnist.find_mnist()
        if folder is None:
            return None
        return mnist.load_mnist(folder, download=False)
    except KqvError:  # a damaged copy is `kqv data`'s to report; the lesson falls back
        return None


def _synthetic(split: str) -> Digits | None:
    try:
        from engine.synthetic_digits import synthetic_digits
    except ImportError:
        return None
    made = synthetic_digits(4000 if split == "train" else 1000, seed=1 if split == "train" else 2)
    x, labels = (made.x, made.labels) if hasattr(made, "labels") else made
    x = np.asarray(x, dtype=np.float32).reshape(len(labels), -1)
    return Digits(x, np.asarray(labels).astype(np.int64),
                  "synthetic digits drawn by kqv (not MNIST: MNIST was not found)", False)


def _patterns(split: str) -> Digits:
    rng = np.random.default_rng(7)
    prototypes = (rng.random((10, 784)) < 0.2).astype(np.float32)  # fixed: same classes in both splits
    n = 4000 if split == "train" else 1000
    noise = np.random.default_rng(1 if split == "train" else 2)
    labels = noise.integers(0, 10, n)
    x = np.clip(prototypes[labels] + 0.3 * noise.standard_normal((n, 784)), 0, 1).astype(np.float32)
    return Digits(x, labels, "random class patterns standing in for digits (not MNIST: MNIST "
                  "and the synthetic digits were not found)", False)
