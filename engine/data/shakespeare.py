"""Tiny Shakespeare: the 1.1 MB of plays the character GPT learns from by default.

It is one plain-text file from Karpathy's char-rnn repository, kept in the cache folder once
downloaded (``cache_dir()/"tinyshakespeare"/"input.txt"``). A copy is only used when its size
and SHA-256 match, so a half-copied or edited file is never mistaken for it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine.data.download import download
from engine.errors import KqvError
from engine.files.paths import cache_dir

# Tests point this list at a local server.
SHAKESPEARE_URLS = [
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
]
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_SIZE = 1_115_394  # bytes (all ASCII, so also characters)
FILE_NAME = "input.txt"

OFFLINE_HINT = "pass --text FILE (any UTF-8 text) or run `kqv data shakespeare` when online"


def shakespeare_cache_path() -> Path:
    return cache_dir() / "tinyshakespeare" / FILE_NAME


def is_valid_copy(path: Path) -> bool:
    """True when ``path`` is exactly Tiny Shakespeare (size, then SHA-256: 1 MB hashes in ~1 ms)."""
    try:
        if path.stat().st_size != SHAKESPEARE_SIZE:
            return False
        return hashlib.sha256(path.read_bytes()).hexdigest() == SHAKESPEARE_SHA256
    except OSError:
        return False


def find_shakespeare() -> Path | None:
    """A verified copy on this machine: ``$KQV_DATA_DIR/tinyshakespeare/input.txt``, then the cache."""
    candidates = []
    if env := os.environ.get("KQV_DATA_DIR"):
        candidates.append(Path(env) / "tinyshakespeare" / FILE_NAME)
    candidates.append(shakespeare_cache_path())
    return next((p for p in candidates if is_valid_copy(p)), None)


def fetch_shakespeare(on_progress=None, directory: str | os.PathLike | None = None) -> Path:
    """The path of a verified Tiny Shakespeare, downloading it first when there is none.

    Without ``directory`` a copy found by :func:`find_shakespeare` is used, else the file is
    downloaded into the cache; with ``directory`` it is checked or downloaded there.
    ``on_progress(done_bytes, total_bytes, "input.txt")`` reports the download.
    """
    if directory is None:
        found = find_shakespeare()
        if found is not None:
            return found
        dest = shakespeare_cache_path()
    else:
        dest = Path(directory) / FILE_NAME
        if is_valid_copy(dest):
            return dest
    try:
        return download(
            SHAKESPEARE_URLS, dest, sha256=SHAKESPEARE_SHA256, size=SHAKESPEARE_SIZE, on_progress=on_progress
        )
    except KqvError as exc:
        raise KqvError(f"Tiny Shakespeare is not on this machine and {exc}; {OFFLINE_HINT}") from None
