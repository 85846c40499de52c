"""Checkpoints: numpy arrays in an ``.npz`` plus JSON metadata, never pickle.

The metadata (what kind of model, its sizes, how far training got) travels inside the same
``.npz`` as a JSON string stored as bytes under ``__meta__``, so one file is the whole
checkpoint and loading it needs ``allow_pickle=False`` only. Files are written to a temporary
name beside the target and renamed over it, so a crash or Ctrl-C mid-write leaves the previous
checkpoint whole.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.atomic import atomic_write
from engine.runtime.memory import MemoryEstimate, check_fits

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first file, or an empty zip's directory

FORMAT_VERSION = 1
# the command that reads each kind, named when a checkpoint is handed to another command
READERS = {"digits": "kqv eval digits", "gpt": "kqv sample", "translate": "kqv translate"}
_META_KEY = "__meta__"
MAX_META_BYTES = 64 * 2**20  # the metadata of a 2000-iteration run is a few hundred KB


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


class OutputClaim:
    """The checkpoint a training run writes, looked at again before every save.

    Two runs given the same ``--out`` (two terminals on the default ``gpt.npz``) would each
    replace the other's file, and the run that saves last wins without a word. So the claim
    remembers what was at the path when the run started, and what the run itself last wrote
    there (device, inode, size and modification time: every atomic write makes a new inode).
    If, before a save, the path holds anything else, someone else wrote it meanwhile: their
    file is left alone, and this run's checkpoint goes to a free name beside it,
    ``NAME.<pid>.npz``, which :attr:`moved_from` and :attr:`path` report. The check and the
    rename are two steps, so two saves in the same millisecond could still cross; what it
    catches is the case that happens, a short run that finishes while a long one is going.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.moved_from: Path | None = None  # the --out given, once another run took it
        self._seen = _signature(self.path)

    def save(self, arrays: dict[str, np.ndarray], meta: dict) -> Path:
        """:func:`save_checkpoint` to :attr:`path`, or to a free name if the path changed hands."""
        if _signature(self.path) != self._seen:
            self.moved_from = self.moved_from or self.path
            self.path = _free_name(self.path)
        written = save_checkpoint(self.path, arrays, meta)
        self._seen = _signature(written)
        return written

    def note(self) -> str | None:
        """One line for the user when the checkpoint went somewhere other than asked."""
        if self.moved_from is None:
            return None
        return (f"{self.moved_from} was written by something else while this run was going (another "
                f"run with the same --out?), so it was left as it is and this run saved to {self.path}")


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _free_name(path: Path) -> Path:
    stem = path.name.removesuffix(".npz")
    for n in range(1, 1000):
        candidate = path.with_name(f"{stem}.{os.getpid()}{'' if n == 1 else f'-{n}'}.npz")
        if not os.path.lexists(candidate):
            return candidate
    raise KqvError(f"no free name beside {path} to save this run's checkpoint")


