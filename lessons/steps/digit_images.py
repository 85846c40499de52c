"""Handwritten digits for the lessons: real MNIST when it is on this machine, else stand-ins.

The lessons must never pass synthetic data off as MNIST, so every batch comes with a ``source``
line the lesson shows as a note: real MNIST (``engine.data.mnist``) when its files are here,
else the engine's synthetic digits (``engine.data.synthetic_digits``).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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
    x = pool.x[idx]
    if x.dtype == np.uint8:  # MNIST's pool keeps its bytes: only the images picked become floats
        x = _to_floats(x)
    return Digits(x, pool.labels[idx], pool.source, pool.real)


@lru_cache(maxsize=2)
def _pool(split: str) -> Digits:
    """All images of a split, loaded once per process: MNIST's as bytes 0..255 (turning 10,000
    images into floats would cost more than reading them), the synthetic ones as floats 0..1."""
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
_SUBSET_VERSION = 2  # 1 went through load_checkpoint, which takes real floats only: never read back


@lru_cache(maxsize=1)
def _mnist_subset() -> dict[str, tuple[np.ndarray, np.ndarray, str]] | None:
    """A fixed subset of MNIST when its files are on this machine, as (bytes (N, 784), labels,
    source) per split; never downloads.

    Reading all of MNIST (gunzip, checksums, 70,000 images to floats) takes half a second on an
    idle machine, too long for opening a lesson, so the first time the lessons keep a small
    subset (8,000 training and 2,000 test images, 8 MB of bytes) in the cache folder, tied to
    the MNIST files it came from (their folder, sizes and times); later processes read that in
    a few milliseconds.
    """
    from engine.data import mnist

    try:
        folder = mnist.find_mnist()
    except KqvError:
        return None
    if folder is None:
        return None
    stamp = _stamp(folder)
    cached = _read_subset(stamp)
    if cached is not None:
        return cached
    try:
        train, _validation, test = mnist.load_mnist(folder, download=False)
    except KqvError:  # a damaged copy is `kqv data`'s to report; the lesson falls back
        return None
    out = {}
    for split, part in (("train", train), ("test", test)):
        pick = np.sort(np.random.default_rng(0).choice(len(part.labels), SUBSET[split], replace=False))
        x = np.rint(part.x[pick] * 255.0).astype(np.uint8)  # (N, 784): the original bytes
        out[split] = (x, part.labels[pick].astype(np.int64), part.source)
    _write_subset(stamp, out)
    return out


def _stamp(folder) -> dict:
    """What the cached subset was made from: the folder, and each file's size and change time
    (a file replaced in place, by `kqv data mnist` or by hand, makes a new subset)."""
    from engine.data.mnist import MNIST_FILES, file_in

    files = {}
    for f in MNIST_FILES:
        path = file_in(folder, f)
        st = path.stat() if path is not None else None
        files[f.name] = [path.name, st.st_size, st.st_mtime_ns] if st else None
    return {"version": _SUBSET_VERSION, "folder": str(Path(folder).resolve()), "files": files}


def _read_subset(stamp: dict) -> dict | None:
    """The cached subset made from the files ``stamp`` describes, or None (then it is rebuilt).

    A plain ``.npz`` of bytes read with ``allow_pickle=False``; anything unexpected in it (a
    damaged or foreign file, other shapes, a label above 9) means None, never a wrong image.
    """
    from engine.files.checkpoint import stored_header

    path = cache_dir() / _SUBSET_FILE
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(bytes(data["meta"]).decode("utf-8"))
            if meta.get("stamp") != stamp:
                return None
            out = {}
            for split, n in SUBSET.items():
                # the headers first: a file that holds something else is never read whole
                wanted = {f"{split}_x": ((n, 784), np.uint8), f"{split}_labels": ((n,), np.uint8)}
                if any(stored_header(data.zip, name, path) != shape_dtype
                       for name, shape_dtype in wanted.items()):
                    return None
                x, labels = data[f"{split}_x"], data[f"{split}_labels"]
                if labels.max() > 9:
                    return None
                out[split] = (x, labels.astype(np.int64), str(meta["sources"][split]))
            return out
    except (KqvError, OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            UnicodeDecodeError):
        return None


def _to_floats(x: np.ndarray) -> np.ndarray:
    """(N, 784) bytes -> float32 in 0..1, as engine.data.mnist makes them (one allocation)."""
    out = np.empty(x.shape, dtype=np.float32)
    np.divide(x, np.float32(255), out=out)
    return out


def _write_subset(stamp: dict, sets: dict) -> None:
    from engine.files.atomic import atomic_write

    meta = {"stamp": stamp, "sources": {split: source for split, (_, _, source) in sets.items()}}
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)}
    for split, (x, labels, _) in sets.items():
        arrays[f"{split}_x"] = x
        arrays[f"{split}_labels"] = labels.astype(np.uint8)
    try:
        cache_dir().mkdir(parents=True, exist_ok=True)
        with atomic_write(cache_dir() / _SUBSET_FILE) as f:
            np.savez(f, **arrays)
    except OSError:
        pass  # only a speed-up: without it the next start reads MNIST again


def _synthetic(split: str) -> Digits:
    from engine.data.synthetic_digits import synthetic_digits

    made = synthetic_digits(SUBSET[split] // 2, seed=1 if split == "train" else 2)
    x, labels = made.x, made.labels
    x = np.asarray(x, dtype=np.float32).reshape(len(labels), -1)
    return Digits(x, np.asarray(labels).astype(np.int64),
                  "synthetic digits drawn by kqv (not MNIST, which is not on this machine: D on "
                  "kqv's home screen or `kqv data mnist` fetches it, 11 MB)", False)

