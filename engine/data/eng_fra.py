"""The English–French pairs of PyTorch's seq2seq translation tutorial, found or fetched once.

The tutorial's ``data.zip`` holds ``data/eng-fra.txt``: 135,842 Tatoeba sentence pairs (CC BY
2.0 FR), ``english<TAB>french``, shortest first. kqv looks for a copy, in order, at ``--pairs``
(given by the user: any pairs file), ``$KQV_DATA_DIR`` (the file ``eng-fra.txt`` in it or in
its ``eng-fra`` sub-folder), the cache folder, and only then downloads the zip into the cache.

No checksum of the zip is published, so a download is verified by what it must hold: a zip
archive with ``data/eng-fra.txt`` whose every line is a well-formed pair (the strict reader of
:mod:`engine.data.pairs`) and exactly 135,842 of them. Only then is the text written into the
cache (atomically: a cut connection or Ctrl-C leaves no half file), and the zip removed.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from engine.data.download import download
from engine.data.pairs import parse_pairs
from engine.errors import KqvError
from engine.files.atomic import atomic_write
from engine.files.paths import cache_dir

# Tests point this list at a local server.
ENG_FRA_URLS = ["https://download.pytorch.org/tutorial/data.zip"]
MEMBER = "data/eng-fra.txt"  # inside the zip
EXPECTED_PAIRS = 135_842  # the tutorial prints "Read 135842 sentence pairs"
FILE_NAME = "eng-fra.txt"

OFFLINE_HINT = "pass --pairs FILE (source<TAB>target lines) or run `kqv data eng-fra` when online"


def eng_fra_cache_path() -> Path:
    return cache_dir() / "eng-fra" / FILE_NAME


def find_eng_fra() -> Path | None:
    """A copy on this machine: ``$KQV_DATA_DIR`` (itself or its ``eng-fra`` folder), then the cache."""
    candidates = []
    if env := os.environ.get("KQV_DATA_DIR"):
        candidates += [Path(env) / FILE_NAME, Path(env) / "eng-fra" / FILE_NAME]
    candidates.append(eng_fra_cache_path())
    return next((p for p in candidates if p.is_file()), None)


def fetch_eng_fra(on_progress=None, directory: str | os.PathLike | None = None) -> Path:
    """The path of the pairs file, downloading and unpacking ``data.zip`` first when there is none.

    Without ``directory`` a copy found by :func:`find_eng_fra` is used, else the cache is filled;
    with ``directory`` the file is looked for, or put, there.
    """
    if directory is None:
        found = find_eng_fra()
        if found is not None:
            return found
        dest = eng_fra_cache_path()
    else:
        dest = Path(directory) / FILE_NAME
        if dest.is_file():
            return dest
    zip_path = dest.parent / "data.zip"
    try:
        download(ENG_FRA_URLS, zip_path, on_progress=on_progress)
    except KqvError as exc:
        raise KqvError(f"the English-French pairs are not on this machine and {exc}; "
                       f"{OFFLINE_HINT}") from None
    try:
        text = unpack_pairs(zip_path)
        try:
            with atomic_write(dest) as f:
                f.write(text)
        except OSError as exc:
            raise KqvError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        zip_path.unlink(missing_ok=True)
    return dest


def unpack_pairs(zip_path: Path) -> bytes:
    """The bytes of ``data/eng-fra.txt`` in the tutorial's zip, once they passed every check."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            if MEMBER not in archive.namelist():
                raise KqvError(f"the downloaded data.zip holds no {MEMBER}; it is not the tutorial's archive")
            text = archive.read(MEMBER)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise KqvError(f"the downloaded data.zip is not a readable zip archive ({exc})") from None
    try:
        pairs = parse_pairs(text, MEMBER)
    except KqvError as exc:
        raise KqvError(f"the downloaded data.zip is damaged: {exc}") from None
    if len(pairs) != EXPECTED_PAIRS:
        raise KqvError(f"the downloaded {MEMBER} holds {len(pairs):,} pairs, the tutorial's has "
                       f"{EXPECTED_PAIRS:,}; it is not the file kqv expects")
    return text


def zip_of(text: bytes) -> bytes:
    """A ``data.zip`` laid out as the tutorial's, holding ``text`` (for tests and mirrors)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MEMBER, text)
    return buffer.getvalue()