def load_checkpoint(path: str | os.PathLike, kind: str) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint written by :func:`save_checkpoint` for a model of ``kind``.

    Raises :class:`KqvError` for a missing file, a file that is not an ``.npz`` of ours, one
    written for another kind of model (a GPT checkpoint handed to the digit net), or arrays
    that no model of ours holds. Each array's ``.npy`` header is read and checked before its
    data: real floats only (not complex, strings or objects), a shape that agrees with the
    bytes stored, and in all no more than this machine can hold. Then the values must be
    finite: a checkpoint of a diverged run is refused, not evaluated.
    """
    path = Path(path)
    if not path.is_file():
        raise KqvError(f"no checkpoint at {path}")
    try:
        # np.load reads anything that is not a zip archive as a pickle, and its refusal then
        # advises loading the file "unsafely": say what the file is not instead
        with open(path, "rb") as f:
            if f.read(4) not in _ZIP_MAGIC:
                raise KqvError(f"{path} is not a kqv checkpoint (not an .npz archive; "
                               "kqv train writes them)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as data:  # the file open above: one open, not two
                if _META_KEY not in data.files:
                    raise KqvError(f"{path} is not a kqv checkpoint (no metadata inside)")
                headers = {name: stored_header(data.zip, name, path) for name in data.files}
                meta_shape, meta_dtype = headers.pop(_META_KEY)
                if meta_dtype != np.uint8 or len(meta_shape) != 1 or meta_shape[0] > MAX_META_BYTES:
                    raise KqvError(f"{path} is not a kqv checkpoint (its metadata is not JSON text)")
                meta = json.loads(bytes(data[_META_KEY]).decode("utf-8"))
                if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
                    raise KqvError(f"{path} was written by another version of kqv; retrain to make a new one")
                if meta.get("kind") != kind:
                    found = meta.get("kind", "unknown")
                    reader = f" ({READERS[found]} reads it)" if found in READERS else ""
                    raise KqvError(f"{path} is a {found} checkpoint, not a {kind} one{reader}")
                check_arrays(headers, path)
                arrays = {k: data[k] for k in headers}
    except KqvError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, json.JSONDecodeError,
            UnicodeDecodeError, RecursionError) as exc:
        raise KqvError(f"{path} is not a readable kqv checkpoint ({exc})") from exc
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise KqvError(f"{path}: {name} holds NaN or infinite numbers (the run that saved it had "
                           "diverged); retrain with a lower learning rate")
    return arrays, meta


def stored_header(archive: zipfile.ZipFile, name: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an array's ``.npy`` header declares, checked against the bytes stored.

    Only the header is read, so a 97 KB file whose header claims 10¹¹ numbers is refused
    without allocating them.
    """
    member = archive.getinfo(f"{name}.npy")
    with archive.open(member) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise KqvError(f"{path}: {name} is stored in a .npy format kqv never writes ({version})")
        declared = math.prod(shape) * dtype.itemsize
        if member.file_size - f.tell() != declared:
            raise KqvError(f"{path}: {name} claims the shape {shape} of {dtype}, which is {declared:,} "
                           f"bytes, but holds {member.file_size - f.tell():,}; the file is damaged")
    return shape, dtype


def check_arrays(headers: dict[str, tuple[tuple[int, ...], np.dtype]], path: Path) -> None:
    """Real floats only, and no more in all than this machine can hold (from the headers alone)."""
    for name, (_, dtype) in headers.items():
        if dtype.kind != "f":
            raise KqvError(f"{path}: {name} holds {dtype} values, but a checkpoint holds real floats")
    total = sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers.values())
    check_fits(MemoryEstimate({"stored arrays": total}), f"reading {path}",
               "it is larger than this machine can open")


def checked_training_state(arrays: dict, meta: dict, num_params: int, damaged, optimiser: str = "Adam"):
    """The optimiser's two moments, the evaluations and the losses a resumable checkpoint holds,
    each checked first, so a hand-edited or truncated file is one clear line (``damaged(what)``
    makes it) and never a traceback. Returns ``(m, v, evals, losses)``; the iteration and
    ``adam_t`` in ``meta`` are checked to be whole numbers. Both trainers (GPT, translation) call it."""
    m, v = arrays.get("adam.m"), arrays.get("adam.v")
    if m is None or v is None or m.shape != (num_params,) or v.shape != (num_params,):
        raise damaged(f"its {optimiser} state is missing or does not fit the model's "
                      f"{num_params:,} parameters")
    for name in ("iter", "adam_t"):
        if not _whole(meta.get(name)):
            raise damaged(f"its {name} is {meta.get(name)!r}, not a whole number from 0")
    evals, losses = meta.get("evals"), meta.get("losses")
    if not (isinstance(evals, list) and all(
            isinstance(e, dict) and set(e) == {"iter", "train_loss", "val_loss"} and _whole(e["iter"])
            and all(_real(e[k]) for k in ("train_loss", "val_loss")) for e in evals)):
        raise damaged("its evaluations are not a list of {iter, train_loss, val_loss}")
    if not (isinstance(losses, list) and all(_real(x) for x in losses)):
        raise damaged("its losses are not a list of numbers")
    return m, v, evals, losses


def _whole(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _real(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
