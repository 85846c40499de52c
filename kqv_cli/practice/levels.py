"""The two levels of an exercise, and which derive hint comes next.

At the **guided** level the starter's docstring gives every formula and the three hints go
shape -> formula -> near-code whatever the learner is stuck on. At the **derive** level the
docstring states the forward computation and the shapes only: the backward is the learner's to
work out, as in Karpathy's "backprop ninja". Its hints are steps on a rung per graded variable
(:class:`lessons.practice.Rung`), and the rung climbed is the one of the variable that is
failing *now*: with dw right and dx wrong, the next hint is about dx (the mean terms), and
nothing is spent on what already matches the engine.

    level = checked_level(exercise, "derive")      # a KqvError when it has no such level
    hint = next_derive_hint(progress, exercise, report)
    hint.text, hint.number, hint.of, hint.variable
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import KqvError
from lessons.practice import LEVELS, Exercise, Rung, load_exercises

if TYPE_CHECKING:
    from kqv_cli.practice.grader import Report
    from kqv_cli.practice.practice_progress import PracticeProgress


def checked_level(exercise: Exercise | None, level: str) -> str:
    """``level`` if ``exercise`` (or, with None, any exercise) can be done at it; else a KqvError
    that says which levels there are and which exercises have a derive level."""
    if level not in LEVELS:
        raise KqvError(f"no level {level!r}; the levels are {' and '.join(LEVELS)} "
                       "(derive: the docstring gives the forward only, you work out the backward)")
    if exercise is not None and level not in exercise.levels:
        raise KqvError(f"{exercise.name} has no {level} level (its docstring has no backward formula to "
                       f"take away); the exercises with one are: {', '.join(derive_exercises())}")
    return level


def derive_exercises() -> list[str]:
    return [e.name for e in load_exercises() if e.derive is not None]


@dataclass
class DeriveHint:
    variable: str | None  # the failing variable it is about (None: nothing graded fails now)
    rung: Rung
    index: int  # which step of the rung, from 0
    why: str  # what the choice of rung rests on, in a few words

    @property
    def about(self) -> str:
        """What the step is for: the failing variable, else the rung's variables."""
        return self.variable if self.variable is not None else ", ".join(self.rung.names)

    @property
    def text(self) -> str:
        return self.rung.steps[self.index]

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def of(self) -> int:
        return len(self.rung.steps)

    @property
    def last(self) -> bool:
        return self.index == len(self.rung.steps) - 1


def failing_variable(report: Report | None) -> str | None:
    """The graded variable the report fails at first; None when it passed, is not written yet,
    or stopped before anything was graded (a crash, a syntax error)."""
    if report is None or report.status != "failing":
        return None
    row = report.first_wrong
    return row.name if row is not None else None


def choose_rung(exercise: Exercise, failing: str | None, shown: dict[str, int],
                dims: dict[str, int] | None = None) -> Rung:
    """The rung of the failing variable (on the input set of ``dims``); with none failing (not
    written yet, a crash), the first rung that has steps not shown yet, in grading order: where
    a learner starts."""
    derive = exercise.derive
    assert derive is not None, f"{exercise.name} has no derive level"
    rung = derive.rung(failing, dims)
    if rung is not None:
        return rung
    return next((r for r in derive.rungs if shown.get(r.names[0], 0) < len(r.steps)), derive.rungs[-1])


def next_derive_hint(progress: PracticeProgress, exercise: Exercise, report: Report | None) -> DeriveHint:
    """The next step for what fails in ``report`` (the check just run), recorded as shown."""
    failing = failing_variable(report)
    dims = report.dims if report is not None else None
    rung = choose_rung(exercise, failing, progress.state(exercise.name).derive_hints, dims)
    index = progress.next_derive_step(exercise.name, rung.names[0], len(rung.steps))
    if failing is not None and exercise.derive.rung(failing, dims) is rung:
        why = report.summary().replace("failing at", "failing now at", 1)
    elif report is not None and report.passed:
        why = "it passes; the steps, should you want to check your derivation"
    elif report is not None and report.status == "not_written":
        why = "not written yet: where to start"
    elif report is not None and report.status == "error":
        why = "your code stops before anything is graded (`kqv practice check` says where); meanwhile, " \
              "the first step not read yet"
    else:
        why = "nothing graded yet: where to start"
    return DeriveHint(failing if rung is exercise.derive.rung(failing, dims) else None, rung, index, why)
