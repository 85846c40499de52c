"""The lab's result cache: one small JSON file per trained variant, in the cache folder.

A variant's result depends only on what was trained (model and training settings, budget),
on what data, and on the seed; the key is a hash of exactly those. So a second ``kqv lab run``
is instant, and the standard GPT shared by several experiments with the same base is trained
once. Files are written atomically (temporary name, then rename); an unreadable file counts
as a miss and is overwritten, since everything in it can be computed again.

Whether a whole experiment is cached cannot be read from those keys without loading its data
(they hash it), so a finished run on the lab's default data also notes its variants' files in a
small index, under a key naming the experiment, the budget, the seed and the data found here
(:func:`data_here`, which reads no data). The Lab screen marks an experiment cached when its
index entry is there and every file it names is still a readable result.
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


INDEX = "experiments.json"  # run key -> the cache files of that run's variants


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


# -- which experiments are cached whole ------------------------------------------------------


def data_here(exp) -> str:
    """The data the lab trains ``exp`` on by default, named without reading it: the file or folder
    found here (MNIST, Tiny Shakespeare, the English-French pairs) or the built-in stand-in."""
    if exp.kind == "digits":
        from engine.data.mnist import find_mnist
        from engine.errors import KqvError

        try:
            folder = find_mnist()
        except KqvError:
            folder = None
        return f"mnist:{folder}" if folder is not None else "synthetic digits"
    if exp.kind == "gpt":
        from engine.data.shakespeare import find_shakespeare

        return f"text:{find_shakespeare()}"
    from engine.data.eng_fra import find_eng_fra

    found = None if exp.pairs == "builtin" else find_eng_fra()
    return f"pairs:{found}" if found is not None else "built-in pairs"


def run_key(name: str, budget: int, seed: int, data: str) -> str:
    return f"{name} · {budget} · seed {seed} · {data}"


def _read_index() -> dict:
    doc = read_cached(lab_cache_dir() / INDEX)
    runs = doc.get("runs") if doc else None
    return runs if isinstance(runs, dict) else {}


def record_run(key: str, paths: list[Path]) -> None:
    """Note that the run ``key`` finished with its variants in ``paths`` (quietly, as the cache)."""
    runs = _read_index()
    runs[key] = [p.name for p in paths]
    write_cached(lab_cache_dir() / INDEX, {"runs": runs})


def is_cached(key: str) -> bool:
    """Whether the run ``key`` finished before and each of its variants' results is still readable."""
    names = _read_index().get(key)
    if not isinstance(names, list) or not names:
        return False
    return all(isinstance(n, str) and "/" not in n and read_cached(lab_cache_dir() / n) is not None
               for n in names)
