"""The dimension quiz: questions generated from real engine runs, scheduled by FSRS.

No Textual, rich or typer here: ``kqv quiz`` (plain terminal) and the TUI's Quiz screen both
drive :class:`QuizSession`, and the TUI home screen reads :func:`progress_summary`.
"""

from kqv_cli.quiz.progress import Progress, progress_summary
from kqv_cli.quiz.question import Question
from kqv_cli.quiz.questions import CARDS, TOPICS, cards_for, generate
from kqv_cli.quiz.session import Outcome, QuizSession

__all__ = ["CARDS", "TOPICS", "Outcome", "Progress", "Question", "QuizSession", "cards_for", "generate",
           "progress_summary"]
