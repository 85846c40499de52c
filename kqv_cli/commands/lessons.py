"""``kqv lessons check [FILE]``, ``kqv lessons list`` and ``kqv lessons show NAME``.

``show`` prints a step (or every step) as plain text, as the lesson screen shows it: the
explanation with the run's numbers filled in, the notes, the variables with their shapes. A
lesson then reads in any terminal, through a pager or a screen reader.

``check`` runs every step of every lesson (or of one file) against the engine, at the lesson's
default dims and at each of its ``check-dims`` lines, and lists each variable that is missing from the trace
or whose shape differs from what the text says. Exit 0 when everything holds, 2 otherwise; a
malformed file is one line ``file:line: what is wrong`` and exit 2.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import typer

from kqv_cli.cli import KqvTyper, app, fail
from kqv_cli.generated_text import on_terminal

READING_WIDTH = 100  # the widest a step's text is wrapped on a terminal
UNWRAPPED = 1000  # wider than any paragraph of a lesson: piped, a paragraph stays one line

lessons_app = KqvTyper(help="Check and list the lessons.", no_args_is_help=True, rich_markup_mode="rich")
app.add_typer(lessons_app, name="lessons")


@lessons_app.command("check")
def check(
    file: Path | None = typer.Argument(None, help="A lesson file; default: every built-in lesson."),
    seed: int = typer.Option(0, help="Seed of the random inputs and weights."),
    sets: int | None = typer.Option(None, "--sets", min=0,
                                    help="Check only the first N check-dims sets (default: all)."),
) -> None:
    """Run every step and check each shown variable's shape against the engine's."""
    from lessons import LessonSession, load_lesson, load_lessons

    lessons = [load_lesson(file)] if file is not None else load_lessons()
    problems: list[str] = []
    for lesson in lessons:
        dims_sets = [{}] + lesson.check_dims[:sets]
        checked = 0
        found: list[str] = []
        for dims in dims_sets:
            session = LessonSession(lesson, dims, seed)
            for i in range(len(lesson.steps)):
                view = session.run(i)
                checked += len(view.step.expects)
                at = "" if not dims else " (at " + ", ".join(f"{k}={v}" for k, v in dims.items()) + ")"
                found += [p + at for p in view.problems]
        status = "ok" if not found else f"{len(found)} problem{'s' * (len(found) != 1)}"
        typer.echo(f"{lesson.path}: {len(lesson.steps)} steps, {checked} shapes checked "
                   f"at {len(dims_sets)} set{'s' * (len(dims_sets) != 1)} of dims: {status}")
        for p in found:
            typer.echo(f"  {p}")
        problems += found
    if problems:
        raise fail(f"{len(problems)} problem{'s' * (len(problems) != 1)} in the lessons (listed "
                   "above): fix the shapes in the text or the show: lines")


@lessons_app.command("list")
def list_lessons() -> None:
    """The built-in lessons: id, number of steps, title."""
    from lessons import load_lessons

    for lesson in load_lessons():
        typer.echo(f"{lesson.id:<10} {len(lesson.steps):>3} steps  {lesson.title}")


@lessons_app.command("show")
def show(
    name: str = typer.Argument(..., help="A lesson (kqv lessons list names them) or a lesson file."),
    step: str | None = typer.Option(None, "--step", "-s",
                                    help="Step number (from 1) or step id; default: every step."),
    model: str | None = typer.Option(None, "--model", help="attention: run its steps on GPT-2 (gpt2, "
                                     "distilgpt2, ... or a GPT-2 folder); translation: on MarianMT "
                                     "(opus-mt-en-fr or a Marian folder); as the g key does."),
    dims: str | None = typer.Option(None, "--dims", help="Other dims, as the d key sets them: "
                                    "'C=64, nh=8'."),
    seed: int = typer.Option(0, help="Seed of the random inputs and weights (the r key)."),
    width: int | None = typer.Option(None, "--width", min=40, max=UNWRAPPED,
                                     help="Wrap the text at this many columns (default: the terminal's "
                                     f"width, up to {READING_WIDTH}; piped, lines are left whole)."),
) -> None:
    """Print a lesson step as plain text: explanation with live numbers, notes, variables."""
    from kqv_cli.services.real_models import MODEL_LESSONS, REAL_MODELS, real_model_folder
    from kqv_cli.step_plain import step_as_text
    from lessons import LessonSession, load_lesson, load_lessons
    from lessons.loader import parse_dims_text

    lesson = _find_lesson(name, load_lesson, load_lessons)
    folder = None
    if model is not None:
        if lesson.id not in REAL_MODELS:
            raise fail(f"{MODEL_LESSONS}, not {lesson.id}: kqv lessons show attention --model gpt2|PATH "
                       "or kqv lessons show translation --model opus-mt-en-fr|PATH")
        folder = str(real_model_folder(lesson.id, model))
    session = LessonSession(lesson, parse_dims_text(dims) if dims else None, seed, model=folder)
    indices = range(len(lesson.steps)) if step is None else [_step_index(lesson, step)]
    if width is None:  # a pager or an editor wraps piped text for its own width
        terminal = on_terminal(sys.stdout)
        width = min(shutil.get_terminal_size().columns, READING_WIDTH) if terminal else UNWRAPPED
    for k, i in enumerate(indices):
        if k:
            typer.echo("\n" + "─" * min(width, READING_WIDTH) + "\n")
        typer.echo(step_as_text(lesson, session.run(i), width), nl=False)


def _find_lesson(name: str, load_lesson, load_lessons):
    from engine.errors import KqvError

    if name.endswith(".md") or "/" in name:
        return load_lesson(name)
    lessons = {lesson.id: lesson for lesson in load_lessons()}
    if name not in lessons:
        raise KqvError(f"no lesson named {name!r}; the lessons are: {', '.join(lessons)}")
    return lessons[name]


def _step_index(lesson, step: str) -> int:
    """``--step 3`` (from 1) or ``--step softmax`` (an id) -> the 0-based index."""
    from engine.errors import KqvError

    if step.strip().isdigit():
        number = int(step)
        if not 1 <= number <= len(lesson.steps):
            raise KqvError(f"{lesson.id} has steps 1..{len(lesson.steps)}, not {number}")
        return number - 1
    try:
        return lesson.step_index(step.strip())
    except KeyError:
        ids = ", ".join(s.id for s in lesson.steps)
        raise KqvError(f"{lesson.id} has no step {step!r}; its steps are 1..{len(lesson.steps)} "
                       f"or: {ids}") from None
