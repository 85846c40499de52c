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


async def settle(pilot) -> None:
    """Wait until a lesson screen has drawn the step it was asked for (not busy), then let the
    layout that drawing asked for happen too."""
    from kqv_cli.tui.screens.lesson import LessonScreen

    await pilot.pause()
    while isinstance(pilot.app.screen, LessonScreen) and pilot.app.screen.busy:
        await asyncio.sleep(0.002)
    await pilot.pause()
    await pilot.pause()


@functools.cache
def lessons_by_id() -> dict:
    """Every lesson by its id, read once per test process."""
    from lessons import load_lessons

    return {lesson.id: lesson for lesson in load_lessons()}


async def go_to(pilot, lesson_id: str, step_id: str):
    """Put the open lesson screen on ``step_id`` of ``lesson_id`` and wait until it is drawn."""
    screen = pilot.app.screen
    screen.index = lessons_by_id()[lesson_id].step_index(step_id)
    screen.request_step(new_step=True)
    await settle(pilot)
    return screen
