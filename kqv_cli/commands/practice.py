"""``kqv practice``: write the engine's functions yourself; kqv grades them against the engine.

    kqv practice                    the exercises in lesson order, with your status
    kqv practice init [DIR]         a workspace folder with one file per exercise
    kqv practice init --level derive   the backward exercises with the forward only: derive them
    kqv practice check [NAME]       run your function, compare every variable with the engine
    kqv practice check --watch      the same on every save
    kqv practice hint NAME          the next hint (derive level: a step for what fails now)
    kqv practice level NAME derive  switch an exercise's level (your file kept as a backup)
    kqv practice reset NAME         the starter again (your file kept as a backup)
    kqv practice solution NAME      the reference, once passed (or with --give-up)

Exit codes of ``check``: 0 passed, 1 not passed yet (a wrong variable, NaN in a result, a crash
or a timeout of your code), 2 input kqv cannot grade (a syntax error, a renamed function or a
changed signature, a wrong return type, a second show of a name, an import of kqv's own code, a
missing file or workspace). No Textual here: it works piped and in CI.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from engine.errors import KqvError
from kqv_cli.cli import KqvTyper, app, fail, is_interactive
from kqv_cli.exit_codes import EXIT_USER_ERROR
from kqv_cli.messages import console, dim, error, styled, warning

if TYPE_CHECKING:
    from kqv_cli.practice.grader import Report
    from kqv_cli.practice.practice_progress import PracticeProgress
    from kqv_cli.practice.workspace import Workspace
    from lessons.practice import Exercise

practice_app = KqvTyper(help="Write the engine's functions yourself; kqv grades every variable.",
                        rich_markup_mode="rich", invoke_without_command=True)
app.add_typer(practice_app, name="practice")

DIR_OPTION = typer.Option(None, "--dir", "-d", help="The workspace (default: $KQV_PRACTICE_DIR, "
                          "else the current folder or one above it).")


@practice_app.callback()
def practice(ctx: typer.Context, folder: Path | None = DIR_OPTION) -> None:
    """With no command: the exercises in lesson order and where you stand on each."""
    ctx.obj = folder  # `kqv practice --dir WS check` means WS as much as `check --dir WS` does
    if ctx.invoked_subcommand is None:
        _list(folder)


def _folder(ctx: typer.Context, folder: Path | None) -> Path | None:
    """The command's own --dir, else the one given to `kqv practice` before the command."""
    if folder is not None:
        return folder
    parent = ctx.parent
    return parent.obj if parent is not None and isinstance(parent.obj, Path) else None


@practice_app.command("list")
def list_exercises(ctx: typer.Context, folder: Path | None = DIR_OPTION) -> None:
    """The exercises in lesson order: the lesson step each follows, and your status."""
    _list(_folder(ctx, folder))


def _list(folder: Path | None) -> None:
    from kqv_cli.practice.workspace import find_workspace
    from lessons.practice import lesson_step, load_exercises

    try:
        workspace = find_workspace(folder)
    except KqvError:
        if folder is not None:
            raise
        workspace = None
    progress = _progress(workspace)
    # no box, as kqv's other listings: the level column fits beside the status at 80 columns
    table = Table(title="kqv practice", title_justify="left", box=None, header_style="bold", pad_edge=False)
    for col in ("#", "exercise", "follows step", "level", "status", "tries", "hints"):
        table.add_column(col, justify="right" if col in ("#", "tries", "hints") else "left")
    for i, exercise in enumerate(load_exercises(), start=1):
        status = progress.status(exercise.name)
        style = "green" if status.startswith("passed") else ("dim" if status == "not started" else "yellow")
        state = progress.state(exercise.name)
        step = lesson_step(exercise)
        table.add_row(str(i), exercise.name, f"{exercise.lesson} {step[0] if step else exercise.step}",
                      state.level, Text(status, style=style), str(state.tries), str(state.hints_used))
    console.print(table)
    console.print(dim(run_line()), soft_wrap=True)
    if workspace is None:
        console.print("no workspace yet: `kqv practice init` writes one file per exercise")
    else:
        console.print(styled(f"workspace: {workspace.folder}   ", ("kqv practice check NAME", "dim")))


