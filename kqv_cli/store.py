"""Small JSON state files (lesson progress, quiz cards) that survive crashes, bad edits and company.

Each file holds ``{"schema": N, "data": ...}``. Three promises:

* **Never half a file.** Writes go to a temporary file beside the real one, then replace it in
  one rename (:mod:`engine.files.atomic`), so Ctrl-C or a full disk never leaves half a file.
* **Never the last writer wins.** Two ``kqv quiz`` sessions, or the app and a piped quiz, may
  save the same file. A change is made with :meth:`JsonStore.update`: under a lock on the file
  (the ``filelock`` library, an ``fcntl.flock`` on a ``NAME.lock`` beside it), the file is read
  again, the change is applied to what is on disk now, and the result is written. Nothing
  another process saved in between is lost.
* **Never lose a file we cannot read.** A file that is not JSON, has another schema, or whose
  data fails the store's ``validate`` (the whole structure is checked, inner types included) is
  moved aside to a name no other file has (``NAME.corrupt-<time>-<pid>[-n]``) with one warning
  naming both paths, and the learner starts fresh. A file that exists but cannot be *read*
  (its permissions) is not damaged: it is left exactly where it is, the warning says so, and
  nothing is written over it. Reading with ``repair=False`` (``kqv quiz --stats``) never moves
  or writes anything.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from engine.files.atomic import atomic_write
from engine.files.paths import state_dir
from engine.files.reading import NotRegular, read_bounded

LOCK_TIMEOUT = 10.0  # seconds; a save holds the lock for milliseconds
MAX_BYTES = 32 * 2**20  # a year of daily quizzes is a few hundred KB; more is not ours


class StoreUnavailable(OSError):
    """The file cannot be written safely now (unreadable, or locked by a stuck process)."""


class JsonStore:
    """One JSON document on disk with a schema version, a validator and a lock."""

    def __init__(self, name: str, schema: int, folder: Path | None = None,
                 validate: Callable[[object], None] | None = None):
        self.path = (folder or state_dir()) / name
        self.schema = schema
        self.validate = validate  # raises ValueError (saying what is wrong) for data it refuses
        self.warning: str | None = None  # set when a bad file was moved aside (or left) on load
        self.unreadable = False  # the file exists but could not be read: never write over it
        self._lock = FileLock(self.path.with_name(self.path.name + ".lock"), timeout=LOCK_TIMEOUT)

    def load(self, default, repair: bool = True):
        """The stored data, or ``default`` when there is none or it is unusable.

        With ``repair`` (the default) an unusable file is moved aside; without, it is left as
        it is and only the warning says so.
        """
        self.warning = None
        self.unreadable = False
        try:
            text = read_bounded(self.path, MAX_BYTES).decode("utf-8")
        except FileNotFoundError:
            return default
        except NotADirectoryError:  # KQV_STATE_DIR names a file: nothing here to read or move aside
            self.unreadable = True
            self.warning = (f"{self.path.parent} is not a folder, so progress cannot be kept there "
                            "and is not saved")
            return default
        except NotRegular as exc:  # a FIFO or a link to /dev/zero: not read, not moved, not written over
            self.unreadable = True
            self.warning = f"{exc}; progress is not saved until it is a file again"
            return default
        except PermissionError as exc:
            self.unreadable = True
            self.warning = (f"cannot read {self.path} ({exc.strerror}); it is not damaged, so it was "
                            "left as it is, and progress is not saved until its permissions are fixed")
            return default
        except (OSError, UnicodeDecodeError) as exc:
            return self._unusable(default, exc, repair)
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("schema") != self.schema or "data" not in doc:
                raise ValueError(f"expected schema {self.schema}")
            if self.validate is not None:
                self.validate(doc["data"])
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            return self._unusable(default, exc, repair)
        return doc["data"]

    def _unusable(self, default, exc: Exception, repair: bool):
        reason = str(exc)[:200]
        if not repair:
            self.warning = f"could not read {self.path} ({reason}); left it as it is"
            return default
        try:
            aside = move_aside(self.path)
            kept = f"moved it to {aside}"
        except OSError:
            self.unreadable = True  # cannot move it: then do not write over it either
            kept = "could not move it aside, so it is left in place and progress is not saved"
        self.warning = f"could not read {self.path} ({reason}); {kept} and started fresh"
        return default

    @contextmanager
    def locked(self):
        """Hold the file's lock (re-entrant in this process): read, change and write inside."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._lock:
                yield
        except Timeout:
            raise StoreUnavailable(f"{self.path} is locked by another kqv for more than "
                                   f"{LOCK_TIMEOUT:.0f} s") from None

    def update(self, change: Callable, default):
        """Under the lock: read the file as it is now, ``data = change(data)``, write it; return it."""
        with self.locked():
            data = change(self.load(default))
            self.save(data)
            return data

    def transact(self, default, read: Callable[[object], None], apply: Callable[[], object],
                 write: Callable[[], object]) -> tuple[object, OSError | None]:
        """One change a learner made, saved without losing theirs or another session's.

        Under the lock: ``read(data)`` takes the file as it is now (skipped when the file could
        not be read: that is not "no progress"), ``apply()`` makes the change, ``write()`` is
        saved. A disk that refuses is never fatal: the change still counts in memory, applied
        once whichever step failed. Returns what ``apply`` returned and the OSError, if any.
        """
        result, applied = None, False

        def on_disk_now(data):
            nonlocal result, applied
            if not self.unreadable:
                read(data)
            result, applied = apply(), True
            return write()

        try:
            self.update(on_disk_now, default)
        except OSError as exc:
            return (result if applied else apply()), exc
        return result, None

    def save(self, data) -> None:
        """Write ``data`` atomically (temporary file, fsync, rename), under the lock."""
        if self.unreadable:
            raise StoreUnavailable(f"{self.path} could not be read, so it is not written over")
        with self.locked(), atomic_write(self.path, "w", encoding="utf-8") as f:
            json.dump({"schema": self.schema, "data": data}, f, indent=1, sort_keys=True)


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``NAME.corrupt-<time>-<pid>`` (``-2``, ``-3``... if taken); return it.

    The pid keeps two processes apart, the counter two files in the same second; a name is
    claimed with a hard link, which fails rather than replace a file already there.
    """
    stem = f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    for n in range(1, 1000):
        aside = path.with_name(stem if n == 1 else f"{stem}-{n}")
        try:
            os.link(path, aside)
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links: check, then rename
            if aside.exists():
                continue
            os.replace(path, aside)
            return aside
        os.unlink(path)
        return aside
    raise OSError(f"no free name to move {path} aside")
