"""The Quiz screen: the same dimension questions as ``kqv quiz``, in the TUI.

The screen only shows and asks; :class:`kqv_cli.quiz.QuizSession` picks the cards, runs the
engine, checks answers and saves progress after each one. Type an answer and press enter;
``?`` (or typing ``h``) asks for a hint; after the answer, the derivation and the trace lines
that prove it are shown, and enter moves on. ``escape`` (or ``q`` once an answer is shown) goes
back to where the quiz was opened from.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from kqv_cli.quiz import Outcome, QuizSession

QUESTIONS_PER_ROUND = 10


class AnswerInput(Input):
    """The answer box. It leaves "?" to the screen: no answer contains one, and it is the hint key."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character != "?" and super().check_consume_key(key, character)


class QuizScreen(Screen):
    DEFAULT_CSS = """
    QuizScreen #quiz-bar {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    QuizScreen #quiz-body {
        height: 1fr;
        padding: 0 1;
    }
    QuizScreen #quiz-question {
        height: auto;
        margin: 1 0 0 0;
    }
    QuizScreen #quiz-feedback {
        height: auto;
        margin: 1 0 0 0;
    }
    QuizScreen #quiz-answer {
        height: 3;
        margin: 0 1;
    }
    """

    BINDINGS = [
        # priority: "?" never appears in an answer, so it is the hint key even while typing
        Binding("question_mark", "hint", "Hint", priority=True),
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),  # only reaches us when the input is not focused
        Binding("enter", "next", "Next", show=False),
        Binding("ctrl+l", "letters", "Letters/numbers"),
    ]

    def __init__(self, topic: str, count: int = QUESTIONS_PER_ROUND, symbolic: bool = False,
                 seed: int | None = None):
        super().__init__(name=f"quiz-{topic}")
        self.topic = topic
        self.count = count
        self.symbolic = symbolic
        self.seed = seed
        self.session: QuizSession | None = None
        self.feedback: list[Text] = []

    def compose(self) -> ComposeResult:
        yield Static(id="quiz-bar")
        with VerticalScroll(id="quiz-body"):
            yield Static(id="quiz-question")
            yield Static(id="quiz-feedback")
        yield AnswerInput(id="quiz-answer")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"quiz · {self.topic}"  # the screen's own, shown by a Header on it
        self.new_round()

    # -- the loop ----------------------------------------------------------------------------

    def new_round(self) -> None:
        self.session = QuizSession(self.topic, self.count, self.symbolic, seed=self.seed)
        if self.session.warning:
            self.notify(self.session.warning, severity="warning", timeout=10)
        self.ask_next()

    def ask_next(self) -> None:
        session = self.session
        question = session.next_question()
        answer = self.query_one("#quiz-answer", Input)
        self.feedback = []
        if question is None:
            self.query_one("#quiz-question", Static).update(Text.assemble(
                ("Round done: ", "bold"), f"{session.summary_line()}.\n",
                ("Progress is saved. enter: another round · escape: back", "dim")))
            self.show_feedback()
            answer.placeholder = "enter: another round"
            answer.disabled = True
            self.update_bar()
            self.set_focus(None)
            return
        self.query_one("#quiz-question", Static).update(Text.assemble(
            (question.setting, ""), "\n", (question.ask, "bold"), "\n", (question.convention, "dim")))
        self.show_feedback()
        answer.disabled = False
        answer.value = ""
        answer.placeholder = f"{question.format_help()} · ? for a hint"
        answer.focus()
        self.update_bar()

    def update_bar(self) -> None:
        s = self.session
        q = s.current
        level = f" · level {q.level}" if q is not None else ""
        mode = " · in letters" if self.symbolic else ""
        card = f" · {q.card_id}" if q is not None else ""
        self.query_one("#quiz-bar", Static).update(
            f"Quiz {self.topic} · {min(s.asked, s.count)}/{s.count} · ✓ {s.right} ✗ {s.wrong}"
            f"{level}{mode}{card}")

    def show_feedback(self) -> None:
        self.query_one("#quiz-feedback", Static).update(Text("\n").join(self.feedback))
        self.query_one("#quiz-body", VerticalScroll).scroll_end(animate=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        session = self.session
        if session.current is None or session.answered:
            self.action_next()
            return
        if not event.value.strip():
            return
        outcome = session.respond(event.value)
        self.take(outcome)
        if outcome.final and session.progress.save_error:
            self.notify(session.progress.save_error, severity="error", timeout=10)

    def take(self, outcome: Outcome) -> None:
        answer = self.query_one("#quiz-answer", Input)
        if outcome.status == "hint":
            self.feedback.append(Text(outcome.message, style="cyan"))
            answer.value = ""
        elif outcome.status == "malformed":
            self.feedback.append(Text(outcome.message, style="yellow"))
        else:
            q = outcome.question
            style = "bold green" if outcome.status == "right" else "bold red"
            mark = "✓ " if outcome.status == "right" else "✗ "
            self.feedback.append(Text(mark + outcome.message, style=style))
            self.feedback.append(Text("why:", style="bold"))
            self.feedback += [Text("  " + line) for line in q.derivation]
            self.feedback.append(Text("trace:", style="bold"))
            self.feedback += [Text("  " + line, style="dim") for line in q.proof]
            self.feedback.append(Text("enter: next question · escape: back", style="dim"))
            answer.value = ""
            answer.placeholder = "enter: next question"
            answer.disabled = True
            self.set_focus(None)  # enter and q now reach the screen's bindings
        self.show_feedback()
        self.update_bar()

    # -- actions -----------------------------------------------------------------------------

    def action_hint(self) -> None:
        session = self.session
        if session is None or session.current is None or session.answered:
            return
        self.take(session.respond("?"))

    def action_next(self) -> None:
        session = self.session
        if session.current is None:  # round over: start another
            self.new_round()
        elif session.answered:
            self.ask_next()

    def action_letters(self) -> None:
        """Switch between answering in numbers and in letters, from the next question on."""
        self.symbolic = not self.symbolic
        self.session.symbolic = self.symbolic
        self.notify("next questions: answer in letters, e.g. (B, nh, T, hs)" if self.symbolic
                    else "next questions: answer in numbers, e.g. (4, 8, 8)")
        self.update_bar()

    def action_back(self) -> None:
        self.app.pop_screen()
