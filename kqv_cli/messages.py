"""How kqv prints a line: as :class:`~rich.text.Text` built from plain strings, never as markup.

Rich reads ``[...]`` in a printed string as a style tag. A path, a model folder, a prompt, a
topic or an exercise name may hold brackets (``model[final].npz``, ``q[/]x.npz``), and printed
inside an f-string it would lose a word (kqv would name the wrong file) or stop the command
with a MarkupError. Escaping each value by hand at each print is a promise someone forgets;
so here it is kept by construction:

* every console kqv prints through comes from :func:`make_console`, with markup turned
  **off**: a string is printed exactly as it is, brackets and all, whoever wrote it; the
  commands share two, :data:`console` (stdout) and :data:`err_console` (stderr);
* a styled line is assembled from parts with :func:`styled`, where a plain string is always
  text and a ``(text, style)`` pair is the only way to colour something;
* ``error:``, ``warning:`` and ``note:`` lines go through :func:`error`, :func:`warning` and
  :func:`note`;
* piped or redirected (``kqv quiz | cat``, ``> out.txt``), a line of text is written whole: no
  breaks at 80 columns (the pager or the editor wraps for its own width) and no spaces padding a
  line out (a table or a rule is still laid out at a width: its lines lose their trailing spaces).

A style tag left in an f-string by mistake then shows up as ``[dim]`` on the screen, where a
test sees it, rather than eating part of a file name.
"""

from __future__ import annotations

import json
import re

from rich.console import Console
from rich.text import Text

Part = str | Text | tuple[str, str]


_TRAILING_SPACES = re.compile(r" +(?=\n)")


class KqvConsole(Console):
    """A rich console that, when it does not write to a terminal, leaves lines unwrapped and
    without trailing spaces. Whether it writes to a terminal is asked at each print, as rich asks
    it, so a console made at import time follows sys.stdout wherever it is later pointed."""

    def print(self, *objects, soft_wrap: bool | None = None, **options) -> None:
        if soft_wrap is None and not self.is_terminal and all(isinstance(o, (str, Text)) for o in objects):
            soft_wrap = True  # a line of text stays one line, however long (a table keeps its layout)
        super().print(*objects, soft_wrap=soft_wrap, **options)

    def _render_buffer(self, buffer) -> str:
        text = super()._render_buffer(buffer)
        # before a newline only: a prompt's own trailing space ("answer › ") is kept
        return text if self.is_terminal else _TRAILING_SPACES.sub("", text)


def make_console(stderr: bool = False, **options) -> Console:
    """A console that prints strings as they are (no markup, no highlighting of numbers or paths)."""
    return KqvConsole(stderr=stderr, highlight=False, markup=False, **options)


console = make_console()  # what the commands print: results, tables, progress lines
err_console = make_console(stderr=True)


def styled(*parts: Part) -> Text:
    """One line from parts: ``"text"`` as it is, ``("text", "bold red")`` in that style."""
    return Text.assemble(*parts)


def dim(text: str) -> Text:
    return Text(text, style="dim")


_errors_as_json = False
_json_printed = False  # a command's --json result is on stdout already


def errors_as_json(on: bool) -> None:
    """With ``--json`` on the command line, :func:`error` also prints ``{"error": message}`` on
    stdout: a script that reads stdout gets JSON whether the command worked or not."""
    global _errors_as_json, _json_printed
    _errors_as_json, _json_printed = on, False


def print_json(doc: dict) -> None:
    """A command's ``--json`` result: one line of JSON on stdout. An error after it (a Ctrl-C
    once the summary of what was done is out) is then said on stderr only: stdout holds one
    JSON object, whatever happens."""
    global _json_printed
    print(json.dumps(doc), flush=True)
    _json_printed = True


def error(message: str) -> None:
    """``error: message`` on stderr (the message exactly as given), and as JSON on stdout when
    the command line asked for ``--json`` and no result was printed there yet."""
    err_console.print(styled(("error:", "bold red"), " ", message), soft_wrap=True)
    if _errors_as_json and not _json_printed:
        json_error(message)


def json_error(message: str) -> None:
    try:
        print(json.dumps({"error": message}), flush=True)
    except (OSError, ValueError, AttributeError):
        pass  # stdout is gone: the line on stderr and the exit code say it


def warning(message: str) -> None:
    err_console.print(styled(("warning:", "yellow"), " ", message), soft_wrap=True)


def note(message: str) -> None:
    err_console.print(styled(("note:", "yellow"), " ", message), soft_wrap=True)


def threads_used(counts: dict[int, int]) -> str:
    """``{1: 88, 2: 12}`` -> "88 iterations ran on 1 thread, 12 on 2 threads": how many of a
    run's iterations each BLAS thread count ran (the trainer times both and keeps the faster)."""
    parts = [f"{n} on {k} thread{'s' if k > 1 else ''}" for k, n in counts.items()]
    if parts:
        parts[0] = parts[0].replace(" on ", f" iteration{'s' if next(iter(counts.values())) != 1 else ''} "
                                    "ran on ", 1)
    return ", ".join(parts)
