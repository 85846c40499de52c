"""``kqv learn [LESSON]`` and plain ``kqv``: open the lesson player.

The lessons are loaded and checked here, before Textual is imported, so a malformed lesson file
or a misspelt lesson name ends in one line and exit code 2 instead of a half-drawn screen.
"""

from __future__ import annotations

import typer

from kqv_cli.app import app, fail, is_interactive


def open_lessons(lesson_id: str | None) -> None:
    """Load the lessons, check ``lesson_id``, then run the app (Textual is imported only here)."""
    from lessons import LessonError, load_lessons

    try:
        lessons = load_lessons()
    except LessonError as exc:
        raise fail(f"{exc} (fix the lesson file, or reinstall kqv)") from None
    known = [lesson.id for lesson in lessons]
    if lesson_id is not None and lesson_id not in known:
        raise fail(f"no lesson named {lesson_id!r}; the lessons are: {', '.join(known)}")
    if not is_interactive():
        raise fail("the lessons need an interactive terminal; run kqv in a terminal, not a pipe")
    from kqv_cli.tui.app import KqvApp

    KqvApp(lesson_id, lessons=lessons).run()


@app.command("learn")
def learn(
    lesson: str | None = typer.Argument(None, help="Lesson to open (backprop, attention, bridge, backward); "
                                        "none opens the home screen."),
) -> None:
    """Step through a lesson: explanation, engine code and every variable's shape, live."""
    open_lessons(lesson)
