"""``kqv learn [LESSON]`` and plain ``kqv``: open the lesson player.

The lessons are loaded and checked here, before Textual is imported, so a malformed lesson file
or a misspelt lesson name ends in one line and exit code 2 instead of a half-drawn screen.
"""

from __future__ import annotations

import typer

from kqv_cli.cli import app, fail, is_interactive
from kqv_cli.services.real_models import MODEL_LESSONS, REAL_MODELS, real_model_folder
from lessons.curriculum import LESSONS


def gpt2_folder(model: str):
    """The folder of the GPT-2 ``model`` names (gpt2, distilgpt2, ... or a path), checked to be
    a GPT-2; one line and exit 2 when it is not there or is something else."""
    from engine.errors import KqvError

    try:
        return real_model_folder("attention", model)
    except KqvError as exc:
        raise fail(str(exc)) from None


def open_lessons(lesson_id: str | None, model: str | None = None) -> None:
    """Load the lessons, check ``lesson_id`` (and ``model``, a GPT-2 for the attention lesson),
    then run the app (Textual is imported only here)."""
    from engine.errors import KqvError
    from lessons import LessonError, load_lessons

    try:
        lessons = load_lessons()
    except LessonError as exc:
        raise fail(f"{exc} (fix the lesson file, or reinstall kqv)") from None
    known = [lesson.id for lesson in lessons]
    if lesson_id is not None and lesson_id not in known:
        raise fail(f"no lesson named {lesson_id!r}; the lessons are: {', '.join(known)}")
    folder = None
    if model is not None:
        if lesson_id not in REAL_MODELS:
            raise fail(f"{MODEL_LESSONS}: kqv learn attention --model gpt2|PATH, or kqv learn translation "
                       "--model opus-mt-en-fr|PATH")
        try:
            folder = real_model_folder(lesson_id, model)
        except KqvError as exc:
            raise fail(str(exc)) from None
    if not is_interactive():
        raise fail("the lessons need an interactive terminal; run kqv in a terminal, not a pipe")
    from kqv_cli.tui.app import KqvApp
    from kqv_cli.tui.ascii_terminal import use_ascii_where_needed

    use_ascii_where_needed()  # PYTHONIOENCODING=ascii: ASCII borders, not a screen of \u2502
    app = KqvApp(lesson_id, lessons=lessons, model=None if folder is None else str(folder))
    app.run()
    if app.failure is not None:  # an error Textual caught: one line and kqv's exit code, as any command
        raise app.failure
    if app.return_code:  # an error Textual caught and showed: the exit status says so too
        raise typer.Exit(app.return_code)


@app.command("learn")
def learn(
    lesson: str | None = typer.Argument(None, help=f"Lesson to open ({', '.join(LESSONS)}); none opens "
                                        "the home screen."),
    model: str | None = typer.Option(None, "--model", help="attention: run its steps on GPT-2 "
                                     "(gpt2, distilgpt2, gpt2-medium after `kqv data gpt2`, or a "
                                     "GPT-2 folder); translation: its decoding and pizza steps on "
                                     "MarianMT (opus-mt-en-fr after `kqv data marian`, or a Marian "
                                     "folder)."),
) -> None:
    """Step through a lesson: explanation, engine code and every variable's shape, live."""
    open_lessons(lesson, model)
