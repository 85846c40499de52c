"""The lab's result cache: one small JSON file per trained variant, in the cache folder.

A variant's result depends only on what was trained (model and training settings, budget),
on what data, and on the seed; the key is a hash of exactly those. So a second ``kqv lab run``
is instant, and the standard GPT shared by several experiments with the same base is trained
once. Files are written atomically (temporary name, then rename); an unreadable file counts
as a miss and is overwritten, since everything in it can be computed again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.files.atomic import atomic_write
from engine.files.paths import cache_dir
from engine.files.reading import read_bounded

CACHE_VERSION = 2  # bump when a change in the runner changes what a variant's numbers mean
MAX_BYTES = 16 * 2**20  # a variant's curves and sample are a few KB


def lab_cache_dir() -> Path:
    return cache_dir() / "lab"


def cache_key(material: dict) -> str:
    """A short stable hash of everything a result depends on."""
    blob = json.dumps({"version": CACHE_VERSION, **material}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def cache_path(kind: str, key: str) -> Path:
    return lab_cache_dir() / f"{kind}-{key}.json"


def read_cached(path: Path) -> dict | None:
    try:
        doc = json.loads(read_bounded(path, MAX_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and doc.get("version") == CACHE_VERSION else None


def write_cached(path: Path, doc: dict) -> None:
    """Write ``doc`` atomically; a cache that cannot be written is not an error (returns quietly)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump({"version": CACHE_VERSION, **doc}, f)
    except OSError:
        return


def data_fingerprint(*arrays) -> str:
    """A hash of the data a run trained on (every 97th byte-row is plenty to tell sets apart)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(a[::97].tobytes() if a.ndim > 1 else a.tobytes())
    return h.hexdigest()[:16]
