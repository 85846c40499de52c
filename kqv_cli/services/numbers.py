"""Numbers a person typed, checked once for the commands and the screens alike.

Typer turns ``--temperature nan`` into a float and ``--seed -5`` into an int without asking
whether they make sense. Rather than each command remembering each case, :func:`check_values`
looks at every number a command received, by the flag it came from, before the command runs:

* a float must be finite and not denormal (``1e-320`` is not zero, but dividing by it is inf);
* a seed is a whole number from 0 (numpy's generators refuse negative seeds);
* a count of repetitions (``--epochs``, ``--max-iters``, ...) has an upper bound that says how
  long the run would take, so ``--epochs 100000000000`` is refused in a line, not after a week;
* any other whole number fits in 32 bits: sizes that big are refused here, smaller ones that
  still do not fit in memory are refused by :mod:`engine.runtime.memory` with the estimate.

:func:`check_digits_training` holds what a digit-net run needs of its settings, for ``kqv train
digits`` (naming flags) and the Train screen (naming settings); the rules SGD itself needs are
the engine's (:func:`engine.digits.network.check_sgd_settings`), called from here, not copied.
A lesson's dimensions are checked by the lesson (``LessonSession.checked_dims``), for ``kqv
learn --dims`` and the dims dialog alike.

Each rule raises :class:`~engine.errors.KqvError` naming the flag as the user typed it.
"""

from __future__ import annotations

import inspect
import math
import sys

from engine.errors import KqvError

MAX_SEED = 2**63 - 1
MAX_WHOLE = 2**31 - 1
# Counts of repetitions, bounded by what a learner could wait for (each is far above any run
# the README suggests), so a typo of a few zeros is a clear line and not a frozen terminal.
MAX_COUNT = {
    "epochs": 10_000,
    "max_iters": 10_000_000,
    "warmup_iters": 10_000_000,
    "eval_interval": 10_000_000,
    "eval_iters": 100_000,
    "iters": 10_000_000,
    "tokens": 10_000_000,
    "count": 10_000,
}


def flag_name(func, name: str) -> str:
    """``--batch-size`` for the parameter ``batch_size``, as the command declares it."""
    decls = getattr(inspect.signature(func).parameters[name].default, "param_decls", None) or ()
    long = [d for d in decls if d.startswith("--")]
    return max(long, key=len).split("/")[0] if long else "--" + name.replace("_", "-")


def check_number(flag: str, name: str, value) -> None:
    """Refuse a value no command can use, naming ``flag``."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise KqvError(f"{flag} must be a finite number, got {value}")
        if value != 0 and abs(value) < sys.float_info.min:
            raise KqvError(f"{flag} {value!r} is too close to zero to compute with; use 0 or at least 1e-300")
    elif isinstance(value, int):
        if name == "seed":
            if not 0 <= value <= MAX_SEED:
                raise KqvError(f"{flag} must be a whole number from 0 to {MAX_SEED}, got {value}")
        elif name in MAX_COUNT and value > MAX_COUNT[name]:
            raise KqvError(f"{flag} {value:,} is more than kqv runs in one go (at most {MAX_COUNT[name]:,})")
        elif abs(value) > MAX_WHOLE:
            raise KqvError(f"{flag} {value:,} is too large (at most {MAX_WHOLE:,})")


def check_values(func, kwargs: dict) -> None:
    """Check every number ``func`` is about to be called with (see the module's rules)."""
    for name, value in kwargs.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_number(flag_name(func, name), name, value)



def check_positive(flag: str, value: int, of: str = "whole number") -> None:
    """Refuse a count that must be at least one (``of`` says what it counts), naming ``flag``."""
    if value <= 0:
        raise KqvError(f"{flag} must be a positive {of}, got {value}")

IMAGE_PIXELS = 784  # 28x28: what the first layer of a net that reads the digits must take
CLASSES = 10  # one output per digit
# kqv train digits' flags for SGD's settings, so a refusal names what the user typed
DIGITS_FLAGS = {"epochs": "--epochs", "mini_batch_size": "--batch-size", "eta": "--eta",
                "lmbda": "--lmbda", "schedule": "--schedule", "sizes": "--sizes",
                "limit": "--limit", "threads": "--threads"}
# the Train screen's words for the same settings (SGD's own, engine.digits.network.SGD_NAMES)
DIGITS_SETTINGS = {"epochs": "epochs", "mini_batch_size": "mini-batch size", "eta": "eta",
                   "lmbda": "lmbda", "schedule": "schedule", "sizes": "sizes", "limit": "limit",
                   "threads": "threads"}


def check_fits_digits(sizes: list[int], names: dict[str, str] = DIGITS_FLAGS) -> None:
    """Refuse layer sizes that cannot read the digits: 784 pixels in, 10 digits out."""
    if sizes[0] != IMAGE_PIXELS or sizes[-1] != CLASSES:
        raise KqvError(
            f"{names['sizes']} {','.join(map(str, sizes))} does not fit the digits: the first layer must be "
            f"{IMAGE_PIXELS} (28x28 pixels) and the last {CLASSES} (one per digit), e.g. 784,30,10"
        )


def check_digits_training(sizes, epochs, batch_size, eta, lmbda=0.0, schedule="constant", limit=None,
                          threads=1, names: dict[str, str] = DIGITS_FLAGS) -> None:
    """Refuse, naming each setting by ``names`` (the flags by default), a digit-net run that
    cannot train: sizes that do not read the digits, SGD's own rules, and an empty ``limit`` or
    no BLAS thread."""
    # imported here: kqv_cli.cli checks every command's numbers, and --help needs no numpy
    from engine.digits.network import check_sgd_settings

    check_fits_digits(sizes, names)
    check_sgd_settings(epochs, batch_size, eta, lmbda, schedule, names)
    if limit is not None and limit <= 0:
        raise KqvError(f"{names['limit']} must be a positive number of images")
    if threads <= 0:
        raise KqvError(f"{names['threads']} must be at least 1")
