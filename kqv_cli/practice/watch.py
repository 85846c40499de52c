"""Re-check an exercise each time its file is saved (``kqv practice check --watch``, the app).

Uses watchfiles (inotify/FSEvents, polling as a fallback), the way ``rustlings watch`` does:
saves that come in a burst (an editor writing a temporary file, then renaming it) are grouped,
waiting ``STEP_MS`` for quiet, so one save gives one check. Saves made while a check runs are
picked up once it ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import watchfiles

from kqv_cli.practice.workspace import Workspace
from lessons.practice import Exercise

STEP_MS = 50  # quiet time that ends a burst of file events
DEBOUNCE_MS = 400  # the longest a burst is grouped before it is checked anyway


def watch_saves(workspace: Workspace, on_save: Callable[[Exercise], None],
                only: Exercise | None = None, stop: threading.Event | None = None) -> None:
    """Call ``on_save(exercise)`` after each save of an exercise file (of ``only``, if given).

    Returns when ``stop`` is set (checked at least every ``DEBOUNCE_MS``); Ctrl-C ends it too.
    """
    def is_exercise_file(change: watchfiles.Change, path: str) -> bool:
        if change == watchfiles.Change.deleted or not path.endswith(".py"):
            return False
        return only is None or Path(path).name == f"{only.name}.py"

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its Ctrl-C note; we say "stopped watching"
    for changes in watchfiles.watch(workspace.folder, watch_filter=is_exercise_file, debounce=DEBOUNCE_MS,
                                    step=STEP_MS, stop_event=stop, recursive=False,
                                    raise_interrupt=False):
        seen = []
        for _, path in sorted(changes, key=lambda c: c[1]):
            exercise = only or workspace.exercise_for(Path(path))
            if exercise is not None and exercise not in seen:
                seen.append(exercise)
        for exercise in seen:
            on_save(exercise)
