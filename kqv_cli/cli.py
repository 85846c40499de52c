"""The typer application and its command groups.

Every command module imports the group it belongs to from here and adds itself with the
usual decorator (``@train_app.command("digits")``). Commands made through :class:`KqvTyper`
turn a :class:`~engine.errors.KqvError` or a Ctrl-C into one line on stderr and exit code 2,
so no user ever sees a traceback for their own input.
"""

from __future__ import annotations

import functools
import sys

import typer

from engine.errors import KqvError
from engine.files.paths import default_cache_dir
from kqv_cli.exit_codes import EXIT_INTERRUPTED, EXIT_USER_ERROR
from kqv_cli.help_pages import HelpPage, KqvCommand, KqvGroup
from kqv_cli.messages import err_console, error
from kqv_cli.services.numbers import check_values
from kqv_cli.usage_errors import OneLineUsage

__all__ = ["err_console", "fail", "friendly_errors", "interrupted", "is_interactive"]


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr (as text: brackets in it are never markup) and return
    the Exit(2) to raise."""
    error(message)
    return typer.Exit(EXIT_USER_ERROR)


def interrupted(message: str) -> typer.Exit:
    """Print ``error: message`` (what Ctrl-C stopped, what was kept) and return the Exit(130) to
    raise: a Ctrl-C ends kqv with 130, as a shell reports it, wherever it lands."""
    error(message)
    return typer.Exit(EXIT_INTERRUPTED)


def friendly_errors(func):
    """Wrap a command so bad values and user errors end in one clear line and exit code 2, and a
    Ctrl-C in one line and exit code 130.

    Every number the command receives is checked first (:mod:`kqv_cli.services.numbers`), so no command
    starts work on a NaN or a negative seed.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            check_values(func, kwargs)
            func(*args, **kwargs)
            # nothing returned: the root group runs in click's non-standalone mode, where a
            # returned int would read as the exit code (kqv_cli.usage_errors)
            return None
        except KqvError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            # every file kqv writes is replaced in one rename, so whatever was saved is whole
            raise interrupted("interrupted (Ctrl-C); files kqv had finished writing are kept whole, "
                              "a file being written at that moment was left as it was") from None

    return wrapper


class KqvTyper(typer.Typer):
    """A Typer whose commands, and group callbacks (``kqv practice --dir WS`` alone runs one),
    all go through :func:`friendly_errors`, and whose help pages are drawn by
    :mod:`kqv_cli.help_pages` (no ``<bool>`` beside a flag, docstrings wrapped once)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("cls", KqvGroup)
        kwargs.setdefault("rich_markup_mode", "rich")
        super().__init__(*args, **kwargs)

    def command(self, *args, **kwargs):
        kwargs.setdefault("cls", KqvCommand)
        register = super().command(*args, **kwargs)

        def decorator(func):
            register(friendly_errors(func))
            return func

        return decorator

    def callback(self, *args, **kwargs):
        register = super().callback(*args, **kwargs)

        def decorator(func):
            register(friendly_errors(func))
            return func

        return decorator


class LearnerOrder(HelpPage, OneLineUsage):
    """``kqv --help`` lists the commands in the order a learner meets them, the lessons first."""

    ORDER = ("learn", "quiz", "practice", "train", "sample", "eval", "trace", "lab", "data", "export",
             "lessons")

    def list_commands(self, ctx) -> list[str]:
        known = {name: i for i, name in enumerate(self.ORDER)}
        return sorted(super().list_commands(ctx), key=lambda name: known.get(name, len(known)))


def _new_group(help_text: str) -> KqvTyper:
    return KqvTyper(help=help_text, no_args_is_help=True, rich_markup_mode="rich")


EXAMPLES = """Examples:
  kqv                                  open the lessons (the terminal app)
  kqv learn attention                  one lesson, every shape shown
  kqv quiz --topic backprop -n 5       five shape questions on backprop
  kqv practice                         write the engine's functions, graded
  kqv train digits --synthetic         the digit net, no download needed
  kqv train gpt && kqv sample gpt.npz  train the character GPT, sample it
  kqv lab run learning-rate            one model at three learning rates
  kqv lessons show backprop | less     a lesson as plain text

Every command has --help: kqv train gpt --help."""

app = KqvTyper(
    cls=LearnerOrder,
    help="kqv: learn how neural networks and transformers work by watching a numpy engine run.",
    epilog=EXAMPLES,
    context_settings={"help_option_names": ["-h", "--help"]},
)
train_app = _new_group("Train a model in pure numpy (digit net on MNIST, character GPT).")
eval_app = _new_group("Evaluate a trained checkpoint.")
trace_app = _new_group("Print every variable of one training step, with its shape.")
data_app = _new_group(
    "Download and check the data sets kqv trains on. Where kqv looks for them, in order: MNIST "
    "in --data DIR, then in $KQV_DATA_DIR (or its mnist sub-folder); Tiny Shakespeare in --text "
    "FILE, then in $KQV_DATA_DIR/tinyshakespeare/input.txt; then both in the cache folder, "
    f"{default_cache_dir()} ($KQV_CACHE_DIR moves it), where these commands download them. "
    "GPT-2 goes to the Hugging Face cache ($HF_HUB_CACHE).")

app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(trace_app, name="trace")
app.add_typer(data_app, name="data")


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
