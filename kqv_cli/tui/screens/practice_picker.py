"""The practice picker: every exercise with its lesson, level, status and tries; typing filters.

Opened with ``l`` from the Practice screen; returns the chosen exercise's name, or ``None``.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from kqv_cli.practice.practice_progress import PracticeProgress
from lessons.practice import Exercise


class PracticePicker(ModalScreen[str | None]):
    """A filterable list: a typed word keeps the exercises whose name, title or lesson hold it."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "choose", "Open", show=True),
                Binding("down", "move(1)", "Down", show=False), Binding("up", "move(-1)", "Up", show=False)]

    def __init__(self, exercises: list[Exercise], progress: PracticeProgress, current: str):
        super().__init__()
        self.exercises = exercises
        self.progress = progress
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Static("Exercises: type to filter, enter opens one", id="picker-title")
            yield Input(placeholder="filter: a name, a word of its title, a lesson", id="picker-filter",
                        compact=True)
            yield OptionList(id="picker-list")
        yield Footer()

    def on_mount(self) -> None:
        self.fill("")
        self.query_one("#picker-filter", Input).focus()

    def row(self, number: int, exercise: Exercise) -> Text:
        status = self.progress.status(exercise.name)
        state = self.progress.state(exercise.name)
        style = "green" if status.startswith("passed") else ("dim" if status == "not started" else "yellow")
        level = ("derive", "magenta") if state.level == "derive" else ("guided", "dim")
        return Text.assemble(f"{number:>2} ", (f"{exercise.name:<18}", "bold"), f" {exercise.lesson:<12} ",
                             level, " ", (f"{status[:28]:<28}", style), (f" tries {state.tries}", "dim"))

    def fill(self, typed: str) -> None:
        words = typed.lower().split()
        options = [Option(self.row(i, e), id=e.name) for i, e in enumerate(self.exercises, start=1)
                   if all(w in f"{e.name} {e.title} {e.lesson}".lower() for w in words)]
        listing = self.query_one("#picker-list", OptionList)
        listing.clear_options()
        listing.add_options(options)
        names = [o.id for o in options]
        if names:
            listing.highlighted = names.index(self.current) if self.current in names else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self.fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_choose()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, delta: int) -> None:
        listing = self.query_one("#picker-list", OptionList)
        if listing.option_count:
            listing.highlighted = ((listing.highlighted or 0) + delta) % listing.option_count

    def action_choose(self) -> None:
        listing = self.query_one("#picker-list", OptionList)
        if listing.highlighted is None or not listing.option_count:
            return
        self.dismiss(listing.get_option_at_index(listing.highlighted).id)

    def action_cancel(self) -> None:
        self.dismiss(None)
