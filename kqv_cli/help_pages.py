"""How ``--help`` reads: every command and group of kqv is made from the classes here.

Typer draws help with rich, and three things in its defaults read badly:

* a flag (``--json``, ``--force``) showed ``<bool>`` in the type column, as if it took a value;
  a flag takes none, so its type column is left empty;
* docstrings are written wrapped at ~100 columns, and in rich markup mode typer keeps those line
  breaks and then wraps again at the terminal's width, leaving ragged half-lines; a docstring
  paragraph is therefore joined into one line (paragraphs stay apart, a paragraph that starts
  with click's ``\\b`` or is indented stays as written) and wrapped once, by rich;
* piped (``kqv --help | less``, ``| grep``), rich pads every line of its panels to the full
  width with spaces; there the page is written without trailing spaces.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import sys

from typer.core import TyperCommand, TyperGroup

from kqv_cli.generated_text import on_terminal


def unwrapped(text: str | None) -> str | None:
    """A docstring with each paragraph on one line: the line breaks of the source are not the
    reader's. Kept as written: a paragraph that starts with ``\\b`` (click's "do not rewrap")
    and one whose lines are indented (an example, a list of commands)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") or p.startswith(" ") or "\n " in p
                       else " ".join(line.strip() for line in p.splitlines())
                       for p in paragraphs)


class HelpPage:
    """Mixed in before typer's command and group classes (see the module's docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = unwrapped(self.help)

    def format_help(self, ctx, formatter) -> None:
        for param in self.get_params(ctx):  # the help option too
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # typer shows a metavar in the type column instead of <bool>
        if on_terminal(sys.stdout):
            super().format_help(ctx, formatter)
            return
        with contextlib.redirect_stdout(io.StringIO()) as page:  # rich prints it to sys.stdout
            super().format_help(ctx, formatter)
        lines = [line.rstrip() for line in page.getvalue().splitlines()]
        sys.stdout.write("\n".join(lines).rstrip("\n") + "\n")


class KqvCommand(HelpPage, TyperCommand):
    pass


class KqvGroup(HelpPage, TyperGroup):
    pass