def run_line() -> str:
    """What `kqv practice run` takes, for the list."""
    from kqv_cli.practice.run_plan import DIGIT_EXERCISES, GPT_EXERCISES

    return (f"kqv practice run digits ({', '.join(DIGIT_EXERCISES)}) or gpt ({', '.join(GPT_EXERCISES)}), "
            "or one of those: your functions, once they pass, train the model inside kqv's engine")


@practice_app.command("init")
def init(folder: Path = typer.Argument(Path("kqv-practice"), help="Where to write the workspace."),
         level: str = typer.Option("guided", "--level", help="guided: the docstrings give every formula; "
                                   "derive: the backward exercises state the forward and the shapes only, "
                                   "and you work out the backward (the hints go step by step).")) -> None:
    """Write a workspace: one Python file per exercise, a README and the show() helper.

    Running it again adds new exercises; it never overwrites a file that is there.
    """
    from kqv_cli.practice.levels import checked_level
    from kqv_cli.practice.workspace import Workspace, init_workspace

    result = init_workspace(folder, checked_level(None, level))
    new = [n for n in result.added if n.endswith(".py") and n != "kqv_practice.py"]
    console.print(f"workspace: {result.folder}")
    progress = _progress(Workspace(result.folder))
    for name in (n.removesuffix(".py") for n in new):  # each file written now is at its level
        written = "derive" if name in result.derive else "guided"
        if progress.level(name) != written:
            progress.set_level(name, written)
    if progress.save_error:
        warning(progress.save_error)
    if new:
        console.print(f"added {len(new)} exercise file{'s' * (len(new) != 1)}: {', '.join(new)}")
    if level == "derive":
        _say_derive_levels(result.derive, progress)
    if result.kept:
        console.print(dim(f"kept as they were: {', '.join(result.kept)}"))
    if not result.added:
        console.print("nothing new: every exercise file is already there")
    console.print("next: open the first file, write the function, then `kqv practice check`")


def _say_derive_levels(written: list[str], progress: PracticeProgress) -> None:
    """After `init --level derive`: which files are at the derive level now, and which were there
    already at the guided level (never overwritten: `level NAME derive` switches one)."""
    from kqv_cli.practice.levels import derive_exercises

    if written:
        console.print(f"at the derive level: {', '.join(written)}; the other exercises have no backward "
                      "to derive", soft_wrap=True)
    guided = [n for n in derive_exercises() if n not in written and progress.level(n) != "derive"]
    if guided:
        console.print(dim(f"kept at the guided level, as your files are never overwritten: "
                          f"{', '.join(guided)}; `kqv practice level NAME derive` switches one (your "
                          "file kept as a .bak)"), soft_wrap=True)


@practice_app.command("check")
def check(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="An exercise; default: the first one not passed."),
    watch: bool = typer.Option(False, "--watch", "-w", help="Check again after every save (Ctrl-C ends)."),
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds your code may run per check."),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Draw the random input set's sizes "
                                    "from this seed (a failure on them says which to replay)."),
    folder: Path | None = DIR_OPTION,
) -> None:
    """Run your function on the engine's inputs and compare every variable, in order."""
    from kqv_cli.practice.workspace import find_workspace

    if timeout <= 0:
        raise KqvError(f"--timeout must be more than 0 seconds, got {timeout:g}")
    workspace = find_workspace(_folder(ctx, folder))
    progress = _progress(workspace)
    exercise = _exercise(name) if name else _next_exercise(progress)
    if not watch:
        report = _check_one(workspace, exercise, progress, timeout, seed=seed)
        if not report.passed:
            raise typer.Exit(EXIT_USER_ERROR if report.ungradable else 1)
        return

    from kqv_cli.practice.watch import watch_saves

    _check_one(workspace, exercise, progress, timeout, quiet_errors=True, stamp=True)
    console.print(dim(f"watching {workspace.folder} for saves{'' if name else ' of any exercise'}; "
                      "Ctrl-C ends"))
    watch_saves(workspace, lambda ex: _check_one(workspace, ex, progress, timeout, quiet_errors=True,
                                                 stamp=True),
                only=_exercise(name) if name else None)
    console.print("stopped watching")


