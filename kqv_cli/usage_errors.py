"""A command line kqv cannot parse ends in one line on stderr and exit code 2.

Typer's own answer to ``kqv train gpt --lr abc`` is a usage line, a hint and a boxed panel
that wraps at the terminal's width: five lines to say one thing, and a script reading stderr
gets a box-drawing mess. :class:`OneLineUsage` runs the root command in click's non-standalone
mode, so every parsing error comes back to us as an exception, and :func:`usage_line` says it
the way ``friendly_errors`` says a bad value (``error: ...``), naming the command's ``--help``::

    error: --lr: 'abc' is not a number; see kqv train gpt --help

``--help`` itself is untouched (it is not an error), and so is everything a command raises
once it runs: that goes through :func:`kqv_cli.cli.friendly_errors` and the last-resort handler.
"""

from __future__ import annotations

import difflib
import re
import sys

import typer
from typer.core import TyperGroup

from kqv_cli.exit_codes import EXIT_INTERRUPTED, EXIT_USER_ERROR
from kqv_cli.messages import error, errors_as_json

# What is wrong with a value typer's parser (pydantic underneath) could not read, by error type.
WRONG = {
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "int_parsing_size": "has too many digits for a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "bool_parsing": "is not true or false",
}



def is_a(exc: BaseException, kind: str) -> bool:
    """Whether ``exc`` is click's exception ``kind`` (``"UsageError"``, ``"NoSuchOption"``...).

    Typer raises click's exceptions from a copy of click it keeps private (``typer._click``), so
    they are told apart by their class names, the names click documents, rather than imported
    from a private module; a typer that goes back to click itself raises the same names."""
    return any(cls.__name__ == kind for cls in type(exc).__mro__)


class OneLineUsage(TyperGroup):
    """The root group: click's parsing errors become one line and exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:  # a caller that handles click's exceptions itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        errors_as_json("--json" in argv)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:  # click's exceptions, as typer raises them
            if is_a(exc, "UsageError"):
                say(usage_line(exc, self, argv, prog_name or "kqv"))
                sys.exit(EXIT_USER_ERROR)
            if not is_a(exc, "ClickException"):
                raise
            say(one_line(exc.format_message()))  # e.g. a file typer could not open for a parameter
            sys.exit(exc.exit_code)
        except typer.Abort:  # an EOF in one of click's own prompts
            say("aborted")
            sys.exit(1)
        # Non-standalone, click returns the command's return value or an Exit's code; kqv's
        # commands return None (friendly_errors sees to it), so an int here is an exit code.
        sys.exit(code if isinstance(code, int) and not isinstance(code, bool) else 0)

    # typer turns a Ctrl-C that reaches it into a silent exit 130; one that lands while the
    # command line is parsed, or outside a command's own guard (kqv_cli.cli.friendly_errors),
    # is said here in the same line as everywhere else
    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise _interrupted() from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise _interrupted() from None


def _interrupted() -> typer.Exit:
    say("interrupted (Ctrl-C)")
    return typer.Exit(EXIT_INTERRUPTED)


def say(message: str) -> None:
    """``error: message`` on stderr, one line whatever the width, the message never read as markup
    (and ``{"error": message}`` on stdout after ``--json``)."""
    error(message)


def one_line(message: str) -> str:
    """Click's sentence as a clause of ours: one line, no final full stop, lower-case start."""
    text = " ".join(message.split()).rstrip(".")
    return text[:1].lower() + text[1:]


def usage_line(exc: Exception, root: TyperGroup, argv: list[str], prog: str) -> str:
    """One line for a usage error: what was wrong, and where the help for that command is."""
    ctx = exc.ctx
    path = ctx.command_path if ctx is not None else command_path(root, argv, prog)
    see = f"see {path} --help"
    if is_a(exc, "NoArgsIsHelpError"):  # a group with no command: its help is on stdout
        names = ctx.command.list_commands(ctx)
        return f"{path} needs a command: {', '.join(names)}; {see}"
    if is_a(exc, "MissingParameter") and exc.param is not None:
        return f"{path} needs {flag(exc.param)}; {see}"
    if isinstance(exc, typer.BadParameter) and exc.param is not None:
        return f"{flag(exc.param)}: {bad_value(exc)}; {see}"
    if is_a(exc, "NoSuchOption"):
        near = difflib.get_close_matches(exc.option_name.lstrip("-"),
                                         [p.lstrip("-") for p in exc.possibilities or ()], n=1, cutoff=0.7)
        guess = f" (did you mean --{near[0]}?)" if near else ""
        return f"{path} has no option {exc.option_name}{guess}; {see}"
    if is_a(exc, "BadOptionUsage") and exc.message.endswith("requires an argument."):
        return f"{exc.option_name} needs a value; {see}"
    unknown = re.match(r"No such command (['\"])(.*?)\1\.", exc.message)
    if ctx is not None and unknown and hasattr(ctx.command, "commands"):
        names = ctx.command.list_commands(ctx)
        near = difflib.get_close_matches(unknown[2], names, n=1, cutoff=0.6)
        guess = f" (did you mean {near[0]}?)" if near else f"; its commands: {', '.join(names)}"
        return f"{path} has no command {unknown[2]!r}{guess}; {see}"
    return f"{one_line(exc.format_message())}; {see}"


def flag(param) -> str:
    """How the user names a parameter: its longest option (``--count``, not ``-n``) or ``CHECKPOINT``."""
    if param.param_type_name == "option" and param.opts:
        return max(param.opts, key=len)
    return (param.name or "?").upper()


def bad_value(exc: typer.BadParameter) -> str:
    """``'abc' is not a number`` from the validation error typer raised, or typer's own sentence."""
    errors = getattr(exc.__cause__, "errors", None)
    first = errors()[0] if callable(errors) and errors() else None
    if first is None or "input" not in first:
        return one_line(exc.message)
    kind, bound, value = first.get("type", ""), first.get("ctx") or {}, shown(first["input"])
    if kind in ("greater_than_equal", "less_than_equal"):
        limit = bound.get("ge", bound.get("le"))
        return f"must be {'at least' if kind == 'greater_than_equal' else 'at most'} {limit}, got {value}"
    wrong = WRONG.get(kind)
    return f"{value} {wrong}" if wrong else f"{value}: {one_line(str(first.get('msg', exc.message)))}"


def shown(value, keep: int = 40) -> str:
    """``value`` quoted, its middle cut when long: 5000 typed digits are not echoed back whole."""
    text = repr(value)
    if len(text) <= keep:
        return text
    return f"{text[:keep - 10]}...{text[-8:]} ({len(str(value))} characters)"


def command_path(root, argv: list[str], prog: str) -> str:
    """``kqv train gpt`` for ``train gpt --lr``: the command names at the front of ``argv``.

    Click leaves some errors (an option missing its value) without the context that knows
    which command was parsing, so the path is read back from the words the user typed.
    """
    words, command = [prog], root
    for word in argv:
        sub = getattr(command, "commands", {}).get(word)
        if sub is None:
            break
        words.append(word)
        command = sub
    return " ".join(words)
