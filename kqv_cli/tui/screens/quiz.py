"""The Quiz screen: the same dimension questions as ``kqv quiz``, in the TUI.

The screen only shows and asks; :class:`kqv_cli.quiz.QuizSession` picks the cards, runs the
engine, checks answers and saves progress after each one. Type an answer and press enter;
``h`` on an empty answer box (or typing ``hint``) asks for a hint; after the answer, the
derivation and the trace lines that prove it are shown, and enter moves on. ``?`` is help, as on
every screen; ``escape`` (or ``q`` once an answer is shown) goes back to where the quiz was
opened from.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static

from kqv_cli.quiz import Outcome, QuizSession
from kqv_cli.quiz.questions import BY_ID
from kqv_cli.quiz.scheduler import LEVEL_NOTE
from kqv_cli.tui.screens.base import KqvScreen

QUESTIONS_PER_ROUND = 10


class AnswerInput(Input):
    """The answer box. It leaves "?" (help) to the screen, as no answer contains one, and "h"
    (hint) while the box is empty: no answer starts with a lone h. Textual drops a screen's
    binding for any key the focused box may consume, priority or not, so the box must say."""

    def check_consume_key(self, key: str, character: str | None) -> bool:
        if character == "?" or (character == "h" and not self.value):
            return False
        return super().check_consume_key(key, character)


class QuizScreen(KqvScreen):
    HELP_TITLE = "Quiz"
    WIDGET_KEYS = [("enter", "check the answer typed; after it, the next question")]
    HELP_NOTE = ("Answer a shape in numbers, (4, 8, 8), 4x8x8 or 4 8 8, or in letters, "
                 "(B, nh, T, hs), after ctrl+l. A wrong answer shows the working and the trace "
                 "lines that prove it; the card comes back sooner. Progress is saved after "
                 "each answer. In the top bar, " + LEVEL_NOTE + ".")
    BINDINGS = [
        # priority: heard before the focused answer box types it (see AnswerInput)
        Binding("h", "hint", "Hint", priority=True, tooltip="a hint (on an empty answer box; or type hint)"),
        Binding("enter", "next", "Next", show=False, tooltip="the next question, once answered"),
        Binding("ctrl+l", "letters", "Letters/numbers", tooltip="answer in letters or in numbers"),
        Binding("q", "close", "Back", show=False,
                tooltip="back, once the answer is shown (while typing, q is a letter)"),
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
        self.format_error: Text | None = None  # the latest answer that could not be read, if any

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
        if question is not None:
            self.show_question(question)
            return
        self.feedback, self.format_error = [], None
        missed = session.missed_lines()
        self.query_one("#quiz-question", Static).update(Text.assemble(
            ("Round done: ", "bold"), f"{session.summary_line()}.\n",
            *((("Missed this round, and when each comes back:\n", "bold"),)
              + tuple(f"  {line}\n" for line in missed) if missed else ()),
            f"Your level now: {self.levels()}.\n", (LEVEL_NOTE + ".\n", "dim"),
            ("Progress is saved. enter: another round · escape: back", "dim")))
        self.show_feedback()
        # the round's result is read from its first line, however many concepts were missed
        body = self.query_one("#quiz-body", VerticalScroll)
        self.call_after_refresh(body.scroll_home, animate=False)
        answer = self.query_one("#quiz-answer", Input)
        answer.placeholder = "enter: another round"
        answer.disabled = True
        self.update_bar()
        self.set_focus(None)

    def show_question(self, question) -> None:
        answer = self.query_one("#quiz-answer", Input)
        self.feedback, self.format_error = [], None
        self.query_one("#quiz-question", Static).update(Text.assemble(
            (question.setting, ""), "\n", (question.ask, "bold"), "\n", (question.convention, "dim"),
            "\n", (LEVEL_NOTE + ".", "dim italic")))
        self.show_feedback()
        answer.disabled = False
        answer.value = ""
        answer.placeholder = f"{question.format_help()} · h for a hint"
        answer.focus()
        self.update_bar()

    def levels(self) -> str:
        """The learner's level in each topic of this round: "backprop 1 · attention 0"."""
        from lessons.curriculum import TOPICS

        return " · ".join(f"{t} {self.session.level(t)}" for t in TOPICS if self.topic in ("all", t))

    def update_bar(self) -> None:
        s = self.session
        q = s.current
        level = f" · level {q.level}" if q is not None else ""
        mode = " · in letters" if self.symbolic else ""
        card = f" · {BY_ID[q.card_id].title}" if q is not None else ""  # the concept, not its id
        self.query_one("#quiz-bar", Static).update(
            f"Quiz {self.topic} · {min(s.asked, s.count)}/{s.count} · ✓ {s.right} ✗ {s.wrong}"
            f"{level}{mode}{card}")

    def show_feedback(self) -> None:
        lines = self.feedback + ([self.format_error] if self.format_error is not None else [])
        self.query_one("#quiz-feedback", Static).update(Text("\n").join(lines))
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
            self.format_error = None  # the hint answers it: an old "could not read" would be stale
            answer.value = ""
        elif outcome.status == "malformed":  # only the latest: an old one must not sit above ✓
            self.format_error = Text(outcome.message, style="yellow")
        else:
            self.format_error = None
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

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        allowed = super().check_action(action, parameters)  # False once the screen is not shown
        if action == "hint" and allowed:
            session = self.session
            waiting = session is not None and session.current is not None and not session.answered
            return waiting and not self.query_one(AnswerInput).value
        return allowed

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
        """Switch between answering in numbers and in letters, the question waiting included."""
        self.symbolic = not self.symbolic
        question = self.session.set_symbolic(self.symbolic)
        if question is not None:  # the question waiting is asked again, in the new form
            self.show_question(question)
        self.notify("answer in letters, e.g. (B, nh, T, hs)" if self.symbolic
                    else "answer in numbers, e.g. (4, 8, 8)")
        self.update_bar()

