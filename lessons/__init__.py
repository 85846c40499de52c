"""Lesson content (Markdown) and the step scripts that drive the engine for each step.

    lessons = load_lessons()                 # backprop, attention, bridge
    session = LessonSession(lessons[0])      # default dims, seed 0
    view = session.run(0)                    # StepView: records, changed, code, dims, notes, extra
"""

from lessons.code_pane import CodeSpan
from lessons.loader import LessonError, load_lesson, load_lessons
from lessons.model import DimField, Lesson, Step, TraceRun
from lessons.session import LessonSession, StepView, check_lesson

__all__ = [
    "CodeSpan",
    "DimField",
    "Lesson",
    "LessonError",
    "LessonSession",
    "Step",
    "StepView",
    "TraceRun",
    "check_lesson",
    "load_lesson",
    "load_lessons",
]
