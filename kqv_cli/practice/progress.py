"""The learner's practice progress: per exercise, passed or not, tries, hints used, the last check.

Kept in ``practice.json`` in the user data folder through :class:`kqv_cli.store.JsonStore`
(atomic writes; an unreadable file is moved aside with a warning). Keyed by exercise name, so
an exercise added later simply starts as not started.

    progress = PracticeProgress.load()
    progress.record_check("feedforward", passed=False, summary="failing at z2: wrong shape")
    progress.next_hint("feedforward")    # -> 0, 1, 2, then stays at 2
    progress.status("feedforward")       # "failing at z2: wrong shape"
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from kqv_cli.store import JsonStore

FILE_NAME = "practice.json"
SCHEMA = 1
HINTS = 3


@dataclass
class ExerciseState:
    passed: bool = False
    tries: int = 0  # checks run
    hints: int = 0  # hints shown, 0..3
    gave_up: bool = False  # asked for the solution before passing
    last: str = ""  # the last check's one-line summary

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
        return state


class PracticeProgress:
    def __init__(self, store: JsonStore, exercises: dict[str, ExerciseState] | None = None):
        self.store = store
        self.exercises = exercises or {}
        self.save_error: str | None = None

    @property
    def warning(self) -> str | None:
        return self.store.warning

    @classmethod
    def load(cls, folder: Path | None = None) -> PracticeProgress:
        store = JsonStore(FILE_NAME, SCHEMA, folder)
        data = store.load({})
        raw = data.get("exercises", {}) if isinstance(data, dict) else {}
        raw = raw if isinstance(raw, dict) else {}
        return cls(store, {k: ExerciseState.from_dict(v) for k, v in raw.items() if isinstance(k, str)})

    def save(self) -> None:
        """Write the progress; a disk that refuses is noted in ``save_error``, never fatal."""
        try:
            self.store.save({"exercises": {k: asdict(v) for k, v in sorted(self.exercises.items())}})
            self.save_error = None
        except OSError as exc:
            self.save_error = f"could not save practice progress to {self.store.path} ({exc})"

    def state(self, name: str) -> ExerciseState:
        return self.exercises.setdefault(name, ExerciseState())

    def record_check(self, name: str, passed: bool, summary: str) -> None:
        state = self.state(name)
        state.tries += 1
        state.passed = state.passed or passed
        state.last = summary
        self.save()

    def next_hint(self, name: str) -> int:
        """The index of the hint to show now (0, 1, 2; the last one again after that)."""
        state = self.state(name)
        index = min(state.hints, HINTS - 1)
        state.hints = min(state.hints + 1, HINTS)
        self.save()
        return index

    def give_up(self, name: str) -> None:
        state = self.state(name)
        if not state.passed:
            state.gave_up = True
            self.save()

    def status(self, name: str) -> str:
        """not started | passed | the last check's summary."""
        state = self.exercises.get(name)
        if state is None or state.tries == 0:
            return "not started"
        return "passed" if state.passed else state.last