def _check_one(workspace: Workspace, exercise: Exercise, progress: PracticeProgress, timeout: float,
               quiet_errors: bool = False, stamp: bool = False, seed: int | None = None) -> Report | None:
    """Check one exercise, print the table and the story, record it; KqvError unless quiet.

    ``stamp`` (watch mode) puts the time of the check on its first line, so one result is told
    from the one before it after a save that changed nothing."""
    from kqv_cli.practice.grader import check_file

    try:
        path = workspace.existing_file(exercise)
    except KqvError as exc:
        if not quiet_errors:
            raise
        error(str(exc))
        return None
    report = check_file(exercise, path, timeout, seed, level=progress.level(exercise.name))
    progress.record_check(exercise.name, report.passed, report.summary())
    print_report(report, story=quiet_errors or not report.ungradable,
                 stamp=time.strftime("%H:%M:%S") if stamp else "")
    if progress.save_error:
        warning(progress.save_error)
    if report.ungradable and not quiet_errors:
        raise fail(report.story[0])
    return report


def print_report(report: Report, story: bool = True, stamp: str = "") -> None:
    """The variables table and what went wrong; ``story=False`` leaves the story to the error line.
    ``stamp``: a time to put first on the rule line (watch mode)."""
    from kqv_cli.practice.report_table import report_table

    console.rule(Text(f"{stamp + ' · ' if stamp else ''}{report.exercise.name} · {report.exercise.title}"),
                 align="left", style="dim")
    if report.output.strip():
        console.print(dim("your code printed:"))
        console.print("\n".join(report.output.rstrip().splitlines()[-8:])[-800:])
    if report.rows:
        where = "" if report.case == 0 else f" (input set {report.case + 1} of {report.cases})"
        dims = ", ".join(f"{k}={v}" for k, v in report.dims.items())
        console.print(report_table(report, f"{report.exercise.phase} order, {dims}{where}"))
    style = "bold green" if report.passed else ("bold red" if report.ungradable else "bold yellow")
    for i, line in enumerate(report.story if story else []):
        console.print(line, style=style if i == 0 else None, soft_wrap=True)
    if not report.passed and not report.ungradable:
        console.print(dim(f"stuck? kqv practice hint {report.exercise.name}"))


@practice_app.command("hint")
def hint(ctx: typer.Context, name: str = typer.Argument(..., help="The exercise."),
         folder: Path | None = DIR_OPTION) -> None:
    """The next hint. Guided: the shapes, then the formula, then near-code. Derive: the next step
    for the variable that fails now (your file is checked first to find it)."""
    from kqv_cli.practice.practice_progress import HINTS
    from kqv_cli.practice.workspace import find_workspace

    exercise = _exercise(name)
    # with a --dir, the hint names the file it is about (and a wrong --dir is said first)
    where = ""
    if (chosen := _folder(ctx, folder)) is not None:
        where = f" ({find_workspace(chosen).file(exercise)})"
    workspace = _workspace_if_any(_folder(ctx, folder))
    progress = _progress(workspace)
    if progress.level(exercise.name) == "derive" and exercise.derive is not None:
        _derive_hint(exercise, workspace, progress, where)
        return
    index = progress.next_hint(exercise.name)
    console.print(f"hint {index + 1} of {HINTS} · {exercise.name}{where}", soft_wrap=True)
    console.print(exercise.hints[index], soft_wrap=True)
    if index == HINTS - 1:
        console.print(dim(f"that is the last hint; `kqv practice solution {exercise.name} --give-up` "
                          "shows the reference"))


def _derive_hint(exercise: Exercise, workspace: Workspace | None, progress: PracticeProgress,
                 where: str) -> None:
    """The next step on the rung of the variable that fails now: the file is checked to find it."""
    from kqv_cli.practice.grader import check_file
    from kqv_cli.practice.levels import next_derive_hint

    report = None
    if workspace is not None and workspace.file(exercise).is_file():
        console.print(dim(f"checking {workspace.file(exercise).name} to see what fails now…"))
        report = check_file(exercise, workspace.file(exercise), level="derive")
    step = next_derive_hint(progress, exercise, report)
    console.print(f"derive hint · {exercise.name}{where} · {step.why}", soft_wrap=True)
    about = step.about
    console.print(f"step {step.number} of {step.of} for {about}: {step.text}", soft_wrap=True)
    if step.last:
        console.print(dim(f"that is the last step for {about}; `kqv practice level {exercise.name} guided "
                          "--keep-file` gives the guided hints, `kqv practice solution "
                          f"{exercise.name} --give-up` the reference"), soft_wrap=True)


