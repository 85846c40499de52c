"""Entry point: ``kqv`` and ``python -m kqv_cli``.

Importing the command modules registers their commands on the groups in :mod:`kqv_cli.cli`.
Heavy imports (Textual) stay inside the commands that need them, so ``kqv train ...`` and a
piped ``kqv quiz`` start fast.
"""

from __future__ import annotations

import typer

from kqv_cli import __version__
from kqv_cli.cli import app, is_interactive
from kqv_cli.commands import (
    data,  # noqa: F401  (kqv data mnist/shakespeare)
    digits,  # noqa: F401  (registers its commands)
    gpt,  # noqa: F401  (train gpt, sample, trace gpt)
    hf,  # noqa: F401  (kqv export)
    lab,  # noqa: F401  (kqv lab, kqv lab run)
    lessons,  # noqa: F401  (kqv lessons check/list)
    practice,  # noqa: F401  (kqv practice ...)
    practice_run,  # noqa: F401  (kqv practice run)
    quiz,  # noqa: F401  (kqv quiz)
    translate,  # noqa: F401  (train translate, translate, trace translate)
)
from kqv_cli.commands.learn import open_lessons  # also registers `kqv learn`


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kqv {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Run with no command to open the lessons."""
    if ctx.invoked_subcommand is None:
        if not is_interactive():
            page = ctx.get_help()  # the rich page prints itself and returns ""
            if page:
                typer.echo(page)
            return
        open_lessons(None)
