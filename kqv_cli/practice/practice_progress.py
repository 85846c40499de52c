"""The learner's practice progress: per exercise, passed or not, tries, hints used, the last check,
and the level it is done at (guided, or derive: the backward worked out from the forward).

Kept per workspace, in ``.kqv-progress.json`` beside the exercise files (a fresh workspace
starts with nothing passed; the progress goes where the files go), through
:class:`kqv_cli.store.JsonStore` (atomic writes; a file that is not ``{"exercises": {...}}`` is
moved aside with a warning). With no workspace (a hint asked for outside one), ``practice.json``
in the user data folder. Keyed by exercise name, so an exercise added later simply starts as
not started.

Every change is one transaction, like a quiz answer: under the file's lock the file is read
as it is now, the change (one more try, the next hint) is applied to that, and it is written
(:meth:`JsonStore.update`). A ``kqv practice check --watch`` in one terminal and the Practice
screen in another each count their own tries and hints; neither writes the other's away.

    progress = PracticeProgress.for_workspace(workspace)
    progress.record_check("feedforward", passed=False, summary="failing at z2: wrong shape")
    progress.next_hint("feedforward")    # -> 0, 1, 2, then stays at 2
    progress.status("feedforward")       # "failing at z2: wrong shape"
    progress.set_level("layernorm", "derive")
    progress.next_derive_step("layernorm", "dx", steps=3)   # -> 0, 1, 2, then stays at 2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kqv_cli.store import JsonStore
from lessons.practice import LEVELS

if TYPE_CHECKING:
    from kqv_cli.practice.workspace import Workspace

FILE_NAME = "practice.json"  # in the user data folder, when there is no workspace
WORKSPACE_FILE = ".kqv-progress.json"  # in a workspace
SCHEMA = 1
HINTS = 3


@dataclass
class ExerciseState:
    passed: bool = False
    tries: int = 0  # checks run
    hints: int = 0  # hints shown, 0..3
    last: str = ""  # the last check's one-line summary
    gave_up: bool = False  # the solution was shown (--give-up) before a pass
    level: str = "guided"  # guided | derive (lessons.practice.LEVELS)
    derive_hints: dict[str, int] = field(default_factory=dict)  # derive steps shown, by rung (its first name)
    derived: bool = False  # passed while at the derive level

    @property
    def hints_used(self) -> int:
        """Every hint shown, at either level."""
        return self.hints + sum(self.derive_hints.values())

    @classmethod
    def from_dict(cls, d) -> ExerciseState:
        """Tolerant of hand edits: a field of the wrong type keeps its default."""
        if not isinstance(d, dict):
            return cls()
        state = cls()
        for name, default in asdict(state).items():
            value = d.get(name, default)
            if type(value) is type(default):
                setattr(state, name, value)
        state.hints = min(max(state.hints, 0), HINTS)
        if state.level not in LEVELS:
            state.level = "guided"
        state.derive_hints = {k: v for k, v in state.derive_hints.items()
                              if isinstance(k, str) and type(v) is int and v > 0}
        return state


def validate(data) -> None:
    """Raise ValueError unless ``data`` is ``{"exercises": {name: state}}``; inner fields may be off
    (a hand edit), :meth:`ExerciseState.from_dict` keeps the default for those."""
    if not isinstance(data, dict) or not isinstance(data.get("exercises", {}), dict):
        raise ValueError("expected an object {exercises: {name: state}}")


def parse(data) -> dict[str, ExerciseState]:
    """The exercises of ``data`` that :func:`validate` let through (or the ``{}`` of no file)."""
    return {k: ExerciseState.from_dict(v) for k, v in data.get("exercises", {}).items()}


class PracticeProgress:
    def __init__(self, store: JsonStore, exercises: dict[str, ExerciseState] | None = None):
        self.store = store
        self.exercises = exercises or {}
        self.save_error: str | None = None

    @property
    def warning(self) -> str | None:
        return self.store.warning

    @classmethod
    def load(cls, folder: Path | None = None, name: str = FILE_NAME) -> PracticeProgress:
        store = JsonStore(name, SCHEMA, folder, validate=validate)
        return cls(store, parse(store.load({})))

    @classmethod
    def for_workspace(cls, workspace: Workspace | None) -> PracticeProgress:
        """The progress kept in ``workspace`` (the user-level file when there is none)."""
        if workspace is None:
            return cls.load()
        return cls.load(workspace.folder, WORKSPACE_FILE)

    def to_data(self) -> dict:
        return {"exercises": {k: asdict(v) for k, v in sorted(self.exercises.items())}}

    def change(self, name: str, apply: Callable[[ExerciseState], object]):
        """Apply ``apply`` to exercise ``name`` as it is on disk now, save, and return what it returned.

        A disk that refuses is noted in ``save_error``, never fatal (:meth:`JsonStore.transact`).
        """

        def read(data) -> None:
            self.exercises = parse(data)

        result, error = self.store.transact({}, read, lambda: apply(self.state(name)), self.to_data)
        self.save_error = None if error is None else (
            f"could not save practice progress to {self.store.path} ({error})")
        return result

    def state(self, name: str) -> ExerciseState:
        return self.exercises.setdefault(name, ExerciseState())

    def record_check(self, name: str, passed: bool, summary: str) -> None:
        def check(state: ExerciseState) -> None:
            state.tries += 1
            state.passed = state.passed or passed
            state.derived = state.derived or (passed and state.level == "derive")
            state.last = summary

        self.change(name, check)

    def next_hint(self, name: str) -> int:
        """The index of the hint to show now (0, 1, 2; the last one again after that)."""

        def hint(state: ExerciseState) -> int:
            index = min(state.hints, HINTS - 1)
            state.hints = min(state.hints + 1, HINTS)
            return index

        return self.change(name, hint)

    def next_derive_step(self, name: str, rung: str, steps: int) -> int:
        """The index of the derive step to show now on ``rung`` (the rung's first variable):
        0, 1, ... up to ``steps`` − 1, which is shown again after that."""

        def step(state: ExerciseState) -> int:
            shown = state.derive_hints.get(rung, 0)
            state.derive_hints[rung] = min(shown + 1, steps)
            return min(shown, steps - 1)

        return self.change(name, step)

    def derive_steps_shown(self, name: str, rung: str) -> int:
        return self.state(name).derive_hints.get(rung, 0)

    def set_level(self, name: str, level: str) -> None:
        """Record the level ``name`` is done at from now on (guided | derive)."""
        if level not in LEVELS:
            raise ValueError(f"no level {level!r}")

        def set_it(state: ExerciseState) -> None:
            state.level = level

        self.change(name, set_it)

    def level(self, name: str) -> str:
        state = self.exercises.get(name)
        return state.level if state is not None else "guided"

    def give_up(self, name: str) -> None:
        """The solution was shown before a pass: the list says so from now on."""

        def gave_up(state: ExerciseState) -> None:
            state.gave_up = state.gave_up or not state.passed

        self.change(name, gave_up)

    def status(self, name: str) -> str:
        """not started | passed | gave up | the last check's summary; a pass after the solution
        was shown says so ("passed (gave up)"), and so does one at the derive level ("passed
        (derived)")."""
        state = self.exercises.get(name)
        if state is None or (state.tries == 0 and not state.gave_up):
            return "not started"
        if state.passed:
            if state.gave_up:
                return "passed (gave up)"
            return "passed (derived)" if state.derived else "passed"
        return "gave up" if state.gave_up else state.last
