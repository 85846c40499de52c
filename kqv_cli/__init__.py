"""kqv's user-facing side: the typer CLI, the Textual app, the quiz and the progress store.

Data flows one way, engine -> trace -> screen: nothing here computes a gradient.
"""

import os
import sys

__version__ = "0.1.0"


def _interrupted_while_starting(kind, value, traceback) -> None:
    """A Ctrl-C that no handler caught: one line and exit 130, not a traceback.

    The installed ``kqv`` imports :mod:`kqv_cli.last_resort` first, and its guard
    (``run_guarded``) is up only once that import is done; a Ctrl-C in the imports before it
    reaches the interpreter's top level, which would print a traceback and kill itself by the
    signal. This package's first lines run before any of that, so the hook is in place for it.
    (Python's own start-up, before any of kqv is imported, is beyond reach.)
    """
    if issubclass(kind, KeyboardInterrupt):
        try:
            print("error: interrupted (Ctrl-C)", file=sys.stderr, flush=True)
        except (OSError, ValueError, AttributeError):
            pass
        os._exit(130)  # kqv_cli.exit_codes.EXIT_INTERRUPTED, not imported yet at this point
    sys.__excepthook__(kind, value, traceback)


sys.excepthook = _interrupted_while_starting
