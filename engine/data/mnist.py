"""MNIST: 70,000 handwritten digits, found on this machine or downloaded, checked, in memory.

The data set is four IDX files (see :mod:`engine.data.idx`): 60,000 training images with their
labels and 10,000 test images ("t10k") with theirs, each image 28 x 28 grey pixels 0..255.
As in Nielsen's book the training images are split in two: the first 50,000 to train on, the
next 10,000 as a validation set for choosing hyper-parameters, and the test set is kept for the
accuracy that gets reported.

Where the files come from, in this order:

1. ``data_dir`` — the folder the user named with ``--data``; if it lacks a file that is an
   error, not a reason to look elsewhere;
2. ``$KQV_DATA_DIR`` (the folder itself, or its ``mnist`` sub-folder);
3. the cache folder, ``cache_dir()/"mnist"``;
4. a download into the cache from a public mirror.

Checking: every load checks each header (magic number, 28 x 28, 60,000/10,000 items, labels
0..9, as many labels as images) and the SHA-256 of each unpacked file. Hashing the 55 MB costs
about 30 ms next to the 0.3 s of gunzipping them, so it is always done: it is what lets
:attr:`Digits.source` say "MNIST" only when the files really are MNIST. A folder of well-formed
IDX files with other content (Fashion-MNIST has the same layout) is still loaded, under a
source that says it is not the standard MNIST.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.download import download
from engine.data.idx import check_same_count, parse_idx, read_bytes, read_idx_header
from engine.errors import KqvError
from engine.files.paths import cache_dir

# Public mirrors of the original files (yann.lecun.com no longer serves them reliably).
# Tests point this list at a local server.
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

N_TRAIN = 50_000  # the first 50,000 training images are trained on ...
N_VALIDATION = 10_000  # ... the next 10,000 are the validation set
IMAGE_SIDE = 28


@dataclass(frozen=True)
class MnistFile:
    """One of the four files: what it holds and the checksums that prove a copy is genuine."""

    name: str  # without ".gz"
    kind: str  # "images" or "labels"
    count: int
    md5_gz: str  # of the .gz the mirrors serve
    sha256: str  # of the unpacked file: holds for any copy, gzipped or not

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


MNIST_FILES = (
    MnistFile(
        "train-images-idx3-ubyte", "images", 60_000, "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    MnistFile(
        "train-labels-idx1-ubyte", "labels", 60_000, "d53e105ee54ea40749a09fcbcd1e9432",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    MnistFile(
        "t10k-images-idx3-ubyte", "images", 10_000, "9fb629c4189551a2d022fa330f9573f3",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    MnistFile(
        "t10k-labels-idx1-ubyte", "labels", 10_000, "ec29112dd5afa0611ce80d1b7f02629c",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
)  # fmt: skip

OFFLINE_HINT = (
    "run `kqv data mnist` when online, pass --data DIR (a folder with the four MNIST files), "
    "or train on built-in --synthetic digits"
)


@dataclass(frozen=True)
class Digits:
    """A set of digit images with their labels, and where they came from."""

    x: np.ndarray  # (N, 784) float32, pixels 0..255 scaled to 0..1, one image per row
    labels: np.ndarray  # (N,) int64, the digit 0..9 each image shows
    source: str  # "MNIST (/path)" or "synthetic digits (seed 0)": shown wherever it is used

    def __len__(self) -> int:
        return len(self.labels)


# -- finding the files --------------------------------------------------------------------


def mnist_cache_dir() -> Path:
    return cache_dir() / "mnist"


def file_in(folder: Path, f: MnistFile) -> Path | None:
    """The copy of ``f`` in ``folder``: unpacked or ``.gz``, under the standard name or the
    one some re-uploads use (``train-images.idx3-ubyte``, with a dot)."""
    dotted = f.name.replace("-idx", ".idx")
    for name in (f.name, f.gz_name, dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _missing(folder: Path) -> list[MnistFile]:
    return [f for f in MNIST_FILES if file_in(folder, f) is None]


def verify_mnist_dir(path: str | os.PathLike) -> None:
    """Check that ``path`` holds the four MNIST files with the right headers.

    Only the headers are read (a few bytes each), so this is cheap; the full check happens
    when the files are loaded. Raises :class:`KqvError` naming what is missing or wrong.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise KqvError(f"the MNIST folder {folder} is a file, not a folder; pass the folder that "
                       "holds the four MNIST files")
    if not folder.is_dir():
        raise KqvError(f"the MNIST folder {folder} does not exist ({OFFLINE_HINT})")
    missing = _missing(folder)
    if missing:
        names = ", ".join(f"{f.name}[.gz]" for f in missing)
        raise KqvError(
            f"{folder} lacks {names}; an MNIST folder holds the four IDX files "
            f"(`kqv data mnist --dir {folder}` fetches them)"
        )
    paths = {f.name: file_in(folder, f) for f in MNIST_FILES}
    _check_counts(paths, {f.name: read_idx_header(paths[f.name], f.kind) for f in MNIST_FILES})


def _check_counts(paths: dict[str, Path], dims: dict[str, tuple[int, ...]]) -> None:
    """Each images file agrees with its labels file, and both have MNIST's counts and sizes."""
    for prefix in ("train", "t10k"):
        images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
        check_same_count(dims[images], dims[labels], paths[images], paths[labels])
    for f in MNIST_FILES:
        d, path = dims[f.name], paths[f.name]
        if d[0] != f.count:
            raise KqvError(f"{path} holds {d[0]:,} {f.kind}; MNIST's {f.name} has {f.count:,}")
        if f.kind == "images" and d[1:] != (IMAGE_SIDE, IMAGE_SIDE):
            raise KqvError(f"{path} holds {d[1]} x {d[2]} images; MNIST images are 28 x 28")


