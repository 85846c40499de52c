"""The practice exercises: the learner writes the engine's functions, kqv grades them.

Every folder here with a ``spec.py`` is one exercise (see :mod:`lessons.practice.exercise` for
the format and ``AUTHORING.md`` for how to add one). They are listed in lesson order: by the
lesson the exercise follows (the home screen's order), then by the step within it.

    exercises = load_exercises()             # [sigmoid, feedforward, ...]
    ex = find_exercise("feedforward")
    ex.cases()                               # runs the engine: the records to grade against
    starter_file(ex), solution_file(ex)
"""

from __future__ import annotations

import functools
import importlib
import re
from pathlib import Path

from engine.errors import KqvError
from lessons.loader import BUILT_IN
from lessons.practice.exercise import Call, Case, Exercise, Mistake, Seeded

PRACTICE_DIR = Path(__file__).resolve().parent
_LESSONS_DIR = PRACTICE_DIR.parent

__all__ = ["Call", "Case", "Exercise", "Mistake", "PRACTICE_DIR", "Seeded", "find_exercise",
           "lesson_step", "load_exercises", "solution_file", "starter_file"]


@functools.cache
def load_exercises() -> tuple[Exercise, ...]:
    """Every exercise, in lesson order."""
    folders = sorted(f.name for f in PRACTICE_DIR.iterdir() if (f / "spec.py").is_file())
    found = [_load(folder) for folder in folders]
    return tuple(sorted(found, key=_lesson_position))


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a :class:`KqvError` listing the names if there is none.

    Only that exercise's spec is imported (``kqv practice check NAME`` starts faster).
    """
    if name.isidentifier() and (PRACTICE_DIR / name / "spec.py").is_file():
        return _load(name)
    names = ", ".join(e.name for e in load_exercises())
    raise KqvError(f"no exercise called {name!r}; the exercises are: {names}")


@functools.cache
def _load(folder: str) -> Exercise:
    exercise = importlib.import_module(f"lessons.practice.{folder}.spec").EXERCISE
    if exercise.name != folder:
        raise RuntimeError(f"lessons/practice/{folder}/spec.py names its exercise {exercise.name!r}, "
                           f"not {folder!r} like its folder")
    return exercise


def starter_file(exercise: Exercise) -> Path:
    return PRACTICE_DIR / exercise.name / "starter.py"


def solution_file(exercise: Exercise) -> Path:
    return PRACTICE_DIR / exercise.name / "solution.py"


@functools.cache
def _steps(lesson: str) -> tuple[tuple[str, str], ...]:
    """(step id, title) of each step of a lesson, read from its Markdown (## Title, step: id)."""
    path = _LESSONS_DIR / f"{lesson}.md"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    return tuple((m.group(2), m.group(1).strip())
                 for m in re.finditer(r"^## (.+)\n\s*step:\s*(\S+)", text, flags=re.MULTILINE))


def lesson_step(exercise: Exercise) -> tuple[int, str] | None:
    """The step the exercise follows: its number in the lesson (from 1) and its title."""
    for number, (step, title) in enumerate(_steps(exercise.lesson), start=1):
        if step == exercise.step:
            return number, title
    return None


def _lesson_position(exercise: Exercise) -> tuple[int, int]:
    # the home screen's order (BUILT_IN), so exercises come in the order their lessons do
    lesson = BUILT_IN.index(exercise.lesson) if exercise.lesson in BUILT_IN else len(BUILT_IN)
    step = lesson_step(exercise)
    return lesson, step[0] if step else len(_steps(exercise.lesson)) + 1
