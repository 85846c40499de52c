"""``ConfirmScreen``: a yes/no question before something that cannot be undone.

The Train screen asks it before ``esc`` ends a run that has trained for minutes: one key too
many should not throw that work away. ``y`` or ``enter`` answers yes, ``n`` or ``esc`` no (the
safe answer is the key that was just pressed, so pressing ``esc`` twice keeps the run).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static


class ConfirmScreen(ModalScreen[bool]):
    """Returns True for yes, False for no."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    #confirm-box {
        width: 64; max-width: 100%; height: auto;
        border: round $warning; background: $surface; padding: 0 1;
    }
    #confirm-question, #confirm-detail { height: auto; margin-bottom: 1; }
    #confirm-keys { height: auto; }
    """

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, detail: str = ""):
        super().__init__()
        self.question, self.detail = question, detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(Text(self.question, style="bold"), id="confirm-question")
            if self.detail:
                yield Static(self.detail, id="confirm-detail")
            yield Static(Text.assemble(("y", "bold"), " yes · ", ("n", "bold"), " or ",
                                       ("esc", "bold"), " no"), id="confirm-keys")
        yield Footer()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
