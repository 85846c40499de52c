"""One check for every number typed on the command line, whatever the command.

Typer turns ``--temperature nan`` into a float and ``--seed -5`` into an int without asking
whether they make sense. Rather than each command remembering each case, :func:`check_values`
looks at every number a command received, by the flag it came from, before the command runs:

* a float must be finite and not denormal (``1e-320`` is not zero, but dividing by it is inf);
* a seed is a whole number from 0 (numpy's generators refuse negative seeds);
* a count of repetitions (``--epochs``, ``--max-iters``, ...) has an upper bound that says how
  long the run would take, so ``--epochs 100000000000`` is refused in a line, not after a week;
* any other whole number fits in 32 bits: sizes that big are refused here, smaller ones that
  still do not fit in memory are refused by :mod:`engine.runtime.memory` with the estimate.

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
