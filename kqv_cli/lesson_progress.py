"""Lesson progress: which steps were seen, where each lesson was left, the dims chosen.

Kept in ``lessons.json`` in the user data folder through :class:`kqv_cli.store.JsonStore`, so
every save is atomic and a damaged file (checked whole by :func:`validate`) is moved aside with
a warning (``.warning``) instead of crashing the app. A save merges under the file's lock: the
lessons this process worked on are written over what is on disk now (steps seen are united),
the others are left as another session may have saved them. Steps are remembered by id, not by
number, so a lesson that gains a step does not shift what the learner has seen; a step id that
no longer exists is simply ignored.

    progress = LessonProgress.load()
    progress.mark_seen("backprop", "layer2")      # also moves the position there
    progress.position("backprop")                 # -> "layer2"
    progress.set_dims("backprop", {"n2": 100})
    progress.save()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kqv_cli.store import JsonStore

FILE_NAME = "lessons.json"
SCHEMA = 1


def validate(data) -> None:
    """Raise ValueError unless ``data`` is ``{"lessons": {id: {seen, position, dims}}, "last": id}``."""
    if not isinstance(data, dict):
        raise ValueError(f"data is a {type(data).__name__}, not an object")
    lessons, last = data.get("lessons", {}), data.get("last")
    if not isinstance(lessons, dict):
        raise ValueError("lessons is not an object of lesson id -> state")
    for lesson_id, d in lessons.items():
        ok = (isinstance(d, dict) and isinstance(d.get("seen", []), list)
              and all(isinstance(s, str) for s in d.get("seen", []))
              and (d.get("position") is None or isinstance(d.get("position"), str))
              and isinstance(d.get("dims", {}), dict)
              and all(isinstance(v, int) and not isinstance(v, bool) for v in d.get("dims", {}).values()))
        if not ok:
            raise ValueError(f"lesson {lesson_id[:40]!r} is not {{seen, position, dims}} of the right types")
    if last is not None and not isinstance(last, str):
        raise ValueError("last is not a lesson id")


@dataclass
class LessonState:
    seen: list[str] = field(default_factory=list)  # step ids, in the order first seen
    position: str | None = None  # the step id the learner was on when they left
    dims: dict[str, int] = field(default_factory=dict)  # only the dims they changed

    def to_dict(self) -> dict:
        return {"seen": self.seen, "position": self.position, "dims": self.dims}

    @classmethod
    def from_dict(cls, d) -> LessonState:
        """Tolerant of hand edits: wrong types are dropped rather than trusted."""
        if not isinstance(d, dict):
            return cls()
        seen = [s for s in d.get("seen", []) if isinstance(s, str)] if isinstance(d.get("seen"), list) else []
        position = d.get("position") if isinstance(d.get("position"), str) else None
        dims = d.get("dims") if isinstance(d.get("dims"), dict) else {}
        dims = {k: v for k, v in dims.items()
                if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)}
        return cls(list(dict.fromkeys(seen)), position, dims)


class LessonProgress:
    """Every lesson's state, loaded from and saved to the progress file."""

    def __init__(self, store: JsonStore, lessons: dict[str, LessonState] | None = None,
                 last: str | None = None):
        self.store = store
        self.lessons: dict[str, LessonState] = lessons or {}
        self.last = last  # the lesson most recently worked on, for "continue"
        self.touched: set[str] = set()  # lessons changed by this process since it loaded

    @property
    def warning(self) -> str | None:
        """Set when the file on disk was unreadable and has been moved aside."""
        return self.store.warning

    @property
    def path(self) -> Path:
        return self.store.path

    @classmethod
    def load(cls, folder: Path | None = None) -> LessonProgress:
        store = JsonStore(FILE_NAME, SCHEMA, folder, validate=validate)
        lessons, last = cls._parse(store.load({}))
        return cls(store, lessons, last)

    @staticmethod
    def _parse(data) -> tuple[dict[str, LessonState], str | None]:
        lessons = {k: LessonState.from_dict(v) for k, v in data.get("lessons", {}).items()}
        last = data.get("last")
        return lessons, last if last in lessons else None

    def save(self) -> None:
        """Merge this process's lessons into the file as it is now, under its lock (OSError if refused)."""

        def merge(data) -> dict:
            lessons, last = self._parse(data)
            for lesson_id in self.touched:
                ours, theirs = self.lessons[lesson_id], lessons.get(lesson_id, LessonState())
                seen = list(dict.fromkeys(theirs.seen + ours.seen))
                lessons[lesson_id] = LessonState(seen, ours.position, dict(ours.dims))
            if self.touched and self.last is not None:
                last = self.last
            self.lessons, self.last = lessons, last
            return {"lessons": {k: v.to_dict() for k, v in lessons.items()}, "last": last}

        if self.touched:
            self.store.update(merge, {})
            self.touched.clear()

    def state(self, lesson_id: str) -> LessonState:
        self.touched.add(lesson_id)
        return self.lessons.setdefault(lesson_id, LessonState())

    # -- what the screens ask -------------------------------------------------------------

    def mark_seen(self, lesson_id: str, step_id: str) -> None:
        """The learner is on this step: count it as seen and remember it as the position."""
        state = self.state(lesson_id)
        if step_id not in state.seen:
            state.seen.append(step_id)
        state.position = step_id
        self.last = lesson_id

    def seen(self, lesson_id: str) -> set[str]:
        return set(self.lessons[lesson_id].seen) if lesson_id in self.lessons else set()

    def seen_count(self, lesson_id: str, step_ids: list[str]) -> int:
        """How many of the lesson's current steps were seen (old step ids do not count)."""
        seen = self.seen(lesson_id)
        return sum(1 for s in step_ids if s in seen)

    def position(self, lesson_id: str) -> str | None:
        """The step id the learner left this lesson on, or None."""
        return self.lessons[lesson_id].position if lesson_id in self.lessons else None

    def position_index(self, lesson_id: str, step_ids: list[str]) -> int:
        """Where to reopen the lesson: the saved step's index, or 0 if it is gone or unknown."""
        position = self.position(lesson_id)
        return step_ids.index(position) if position in step_ids else 0

    def dims(self, lesson_id: str) -> dict[str, int]:
        return dict(self.lessons[lesson_id].dims) if lesson_id in self.lessons else {}

    def set_dims(self, lesson_id: str, dims: dict[str, int]) -> None:
        self.state(lesson_id).dims = {k: int(v) for k, v in dims.items()}
