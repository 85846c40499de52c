"""The explanation pane: the step's Markdown, then the lesson's notes for this run.

Rendered with rich's Markdown inside one Static rather than Textual's Markdown widget: the widget
mounts a widget per block and took 100-450 ms a step here; one renderable takes a few.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static


class StepText(VerticalScroll):
    """Scrollable text of one step. The formulas are plain Unicode in the text itself."""

    ALLOW_MAXIMIZE = True  # z lets this pane fill the screen

    markdown = ""
    TITLE = "explanation"
    _folded = False
    foldable = False  # the step's picture needs the room: x folds the text again

    @property
    def folded(self) -> bool:
        """Folded to a few lines so the step's picture has room below (space or x unfolds it)."""
        return self._folded

    def fold(self, folded: bool, foldable: bool) -> None:
        self._folded, self.foldable = folded, foldable
        self.call_after_refresh(self.say_if_more)

    def compose(self) -> ComposeResult:
        yield Static(id="step-markdown")

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        self.watch(self, "scroll_y", self.say_if_more, init=False)

    def on_resize(self) -> None:
        self.call_after_refresh(self.say_if_more)

    def say_if_more(self, _=None) -> None:
        """The title says when more text is below the fold, and which key shows it."""
        more = self.max_scroll_y > 0 and self.scroll_y < self.max_scroll_y
        if self.folded:  # folded for the picture below: space shows the rest of the text
            self.border_title = f"{self.TITLE} [b]folded ↓ more: space[/b]"
        else:
            self.border_title = f"{self.TITLE} [b]↓ more: space[/b]" if more else self.TITLE
            if self.foldable:
                self.border_title += " · x folds it for the picture"

    def show(self, markdown: str, notes: list[str], problems: list[str] = (), top: bool = True) -> None:
        """``problems``: where the text and the engine disagree (for lesson authors; normally none).

        ``top=False`` keeps the scroll position: the same step redrawn for new dims or a new seed.
        """
        from rich.markdown import Markdown  # markdown-it takes ~0.1 s to import: not before a lesson

        self.markdown = markdown  # what is on screen, for tests and for copying
        parts = [Markdown(markdown.strip(), code_theme="monokai", hyperlinks=False)]
        for note in notes:
            # notes come from the run itself (e.g. "synthetic digits, MNIST not found")
            parts.append(Text.assemble(("\nnote: ", "bold #78dce8"), (note, "italic")))
        for problem in problems:
            parts.append(Text.assemble(("\ntext and engine disagree: ", "bold red"), problem))
        self.query_one("#step-markdown", Static).update(Group(*parts))
        if top:
            self.scroll_home(animate=False)
        self.call_after_refresh(self.say_if_more)
