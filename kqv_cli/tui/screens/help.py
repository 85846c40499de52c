"""Help: the keys of the screen it was opened from, and how to read that screen.

Each screen builds its own list from its bindings (:meth:`KqvScreen.help_keys`), so the page
always matches the footer. The page scrolls when it is taller than the terminal, and says so.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


def help_text(title: str, keys: list[tuple[str, str]], note: str = "") -> Group:
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0), title=f"{title}: keys",
                  title_justify="left", title_style="bold")
    table.add_column(style="bold #ffd866", no_wrap=True)
    table.add_column()
    for key, does in keys:
        table.add_row(key, does)
    parts = [table]
    if note:
        parts += [Text(""), Text(note)]
    parts += [Text(""), Text("esc, q or ? closes this page; ↑ ↓ scroll it.", style="dim")]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def __init__(self, title: str, keys: list[tuple[str, str]], note: str = ""):
        super().__init__()
        self.title_text, self.keys, self.note = title, list(keys), note

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.title_text, self.keys, self.note), id="help-text")
        yield Footer()

    def on_mount(self) -> None:
        box = self.query_one("#help-box")
        box.border_title = f"help · {self.title_text}"
        box.focus()  # ↑ ↓ and page keys scroll a page taller than the terminal

    def action_close(self) -> None:
        self.dismiss(None)
