"""The IDX file format that MNIST ships in, read and checked.

An IDX file is a tiny header followed by raw numbers, all big-endian:

    bytes 0-1   zero
    byte  2     the element type (0x08 = unsigned byte, the only one MNIST uses)
    byte  3     the number of dimensions d
    4*d bytes   each dimension's size as a 32-bit integer
    then        prod(dims) elements, row-major

So MNIST's image files start with the magic number 0x00000803 (bytes, 3 dimensions: count,
rows, columns) and its label files with 0x00000801 (bytes, 1 dimension: count). The files are
usually gzipped; this reader takes either, deciding by the first two bytes (gzip's 0x1f 0x8b),
not by the name.

Everything a broken file can get wrong is named in a :class:`KqvError`: not gzip though named
``.gz``, a wrong magic number, a header that promises more bytes than the file holds
("truncated at byte N"), bytes left over after the last element.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.runtime.memory import MemoryEstimate, available_memory, check_fits

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: (count, rows, cols)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: (count,)
_GZIP_MAGIC = b"\x1f\x8b"
_KINDS = {"images": IMAGES_MAGIC, "labels": LABELS_MAGIC}
# MNIST's largest file unpacks to 47 MB; EMNIST's to about 700 MB. Nothing bigger is digits.
MAX_IDX_BYTES = 2**30


@contextlib.contextmanager
def _unpacked(path: Path):
    """The file as a stream of its IDX bytes: gunzipped when it is a gzip stream (whatever its
    name says). Whatever goes wrong reading it, here or in the caller's reads, is one line."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == _GZIP_MAGIC
            f.seek(0)
            if not gzipped and path.suffix == ".gz":
                raise KqvError(f"{path} is named .gz but is not gzip (it starts with {f.read(4).hex()})")
            with gzip.open(f, "rb") if gzipped else contextlib.nullcontext(f) as stream:
                yield stream
    except FileNotFoundError:
        raise KqvError(f"{path} does not exist") from None
    except EOFError:
        raise KqvError(f"{path} is a cut-off gzip file (it ends mid-stream); get it again") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise KqvError(f"{path} is a corrupt gzip file ({exc}); get it again") from None
    except OSError as exc:
        raise KqvError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_bytes(path: str | os.PathLike, kind: str) -> bytes:
    """The IDX ``kind`` file's content, gunzipped when it is a gzip stream (whatever its name says).

    Never more than its header declares: the header is read first, the size it declares is
    checked against memory (and :data:`MAX_IDX_BYTES`), and then at most one byte more than
    that is unpacked, enough for :func:`parse_idx` to see that the file runs on. A 4 MB gzip
    that would expand to 4 GB costs 4 MB of reading, not 4 GB of memory.
    """
    path = Path(path)
    with _unpacked(path) as stream:
        head = stream.read(header_length(kind))
        size = math.prod(parse_header(head, kind, str(path)))
        check_fits(MemoryEstimate({"data": len(head) + size}), f"reading {path}",
                   "its header declares more than a data set of digits holds; get the file again",
                   available=min(available_memory(), MAX_IDX_BYTES))
        return head + stream.read(size + 1)


def header_length(kind: str) -> int:
    """Bytes before the first element: the magic number and one 4-byte size per dimension."""
    return 4 + 4 * (3 if kind == "images" else 1)


def parse_header(data: bytes, kind: str, name: str = "IDX data") -> tuple[int, ...]:
    """Check the magic number at the start of ``data`` and return the dimensions it declares."""
    magic_wanted = _KINDS[kind]
    header_len = header_length(kind)
    if len(data) < 4:
        raise KqvError(f"{name} is not an IDX file: only {len(data)} bytes long")
    magic = int.from_bytes(data[:4], "big")
    if magic != magic_wanted:
        other = {v: k for k, v in _KINDS.items()}.get(magic)
        hint = f" (that is an IDX {other} file)" if other else " (not an IDX file of unsigned bytes)"
        raise KqvError(
            f"{name}: wrong magic number 0x{magic:08x}{hint}; {kind} files start with 0x{magic_wanted:08x}"
        )
    if len(data) < header_len:
        raise KqvError(f"{name} is truncated at byte {len(data)}, inside its {header_len}-byte header")
    return tuple(int.from_bytes(data[i : i + 4], "big") for i in range(4, header_len, 4))


def parse_idx(data: bytes, kind: str, name: str = "IDX data") -> np.ndarray:
    """Check the header of ``data`` for ``kind`` ("images" or "labels") and return its elements.

    The result is a read-only uint8 view on ``data`` shaped as the header says: (count, rows,
    cols) for images, (count,) for labels. ``name`` (usually the path) goes into every error.
    """
    dims = parse_header(data, kind, name)
    header_len = header_length(kind)
    expected = header_len + int(np.prod(dims))
    if len(data) < expected:
        raise KqvError(
            f"{name} is truncated at byte {len(data):,}: its header promises "
            f"{' x '.join(f'{d:,}' for d in dims)} {kind}, which needs {expected:,} bytes"
        )
    if len(data) > expected:
        raise KqvError(
            f"{name} has bytes after its last element: its header says "
            f"{dims[0]:,} {kind} but the file holds more; the count in the header is wrong"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def read_idx(path: str | os.PathLike, kind: str) -> np.ndarray:
    """Read an IDX ``kind`` file ("images" or "labels"), gzipped or raw, checking its header."""
    return parse_idx(read_bytes(path, kind), kind, str(path))


def read_idx_header(path: str | os.PathLike, kind: str) -> tuple[int, ...]:
    """The dimensions an IDX file declares, reading only its first few bytes (gzipped or raw)."""
    path = Path(path)
    with _unpacked(path) as stream:
        start = stream.read(header_length(kind))
    return parse_header(start, kind, str(path))


def check_same_count(images: tuple[int, ...], labels: tuple[int, ...], images_name, labels_name) -> None:
    """Refuse an images file and a labels file that do not describe the same number of examples."""
    if images[0] != labels[0]:
        raise KqvError(
            f"{images_name} holds {images[0]:,} images but {labels_name} holds {labels[0]:,} labels; "
            "each image needs exactly one label"
        )
