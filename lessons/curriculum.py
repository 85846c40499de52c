"""The registry of what kqv teaches: each lesson, the quiz topic that drills it, its exercises.

One line per lesson, in the order the home screen lists them. Everything else that lists
lessons, topics or exercises reads it: the lesson loader, ``kqv learn``'s and ``kqv quiz
--topic``'s help, the quiz's catalogue of cards, the practice list, the app's "quiz on this
lesson" key, and the tests. A line names files that sit in ``lessons/``::

    Entry("backprop", quiz="backprop", practice=("sigmoid", ...))
      lessons/backprop.md                 the lesson (its header names lessons/steps/<script>.py)
      lessons/cards/backprop.py           the quiz topic's cards (TOPIC, CARDS)
      lessons/practice/sigmoid/ ...       one folder per exercise (spec.py, starter.py, solution.py)

lessons/AUTHORING.md says how to add a lesson, a topic or an exercise. This module imports
nothing of kqv's own: whatever needs the list can read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One lesson of the curriculum and what goes with it (the lesson itself, as loaded from its
    file, is a :class:`lessons.model.Lesson`)."""

    id: str  # lessons/<id>.md; `kqv learn <id>`
    # the quiz topic that drills this lesson (lessons/cards/<quiz>.py), or None: its quiz key
    # asks from every topic (the bridge lesson compares two models the other topics cover)
    quiz: str | None = None
    # its practice exercises (lessons/practice/<name>/), in the order of the steps they follow
    practice: tuple[str, ...] = ()


CURRICULUM = (
    Entry("backprop", quiz="backprop", practice=(
        "sigmoid", "feedforward", "quadratic_cost", "backprop", "update_mini_batch", "cross_entropy_cost")),
    Entry("attention", quiz="attention", practice=(
        "embedding", "sinusoidal", "layernorm", "heads", "softmax", "attention", "cross_entropy")),
    Entry("bridge"),
    Entry("backward", quiz="backward", practice=("attention_backward",)),
    Entry("training", quiz="training", practice=("adamw", "sampling")),
    Entry("translation", quiz="translation", practice=(
        "padding_mask", "cross_attention", "label_smoothing", "beam_search_step")),
)

LESSONS = tuple(lesson.id for lesson in CURRICULUM)  # the home screen's order
TOPICS = tuple(lesson.quiz for lesson in CURRICULUM if lesson.quiz)  # the quiz's teaching order
EXERCISES = tuple(name for lesson in CURRICULUM for name in lesson.practice)  # practice order
ALL_TOPICS = "all"  # the quiz topic that asks from every topic


def quiz_topic(lesson_id: str) -> str:
    """The quiz topic that drills a lesson: ``"backprop"``, ... or ``"all"``."""
    return next((lesson.quiz for lesson in CURRICULUM if lesson.id == lesson_id and lesson.quiz), ALL_TOPICS)


def lesson_of(exercise: str) -> str:
    """The lesson whose line lists ``exercise``; KeyError if none does."""
    for lesson in CURRICULUM:
        if exercise in lesson.practice:
            return lesson.id
    raise KeyError(exercise)


def listed(names: tuple[str, ...], last: str = "or") -> str:
    """``"backprop, attention or training"``: names for a help text or an error line."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"
