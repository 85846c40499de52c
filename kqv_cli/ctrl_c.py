"""Ctrl-C as a request to stop a training run after the current step, not in the middle of it."""

from __future__ import annotations

import signal
from contextlib import contextmanager


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
