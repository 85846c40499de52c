"""The learner's practice workspace: a folder with one plain Python file per exercise.

``kqv practice init [DIR]`` writes it (default ``./kqv-practice``): a README, the
``kqv_practice.py`` helper (``show``), each exercise's starter as ``<name>.py``, and a small
marker file ``.kqv-practice.json`` by which later commands find the folder. Running ``init``
again adds the exercises that are new and never touches a file that exists: the learner's
edits are theirs. ``reset`` puts a starter back and keeps the old file beside it as a backup
(when it differs from the starter). The learner's progress is kept in the folder too
(:mod:`kqv_cli.practice.practice_progress`), with the level each exercise is done at: its file
is that level's starter (``starter.py`` guided, ``derive.py`` derive), and switching the level
is a reset to the other one, the learner's file kept as a backup unless it is a starter as it
was written.

Where a command looks for the workspace, first match wins: ``--dir``, then the
``KQV_PRACTICE_DIR`` environment variable, then the current folder and each folder above it,
then the app's workspace: the one the Practice screen writes (its ``i`` key) into kqv's data
folder, never into the folder the app was started from (a checkout, a home folder) unasked.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import KqvError
from engine.files.atomic import atomic_write
from engine.files.paths import state_dir
from lessons.practice import PRACTICE_DIR, Exercise, load_exercises, starter_file

MARKER = ".kqv-practice.json"
DEFAULT_DIR = "kqv-practice"
ENV = "KQV_PRACTICE_DIR"
APP_DIR = "practice"  # the app's workspace, under kqv's data folder
HELPERS = {"README.md": PRACTICE_DIR / "WORKSPACE.md", "kqv_practice.py": PRACTICE_DIR / "kqv_practice.py"}


@dataclass
class InitResult:
    folder: Path
    added: list[str] = field(default_factory=list)  # file names written now
    derive: list[str] = field(default_factory=list)  # exercises written at the derive level
    kept: list[str] = field(default_factory=list)  # already there, left as they were


class Workspace:
    """A practice folder found on disk."""

    def __init__(self, folder: Path):
        self.folder = folder

    def file(self, exercise: Exercise) -> Path:
        return self.folder / f"{exercise.name}.py"

    def existing_file(self, exercise: Exercise) -> Path:
        """The exercise's file, or a :class:`KqvError` saying how to get it back."""
        path = self.file(exercise)
        if not path.is_file():
            raise KqvError(f"{path} is missing from the workspace; `kqv practice reset {exercise.name}` "
                           "writes the starter again")
        return path

    def exercise_for(self, path: Path) -> Exercise | None:
        """The exercise whose file ``path`` is, if any (watch mode maps saves to exercises)."""
        for exercise in load_exercises():
            if path.name == f"{exercise.name}.py":
                return exercise
        return None

    def reset(self, exercise: Exercise, level: str = "guided") -> Path | None:
        """Write the ``level``'s starter again; return where the old file was kept (None if there
        was none, or it was a starter as it is, of either level)."""
        path = self.file(exercise)
        backup = None
        starter = starter_file(exercise, level).read_text(encoding="utf-8")
        untouched = [starter_file(exercise, other).read_text(encoding="utf-8") for other in exercise.levels]
        try:
            if path.exists() and not any(_holds(path, text) for text in untouched):  # no backup of a starter
                backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
                n = 1
                while backup.exists():
                    n += 1
                    backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}-{n}.bak")
                shutil.copy2(path, backup)
            _write(path, starter)
        except OSError as exc:
            raise KqvError(f"cannot write {path} ({exc.strerror or exc}); is the workspace writable?") \
                from None
        return backup


def init_workspace(folder: Path, level: str = "guided") -> InitResult:
    """Create or extend the workspace in ``folder``; existing files are never overwritten.

    A new exercise file is the ``level``'s starter when the exercise has that level (the guided
    one otherwise); ``derive`` lists the exercises written at the derive level."""
    folder = folder.expanduser()
    result = InitResult(folder.resolve() if folder.exists() else folder.absolute())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        files = {name: source for name, source in HELPERS.items()}
        exercises = {f"{e.name}.py": e for e in load_exercises()}
        files.update({name: starter_file(e, level) for name, e in exercises.items()})
        for name, source in files.items():
            target = folder / name
            if target.exists():
                result.kept.append(name)
                continue
            _write(target, source.read_text(encoding="utf-8"))
            result.added.append(name)
            if name in exercises and source.name == "derive.py":
                result.derive.append(exercises[name].name)
        marker = {"kqv": "practice workspace", "exercises": [e.name for e in load_exercises()]}
        _write(folder / MARKER, json.dumps(marker, indent=1) + "\n")
    except (FileExistsError, NotADirectoryError):
        raise KqvError(f"cannot make the workspace {folder}: something that is not a folder is in "
                       "the way") from None
    except OSError as exc:
        raise KqvError(f"cannot write the workspace {folder} ({exc.strerror or exc}); choose a folder "
                       "you can write to: kqv practice init DIR") from None
    result.folder = folder.resolve()
    return result


def app_workspace_dir() -> Path:
    """Where the app writes a workspace when asked: kqv's data folder (platformdirs' user data
    folder, or ``$KQV_STATE_DIR``), beside the learner's progress."""
    return state_dir() / APP_DIR


def find_workspace(explicit: Path | None = None, start: Path | None = None) -> Workspace:
    """``--dir``, else ``$KQV_PRACTICE_DIR``, else the nearest folder from ``start`` up with the
    marker, else the app's workspace (:func:`app_workspace_dir`) if one was written."""
    chosen = explicit or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    if chosen is not None:
        chosen = chosen.expanduser()
        how = "--dir" if explicit else ENV
        if chosen.exists() and not chosen.is_dir():
            raise KqvError(f"{chosen} ({how}) is a file, not a practice workspace; name the workspace "
                           "folder (`kqv practice init DIR` makes one)")
        if not (chosen / MARKER).is_file():
            raise KqvError(f"{chosen} ({how}) is not a practice workspace; make one with "
                           f"`kqv practice init {chosen}`")
        return Workspace(chosen.resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return Workspace(folder)
        if (folder / DEFAULT_DIR / MARKER).is_file():
            return Workspace(folder / DEFAULT_DIR)
    if (app_workspace_dir() / MARKER).is_file():
        return Workspace(app_workspace_dir().resolve())
    raise KqvError("no practice workspace here or in any folder above; make one with "
                   "`kqv practice init` (or pass --dir)")


def _holds(path: Path, text: str) -> bool:
    """Whether the file at ``path`` is exactly ``text`` (a folder or unreadable file is not)."""
    try:
        return path.is_file() and path.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _write(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)
