"""Running Textual pilot tests without a pytest async plugin."""

from __future__ import annotations

import asyncio
import functools


def pilot_test(test):
    """Run an async pilot test on a fresh event loop."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


def record_notes(app) -> list[str]:
    """The messages ``app.notify`` is given from now on, as a list that fills as they come.

    Catches them at the public method (a screen's ``self.notify`` calls ``self.app.notify``), so
    a test reads what the learner was told without reaching into Textual's notification store.
    Call it before ``run_test`` to catch what the app says while it mounts.
    """
    notes: list[str] = []
    notify = app.notify

    def spy(message, *args, **kwargs):
        notes.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = spy
    return notes


def screen_lines(app) -> list[str]:
    """The screen as the learner sees it, one string per terminal row (toasts and footer included)."""
    return ["".join(segment.text for segment in strip)
            for strip in app.screen._compositor.render_strips()]