def find_mnist(data_dir: str | os.PathLike | None = None) -> Path | None:
    """The folder to load MNIST from, or None when none is on this machine.

    ``data_dir`` (the user's ``--data``) wins and must be complete (:class:`KqvError`
    otherwise); then ``$KQV_DATA_DIR`` or its ``mnist`` sub-folder; then the cache folder.
    """
    if data_dir is not None:
        verify_mnist_dir(data_dir)
        return Path(data_dir)
    candidates = []
    if env := os.environ.get("KQV_DATA_DIR"):
        candidates += [Path(env), Path(env) / "mnist"]
    candidates.append(mnist_cache_dir())
    for folder in candidates:
        if folder.is_dir() and not _missing(folder):
            return folder
    return None


# -- downloading ----------------------------------------------------------------------------


def is_valid_copy(path: Path, f: MnistFile) -> bool:
    """True when ``path`` unpacks to exactly the genuine ``f`` (its SHA-256 matches)."""
    try:
        return hashlib.sha256(read_bytes(path, f.kind)).hexdigest() == f.sha256
    except KqvError:
        return False


def fetch_mnist(
    folder: str | os.PathLike | None = None, on_progress=None
) -> dict[str, str]:
    """Make sure ``folder`` (default: the cache) holds the four genuine files; download the rest.

    Returns ``{file name: "present" | "downloaded"}``. A file already there is kept only when its
    checksum is right; otherwise it is fetched again (the old one is replaced only by a verified
    copy). Raises :class:`KqvError` when a download fails on every mirror.
    """
    folder = Path(folder) if folder is not None else mnist_cache_dir()
    status = {}
    for f in MNIST_FILES:
        existing = file_in(folder, f)
        if existing is not None and is_valid_copy(existing, f):
            status[existing.name] = "present"
            continue
        download(
            [base + f.gz_name for base in MNIST_MIRRORS],
            folder / f.gz_name,
            md5=f.md5_gz,
            decompressed_sha256=f.sha256,
            on_progress=on_progress,
        )
        if existing is not None and existing.name != f.gz_name:
            existing.unlink(missing_ok=True)  # a bad copy under another name would shadow the .gz
        status[f.gz_name] = "downloaded"
    return status


# -- loading --------------------------------------------------------------------------------


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    on_progress: Callable[[int, int | None, str], None] | None = None,
) -> tuple[Digits, Digits, Digits]:
    """MNIST as (train, validation, test): 50,000 / 10,000 / 10,000 images as float32 rows.

    Looks in ``data_dir``, ``$KQV_DATA_DIR``, the cache, then (when ``download``) downloads into
    the cache, calling ``on_progress(done_bytes, total_bytes, file_name)`` as bytes arrive.
    """
    folder = find_mnist(data_dir)
    if folder is None:
        if not download:
            raise KqvError(f"MNIST is not on this machine; {OFFLINE_HINT}")
        try:
            fetch_mnist(mnist_cache_dir(), on_progress)
        except KqvError as exc:
            raise KqvError(f"MNIST is not on this machine and {exc}; {OFFLINE_HINT}") from None
        folder = mnist_cache_dir()
    return _load_folder(folder, in_cache=folder == mnist_cache_dir())


def _load_folder(folder: Path, in_cache: bool) -> tuple[Digits, Digits, Digits]:
    arrays, paths, genuine = {}, {}, True
    for f in MNIST_FILES:
        path = paths[f.name] = file_in(folder, f)
        if path is None:
            raise KqvError(f"{folder} lacks {f.name}[.gz]; an MNIST folder holds the four IDX files")
        data = read_bytes(path, f.kind)
        if hashlib.sha256(data).hexdigest() != f.sha256:
            if in_cache:
                raise KqvError(
                    f"{path} is damaged (its checksum is wrong); run `kqv data mnist` to fetch it again"
                )
            genuine = False
        arrays[f.name] = parse_idx(data, f.kind, str(path))
    _check_counts(paths, {name: a.shape for name, a in arrays.items()})
    source = f"MNIST ({folder})" if genuine else f"IDX digits from {folder} (not the standard MNIST files)"
    train_x = _to_rows(arrays["train-images-idx3-ubyte"])
    train_y = _to_labels(arrays["train-labels-idx1-ubyte"], paths["train-labels-idx1-ubyte"])
    test_x = _to_rows(arrays["t10k-images-idx3-ubyte"])
    test_y = _to_labels(arrays["t10k-labels-idx1-ubyte"], paths["t10k-labels-idx1-ubyte"])
    cut = N_TRAIN + N_VALIDATION
    return (
        Digits(train_x[:N_TRAIN], train_y[:N_TRAIN], source),
        Digits(train_x[N_TRAIN:cut], train_y[N_TRAIN:cut], source),
        Digits(test_x, test_y, source),
    )


def _to_rows(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, 784) float32 in 0..1, in one pass with one allocation."""
    n = images.shape[0]
    x = np.empty((n, IMAGE_SIDE * IMAGE_SIDE), dtype=np.float32)  # (N, 784)
    np.divide(images.reshape(n, -1), np.float32(255), out=x)
    return x


def _to_labels(labels: np.ndarray, name: Path) -> np.ndarray:
    if labels.size and labels.max() > 9:
        i = int(np.argmax(labels > 9))
        raise KqvError(f"{name}: label {labels[i]} at position {i} is not a digit 0-9")
    return labels.astype(np.int64)
