"""``kqv lessons check [FILE]`` and ``kqv lessons list``: the lesson author's tools.

``check`` runs every step of every lesson (or of one file) against the engine, at the lesson's
default dims and at each of its ``check-dims`` lines, and lists each variable that is missing from the trace
or whose shape differs from what the text says. Exit 0 when everything holds, 2 otherwise; a
malformed file is one line ``file:line: what is wrong`` and exit 2.
"""

from __future__ import annotations

from pathlib import Path

import typer

from kqv_cli.app import KqvTyper, app, fail

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
