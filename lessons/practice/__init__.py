"""The practice exercises: the learner writes the engine's functions, kqv grades them.

Each exercise is a folder here with a ``spec.py`` (see :mod:`lessons.practice.exercise` for the
format and ``AUTHORING.md`` for how to add one), listed on its lesson's line of
:mod:`lessons.curriculum`, which gives both the lesson it follows and the order: lesson by
lesson, then as the line lists them (the order of the steps they follow).

    exercises = load_exercises()             # [sigmoid, feedforward, ...]
    ex = find_exercise("feedforward")
    ex.cases()                               # runs the engine: the records to grade against
    starter_file(ex), solution_file(ex)
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
from pathlib import Path

from engine.errors import KqvError
from lessons.curriculum import EXERCISES, lesson_of
from lessons.loader import lesson_file, load_lesson
from lessons.model import Lesson
from lessons.practice.exercise import Call, Case, Derive, Exercise, GradCheck, Mistake, Rung, Seeded

PRACTICE_DIR = Path(__file__).resolve().parent

LEVELS = ("guided", "derive")  # the docstring gives the formulas | states the forward only

__all__ = ["LEVELS", "Call", "Case", "Derive", "Exercise", "GradCheck", "Mistake", "PRACTICE_DIR", "Rung",
           "Seeded", "find_exercise", "lesson_step", "load_exercises", "solution_file", "starter_file"]


def load_exercises() -> tuple[Exercise, ...]:
    """Every exercise, in lesson order."""
    return tuple(_load(name) for name in EXERCISES)


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; a :class:`KqvError` listing the names if there is none.

    Only that exercise's spec is imported (``kqv practice check NAME`` starts faster).
    """
    if name in EXERCISES:
        return _load(name)
    close = difflib.get_close_matches(name, EXERCISES, n=1)
    guess = f"; did you mean {close[0]}?" if close else ""
    raise KqvError(f"no exercise called {name!r}{guess} The exercises are: {', '.join(EXERCISES)}"
                   if guess else f"no exercise called {name!r}; the exercises are: {', '.join(EXERCISES)}")


@functools.cache
def _load(folder: str) -> Exercise:
    exercise = importlib.import_module(f"lessons.practice.{folder}.spec").EXERCISE
    if exercise.name != folder:
        raise RuntimeError(f"lessons/practice/{folder}/spec.py names its exercise {exercise.name!r}, "
                           f"not {folder!r} like its folder")
    return dataclasses.replace(exercise, lesson=lesson_of(folder))


def starter_file(exercise: Exercise, level: str = "guided") -> Path:
    """The file ``init`` copies: ``starter.py``, or at the derive level ``derive.py`` (the forward
    and the shapes only). An exercise without a derive level has its guided starter only."""
    name = "derive.py" if level == "derive" and exercise.derive is not None else "starter.py"
    return PRACTICE_DIR / exercise.name / name


def solution_file(exercise: Exercise) -> Path:
    return PRACTICE_DIR / exercise.name / "solution.py"


def lesson_step(exercise: Exercise) -> tuple[int, str] | None:
    """The step the exercise follows: its number in the lesson (from 1) and its title."""
    steps = _lesson(exercise.lesson).steps
    return next(((number, step.title) for number, step in enumerate(steps, start=1)
                 if step.id == exercise.step), None)


@functools.cache
def _lesson(lesson_id: str) -> Lesson:
    return load_lesson(lesson_file(lesson_id))
