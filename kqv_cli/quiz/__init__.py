"""The dimension quiz: questions generated from real engine runs, scheduled by FSRS.

No Textual, rich or typer here: ``kqv quiz`` (plain terminal) and the TUI's Quiz screen both
drive :class:`QuizSession`, and the TUI home screen reads :func:`progress_summary`.
"""

from kqv_cli.quiz.questions import CARDS, cards_for, generate
from kqv_cli.quiz.quiz_progress import QuizProgress, progress_summary
from kqv_cli.quiz.session import Outcome, QuizSession
from lessons.cards.question import Question
from lessons.curriculum import TOPICS

__all__ = ["CARDS", "TOPICS", "Outcome", "Question", "QuizProgress", "QuizSession", "cards_for", "generate",
           "progress_summary"]
