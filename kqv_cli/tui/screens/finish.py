"""The dialog at the end of a lesson: where to go next (the next lesson, this topic's quiz, home)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

HOME = "home"
QUIZ = "quiz"
PRACTICE = "practice"
NEXT = "next:"  # + the next lesson's id


class FinishScreen(ModalScreen[str | None]):
    """Returns ``"next:<lesson id>"``, ``"quiz"``, ``"practice"``, ``"home"``, or ``None`` (stay on
    the last step)."""

    BINDINGS = [Binding("escape", "stay", "Stay on this step")]

    def __init__(self, lesson_title: str, next_lesson=None, quiz_topic: str = "all",
                 exercise: str | None = None):
        super().__init__()
        self.lesson_title, self.next_lesson, self.quiz_topic = lesson_title, next_lesson, quiz_topic
        self.exercise = exercise  # a practice exercise of this lesson, if it has one

    def compose(self) -> ComposeResult:
        options = []
        if self.next_lesson is not None:
            options.append(Option(Text.assemble(("Next lesson  ", "bold"), self.next_lesson.title),
                                  id=NEXT + self.next_lesson.id))
        cards = "every topic's cards" if self.quiz_topic == "all" else f"the {self.quiz_topic} cards"
        options.append(Option(Text.assemble(("Quiz  ", "bold"), f"{cards}: shapes from real runs"),
                              id=QUIZ))
        if self.exercise is not None:
            options.append(Option(Text.assemble(("Practice  ", "bold"),
                                                f"write {self.exercise} yourself, graded by the engine"),
                                  id=PRACTICE))
        options.append(Option(Text.assemble(("Home  ", "bold"), "all lessons and your progress"), id=HOME))
        with Vertical(id="finish-box"):
            yield Static(Text.assemble(("✓ ", "bold green"), (self.lesson_title, "bold"),
                                       ": every step seen. Where next?"), id="finish-title")
            yield OptionList(*options, id="finish-menu")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_stay(self) -> None:
        self.dismiss(None)
