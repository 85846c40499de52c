"""The CLI's last line of defence: whatever escapes a command ends in one line, never a traceback.

User errors are turned into one line and exit code 2 by :func:`kqv_cli.cli.friendly_errors`
close to where they happen, and a command line typer cannot parse by :mod:`kqv_cli.usage_errors`.
What reaches this handler is either the terminal refusing our output (``kqv sample > /dev/full``)
or a bug in kqv. A bug gets one line on stderr, the traceback goes to a log file in the cache
folder (named in that line, so it can be attached to a report), and the exit code is 70
(EX_SOFTWARE from sysexits.h): not 2, so scripts can tell
"kqv refused my input" from "kqv broke".

Only :func:`main` (the installed ``kqv`` command, and ``python -m kqv_cli``) goes through here;
tests that call the typer app directly still see the real exception.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

# Nothing more of kqv is imported here before the guard is up: the app behind it may fail to
# import (a file of the current folder named engine.py hides the engine), and that too is one line.
from kqv_cli.exit_codes import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED, EXIT_USER_ERROR

# The disk or the user's quota is full: never a bug of kqv's, whichever file it was writing.
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_KQV_DIR = Path(__file__).resolve().parent.parent  # the folder holding engine/, lessons/, kqv_cli/
_KQV_PACKAGES = ("engine", "lessons", "kqv_cli")


def main() -> None:
    """The installed ``kqv`` command: the app, imported and run behind :func:`run_guarded`.

    Importing the app and its commands (numpy, typer, rich) takes about half a second; a Ctrl-C
    pressed then is one line too, not a traceback from the middle of an import. So this module
    imports nothing heavy, and the entry point is here rather than in :mod:`kqv_cli.main`.
    """

    def kqv() -> None:
        if sys.argv[1:] == ["--version"]:  # the whole answer is one constant: no numpy, typer or rich
            from kqv_cli import __version__

            print(f"kqv {__version__}")  # as kqv_cli.main's --version callback prints it
            return
        from kqv_cli.main import app

        app(prog_name="kqv")

    try:
        run_guarded(kqv)
    finally:
        # The command is over and its exit code decided. A Ctrl-C now would land in Python's own
        # shutdown (flushing, finalising threads), where it kills the process by the signal with
        # nothing said; from here on it is ignored, and the code decided stands.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_guarded(main: Callable[[], object]) -> None:
    """Run ``main`` (the typer app) and turn anything it lets escape into one line and an exit code."""
    # A diverging run is caught by its loss (NaN), and say so in one line; numpy's overflow
    # warnings, printed from whichever thread met them first, would only bury that line.
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    _reopen_closed_streams()
    if sys.stdout is None:  # `kqv sample gpt.npz >&-`: the output would go nowhere
        _exit(EXIT_USER_ERROR, "standard output is closed, so kqv has nowhere to print; run it "
              "without >&- (or send the output to /dev/null)")
    # A terminal whose encoding lacks '–' or '✓' (PYTHONIOENCODING=ascii, an old locale) shows
    # '?' for them: a readable page, rather than a UnicodeEncodeError halfway through it.
    if callable(getattr(sys.stdout, "reconfigure", None)):
        sys.stdout.reconfigure(errors="replace")
    # Rich takes the width from $COLUMNS, and at COLUMNS=0 prints nothing at all, error lines
    # included; a size no terminal has is dropped, and rich asks the terminal instead.
    for name in ("COLUMNS", "LINES"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) == 0:
            del os.environ[name]
    try:
        main()
    except KeyboardInterrupt:
        _exit(EXIT_INTERRUPTED, "interrupted (Ctrl-C)")
    except ImportError as exc:
        hidden = _hidden_package(exc)
        if hidden is None:
            _internal_error(exc)
        package, hiding = hidden
        _exit(EXIT_USER_ERROR, f"cannot start: {hiding} hides kqv's own {package!r} package (python -m "
                               "looks in the current folder first); run kqv from another folder")
    except OSError as exc:
        if _stdout_broken():
            _exit(EXIT_USER_ERROR, f"cannot write the output: {exc.strerror or exc}")
        if exc.errno in _FULL:
            _exit(EXIT_USER_ERROR, f"cannot write: {exc.strerror}; free some space and run it again")
        _internal_error(exc)
    except Exception as exc:
        _internal_error(exc)


def _hidden_package(exc: ImportError) -> tuple[str, str] | None:
    """The package of kqv's that failed to import in ``exc`` and the file that stood in for it, if
    one did: ``./engine.py`` is imported as ``engine`` when kqv runs with the current folder first."""
    package = (exc.name or "").partition(".")[0]
    found = getattr(sys.modules.get(package), "__file__", None) if package in _KQV_PACKAGES else None
    if found is None or Path(found).resolve().is_relative_to(_KQV_DIR / package):
        return None
    return package, found


def _reopen_closed_streams() -> None:
    """Put /dev/null on each standard stream the shell closed (``<&-``, ``2>&-``, ``>&-``).

    Python then has ``sys.stdin`` (or stdout, stderr) None, and the first ``isatty()`` or
    ``write`` on it is an AttributeError. Worse, the next file kqv opens would get the free
    descriptor 0, 1 or 2, and a print could land in a checkpoint. So the hole is filled at the
    descriptor level first; a closed stdin then reads as an empty input (the quiz ends at once,
    ``kqv`` alone prints its help), a closed stderr swallows messages, and a closed stdout is
    left None for :func:`run_guarded` to refuse in one line.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        try:
            devnull = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: fd itself
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        except OSError:
            continue
        if name == "stdin" and sys.stdin is None:
            sys.stdin = open(fd, encoding="utf-8", closefd=False)  # noqa: SIM115
        elif name == "stderr" and sys.stderr is None:
            sys.stderr = open(fd, "w", encoding="utf-8", closefd=False)  # noqa: SIM115


def _stdout_broken() -> bool:
    """True when standard output refuses writes (``> /dev/full``, a closed pipe, a full disk)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (replaced by a caller)
        return False
    try:
        os.write(fd, b"")  # writes nothing, but a device that is full says so
        sys.stdout.flush()
    except (OSError, ValueError):
        # leave the interpreter nothing to flush at exit, or it prints a second complaint
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        return True
    return False


def _internal_error(exc: BaseException) -> None:
    log = write_log(exc)
    where = f"the traceback is in {log}" if log else "the traceback could not be saved"
    _exit(EXIT_INTERNAL_ERROR,
          f"internal error: {type(exc).__name__}: {exc}; please report it, with the command you ran "
          f"({where})", label="kqv")


def write_log(exc: BaseException) -> Path | None:
    """Write the command line and the traceback to a new file in the cache folder; its path, or None."""
    from engine.files.paths import cache_dir  # after the guard (see the imports above)

    folder = cache_dir() / "errors"
    path = folder / f"internal-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    text = (f"command: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path


def _exit(code: int, message: str, label: str = "error") -> None:
    message = " ".join(message.split())  # an exception's text may span lines; ours is one
    try:
        print(f"{label}: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass  # stderr is gone too: the exit code is all that is left to say it
    if "--json" in sys.argv[1:]:  # a script reading stdout gets JSON, whatever went wrong
        try:
            print(json.dumps({"error": message}), flush=True)
        except (OSError, ValueError, AttributeError):
            pass
    sys.exit(code)
