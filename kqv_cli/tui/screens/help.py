"""The keys, on one page."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = {
    "Home": [
        ("↑ ↓", "choose a lesson"),
        ("enter", "open it where you left it"),
        ("t", "quiz on the chosen lesson's topic"),
        ("l", "lab: what if...? variants trained side by side"),
        ("r", "train the digit net or the GPT, live"),
        ("?", "this help"),
        ("q", "quit"),
    ],
    "Lesson": [
        ("n or →", "next step"),
        ("p or ←", "previous step"),
        ("↑ ↓", "choose a variable; its values show in the values pane"),
        ("tab", "move between panes (then ↑ ↓ and page up/down scroll it)"),
        ("z", "zoom: the focused pane fills the screen (z or esc puts it back)"),
        ("f", "on a step with its own figure: figure or selected variable"),
        ("[ ]", "a 3-D/4-D variable: previous/next matrix (batch entry, head)"),
        ("r", "run the step again on a new random input"),
        ("d", "change the dimensions and watch every shape follow"),
        ("t", "quiz on this lesson's topic"),
        ("q or esc", "back home (your step and dims are kept)"),
    ],
}

READING = (
    "In the variables pane, ● marks what this step created or changed, and a shape reads "
    "(4, 8, 8) = (B, T, T): the numbers numpy produced, then the same shape in the names the "
    "lesson uses. Small matrices show as numbers, large ones as colour blocks (blue negative, "
    "white zero, red positive; dark to yellow when all values are ≥ 0). Mouse clicks and "
    "scrolling work everywhere."
)


def help_text() -> Group:
    parts = [Text("kqv: keys", style="bold")]
    for title, keys in KEYS.items():
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), title=title,
                      title_justify="left", title_style="bold")
        table.add_column(style="bold #ffd866", no_wrap=True)
        table.add_column()
        for key, does in keys:
            table.add_row(key, does)
        parts += [Text(""), table]
    parts += [Text(""), Text(READING), Text(""), Text("esc, q or ? closes this page.", style="dim")]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text())

    def action_close(self) -> None:
        self.dismiss(None)