@practice_app.command("reset")
def reset(ctx: typer.Context, name: str = typer.Argument(..., help="The exercise."),
          folder: Path | None = DIR_OPTION) -> None:
    """Put the starter file back (of the exercise's level); your file is kept beside it as a backup."""
    from kqv_cli.practice.workspace import find_workspace

    exercise = _exercise(name)
    workspace = find_workspace(_folder(ctx, folder))
    level = _progress(workspace).level(exercise.name)
    backup = workspace.reset(exercise, level)
    which = "the derive level's starter" if level == "derive" else "the starter"
    console.print(f"{workspace.file(exercise)}: {which} again"
                  + (f"; your file is kept as {backup.name}" if backup else ""), soft_wrap=True)


@practice_app.command("level")
def level(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The exercise."),
    new_level: str | None = typer.Argument(None, metavar="[LEVEL]", help="guided or derive; none: "
                                           "say the exercise's level."),
    keep_file: bool = typer.Option(False, "--keep-file", help="Switch the hints and the check's words "
                                   "only; leave your file as it is."),
    folder: Path | None = DIR_OPTION,
) -> None:
    """Say or switch the level an exercise is done at: guided (the docstring gives the formulas)
    or derive (the forward and the shapes only; the hints go step by step).

    Switching writes that level's starter; your file is kept beside it as a backup unless it was
    a starter as written (--keep-file leaves it alone)."""
    from kqv_cli.practice.levels import checked_level
    from kqv_cli.practice.workspace import find_workspace

    exercise = _exercise(name)
    workspace = find_workspace(_folder(ctx, folder))
    progress = _progress(workspace)
    now = progress.level(exercise.name)
    if new_level is None:
        console.print(f"{exercise.name}: {now} level (it has {' and '.join(exercise.levels)})")
        return
    checked_level(exercise, new_level)
    if new_level == now:
        console.print(f"{exercise.name} is at the {now} level already; your file is as it was")
        return
    backup = None if keep_file else workspace.reset(exercise, new_level)  # before the record: a refused
    progress.set_level(exercise.name, new_level)                         # write leaves the level as it was
    if progress.save_error:
        warning(progress.save_error)
    if keep_file:
        console.print(f"{exercise.name}: {new_level} level; {workspace.file(exercise)} is as it was",
                      soft_wrap=True)
    else:
        console.print(f"{exercise.name}: {new_level} level; {workspace.file(exercise)} is its starter"
                      + (f"; your file is kept as {backup.name}" if backup else ""), soft_wrap=True)


@practice_app.command("solution")
def solution(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The exercise."),
    give_up: bool = typer.Option(False, "--give-up", help="Show it before you have passed."),
    folder: Path | None = DIR_OPTION,
) -> None:
    """The reference solution, once you have passed (or with --give-up).

    Piped, it prints the plain file: `kqv practice solution NAME --give-up > NAME.py` passes.
    """
    from lessons.practice import solution_file

    exercise = _exercise(name)
    progress = _progress(_workspace_if_any(_folder(ctx, folder)))
    if not progress.state(exercise.name).passed:
        if not give_up:
            raise KqvError(f"{exercise.name} is not passed yet; `kqv practice hint {exercise.name}` helps, "
                           f"or `kqv practice solution {exercise.name} --give-up` shows it anyway")
        progress.give_up(exercise.name)  # `kqv practice` lists it as given up from now on
    text = solution_file(exercise).read_text(encoding="utf-8")
    if is_interactive():
        console.print(Syntax(text, "python", line_numbers=False))
    else:
        typer.echo(text, nl=False)


def _exercise(name: str) -> Exercise:
    from lessons.practice import find_exercise

    return find_exercise(name)


def _next_exercise(progress: PracticeProgress) -> Exercise:
    from lessons.practice import load_exercises

    exercises = load_exercises()
    return next((e for e in exercises if not progress.state(e.name).passed), exercises[-1])


def _workspace_if_any(folder: Path | None) -> Workspace | None:
    """The workspace ``folder`` names (a wrong one is an error), else the one found here, if any."""
    from kqv_cli.practice.workspace import find_workspace

    try:
        return find_workspace(folder)
    except KqvError:
        if folder is not None:
            raise
        return None


def _progress(workspace: Workspace | None) -> PracticeProgress:
    """The progress kept in ``workspace`` (each workspace has its own)."""
    from kqv_cli.practice.practice_progress import PracticeProgress

    progress = PracticeProgress.for_workspace(workspace)
    if progress.warning:
        warning(progress.warning)
    return progress
