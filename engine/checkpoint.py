"""Checkpoints: numpy arrays in an ``.npz`` plus JSON metadata, never pickle.

The metadata (what kind of model, its sizes, how far training got) travels inside the same
``.npz`` as a JSON string stored as bytes under ``__meta__``, so one file is the whole
checkpoint and loading it needs ``allow_pickle=False`` only. Files are written to a temporary
name beside the target and renamed over it, so a crash or Ctrl-C mid-write leaves the previous
checkpoint whole.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.errors import KqvError

FORMAT_VERSION = 1
_META_KEY = "__meta__"


def save_checkpoint(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write ``arrays`` and ``meta`` to ``path`` atomically; return the path written."""
    path = Path(path)
    if path.suffix != ".npz":
        raise KqvError(f"checkpoint names end in .npz: {path}")
    meta = {"format_version": FORMAT_VERSION, **meta}
    blob = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    parent = path.parent
    if not parent.is_dir():
        raise KqvError(f"cannot write {path}: the folder {parent} does not exist")
    try:
        with atomic_write(path) as f:
            np.savez(f, **{_META_KEY: blob}, **arrays)
    except OSError as exc:
        raise KqvError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def load_checkpoint(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint written by :func:`save_checkpoint` for a model of ``kind``.

    Raises :class:`KqvError` for a missing file, a file that is not an ``.npz`` of ours, or
    one written for another kind of model (a GPT checkpoint handed to the digit net).
    """
    path = Path(path)
    if not path.is_file():
        raise KqvError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            if _META_KEY not in data.files:
                raise KqvError(f"{path} is not a kqv checkpoint (no metadata inside)")
            meta = json.loads(bytes(data[_META_KEY]).decode("utf-8"))
            arrays = {k: data[k] for k in data.files if k != _META_KEY}
    except KqvError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        raise KqvError(f"{path} is not a readable kqv checkpoint ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise KqvError(f"{path} was written by another version of kqv; retrain to make a new one")
    if meta.get("kind") != kind:
        found = meta.get("kind", "unknown")
        raise KqvError(f"{path} is a {found} checkpoint, not a {kind} one")
    return arrays, meta
