"""What the training commands share: checking ``--out`` first, and Ctrl-C as a stop request."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from pathlib import Path

from engine.errors import KqvError


def check_writable(out: Path | None) -> None:
    """Fail before training, not after, when the checkpoint could not be written."""
    if out is None:
        return
    if out.suffix != ".npz":
        raise KqvError(f"--out names an .npz file, like digits.npz; got {out}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise KqvError(f"cannot write {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise KqvError(f"cannot write {out}: permission denied")


@contextmanager
def stop_on_ctrl_c():
    """Turn the first Ctrl-C into a request to stop after the current step.

    Yields a zero-argument function that says whether a stop was asked for. A second Ctrl-C
    interrupts at once, as usual.
    """
    asked = []

    def handler(signum, frame):
        if asked:
            raise KeyboardInterrupt
        asked.append(True)

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (e.g. a test runner): no handler to install
        yield lambda: False
        return
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)
