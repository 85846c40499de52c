"""What ``kqv practice run NAME`` trains, and with which of the learner's functions.

NAME is a model or one exercise:

* ``digits``: the digit net with every digit exercise the learner has passed; ``backprop`` and
  ``update_mini_batch`` must be among them (they are the training), ``sigmoid`` and
  ``feedforward`` are used when passed, else the engine's;
* ``gpt``: the character GPT with every GPT exercise passed (at least one);
* an exercise (``layernorm``, ``backprop``...): its model with that one function of the
  learner's and everything else the engine's, to see that one part on its own.

A function counts as passed when its last check passed: one passed once and failing since
would put code into the engine that the check no longer vouches for.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import KqvError
from lessons.curriculum import listed

if TYPE_CHECKING:  # kept out of kqv's start-up: `kqv practice run --help` needs only the names
    from kqv_cli.practice.practice_progress import PracticeProgress

# the exercises whose functions each model can run (kqv_cli.practice.digits_seam, gpt_seam)
DIGIT_EXERCISES = ("sigmoid", "feedforward", "backprop", "update_mini_batch")
GPT_EXERCISES = ("embedding", "layernorm", "heads", "softmax", "attention", "attention_backward", "adamw")
MODELS = {"digits": DIGIT_EXERCISES, "gpt": GPT_EXERCISES}
REQUIRED = {"digits": ("backprop", "update_mini_batch"), "gpt": ()}
MODEL_WORDS = {"digits": "the digit net", "gpt": "the character GPT"}
RUN_NAMES = (*MODELS, *DIGIT_EXERCISES, *GPT_EXERCISES)
GPT_ITERS = 200  # `kqv practice run gpt`'s default: a few hundred iterations, under a minute
YOURS, ENGINE = "yours", "engine"  # the two runs, as results and callbacks name them


@dataclass(frozen=True)
class RunPlan:
    model: str  # "digits" | "gpt"
    yours: tuple[str, ...]  # the exercises whose functions run, in lesson order
    engines: tuple[str, ...]  # the model's other exercises: the engine's functions there


def model_of(exercise: str) -> str | None:
    return next((model for model, names in MODELS.items() if exercise in names), None)


def still_passing(progress: PracticeProgress, exercise: str) -> bool:
    state = progress.state(exercise)
    return state.passed and state.last.startswith("passed")


def plan_run(name: str, progress: PracticeProgress) -> RunPlan:
    """The plan for ``name``, or a :class:`KqvError` saying what to check first (or which name
    was meant)."""
    if name in MODELS:
        model, wanted = name, MODELS[name]
        for needed in REQUIRED[model]:
            _must_pass(progress, needed, f"{MODEL_WORDS[model]} trains with it")
        yours = tuple(e for e in wanted if still_passing(progress, e))
        if not yours:
            raise KqvError(f"none of {MODEL_WORDS[model]}'s exercises has passed yet ({listed(wanted)}); "
                           f"pass one first: `kqv practice check {wanted[0]}`")
    elif (model := model_of(name)) is not None:
        _must_pass(progress, name, "its function is what would run")
        yours = (name,)
    else:
        raise KqvError(unknown_name(name))
    return RunPlan(model, yours, tuple(e for e in MODELS[model] if e not in yours))


def _must_pass(progress: PracticeProgress, exercise: str, why: str) -> None:
    state = progress.state(exercise)
    if state.passed and not still_passing(progress, exercise):
        raise KqvError(f"{exercise} passed before but its last check did not ({state.last}); "
                       f"`kqv practice check {exercise}` until it passes again ({why})")
    if not state.passed:
        raise KqvError(f"{exercise} has not passed yet; `kqv practice check {exercise}` until it passes "
                       f"({why})")


def unknown_name(name: str) -> str:
    """The error for a name ``run`` does not take, with the close one if there is one."""
    from lessons.curriculum import EXERCISES

    close = difflib.get_close_matches(name, RUN_NAMES, n=1)
    guess = f"; did you mean {close[0]}?" if close else ";"
    if name in EXERCISES:
        return (f"{name} does not run inside a model yet; `kqv practice run` takes digits "
                f"({listed(DIGIT_EXERCISES, 'and')}), gpt ({listed(GPT_EXERCISES, 'and')}) or one of those")
    return (f"no model or exercise called {name!r}{guess} `kqv practice run` takes digits, gpt, or one "
            f"of their exercises: {', '.join(DIGIT_EXERCISES + GPT_EXERCISES)}")
