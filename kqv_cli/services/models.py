"""Where the app keeps the models it trains, and which run it keeps.

The Train screen keeps the last model of each kind in the user's data folder (``models/gpt.npz``,
``models/digits.npz``; under ``KQV_STATE_DIR`` in tests), so ``kqv sample`` and ``kqv eval
digits`` can pick it up afterwards. A run trains into ``gpt-run.npz`` (``digits-run.npz``) and
replaces the kept file at the end only if it trained at least as long: a short or cancelled run
never replaces a longer one.
"""

from __future__ import annotations

import os
from pathlib import Path

# how far a kept checkpoint of each kind was trained: its metadata key and the unit
TRAINED = {"gpt": ("iter", "iterations"), "digits": ("epochs_done", "epochs"),
           "translate": ("iter", "iterations")}


def models_dir() -> Path:
    """The folder of the kept models (under KQV_STATE_DIR in tests)."""
    from engine.files.paths import state_dir

    return state_dir() / "models"


def kept(kind: str, folder: Path | None = None) -> Path | None:
    """The kept model of ``kind`` ("gpt", "digits") in ``folder`` (default :func:`models_dir`),
    or None when there is none yet."""
    path = (models_dir() if folder is None else folder) / f"{kind}.npz"
    return path if path.exists() else None


def writable_path(name: str, folder: Path | None = None) -> Path:
    """``folder/name.npz`` ("gpt", "gpt-run"...), the folder made if need be; raises KqvError if
    it cannot be written there. The kept models are the app's own: it replaces them freely."""
    from kqv_cli.checkpoint_out import check_writable

    folder = models_dir() if folder is None else folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.npz"
    check_writable(path, replace=True)
    return path


def keep_longer(run: Path, keep: Path, done: int, kind: str = "gpt") -> tuple[Path, str]:
    """Make ``run`` the kept model (``keep``) unless ``keep`` holds a longer-trained one: a short
    cancelled run must not replace hours of training. ``done`` is how far the run got (GPT
    iterations, digit-net epochs). Returns the file that holds the run and a note."""
    from engine.errors import KqvError
    from engine.files.atomic import NotARegularFile, mode_of_replaceable
    from engine.files.checkpoint import load_checkpoint

    key, unit = TRAINED[kind]
    try:
        before = int(load_checkpoint(keep, kind)[1].get(key, 0)) if keep.exists() else -1
    except (KqvError, ValueError, TypeError):
        before = -1  # unreadable: nothing worth keeping
    try:
        mode_of_replaceable(keep)  # a FIFO or a device put there is never replaced
    except NotARegularFile:
        return run, f" ({keep} is not a regular file, so it was left as it is)"
    if done >= before:
        os.replace(run, keep)  # a link at keep is replaced itself, its target left alone
        return keep, ""
    return run, f" ({keep.name} keeps the longer model, {before:,} {unit})"
