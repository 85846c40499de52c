"""The value pane: the selected variable's numbers (or colour blocks), or the step's own figure."""

from __future__ import annotations

import numpy as np
from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.content import Content  # titles as plain text: "wte[idx]" is not markup
from textual.widgets import Static

from engine.trace import format_symbolic
from kqv_cli.tui.widgets import figures

FIGURES = ("heatmap", "series", "attends", "side_by_side")  # the StepView.extra keys shown here


class ValueView(ScrollableContainer, can_focus=True):
    """Shows one thing at a time and redraws it to fit when the terminal is resized."""

    ALLOW_MAXIMIZE = True  # z lets this pane fill the screen

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.subject: tuple | None = None  # ("record", Record) or (figure kind, data)
        self.k = 0  # which matrix of a 3-D/4-D variable: [0, 0, :, :], [0, 1, :, :], ...
        self.mode = "auto"  # numbers when they fit; "numbers" or "blocks" after the v key
        self.tokens: list[list[str]] = []  # the words of each batch row: attention matrices' labels
        self.source_tokens: list[list[str]] = []  # an encoder-decoder's source pieces: the S axes' labels
        self._drawn_for: tuple[int, int] | None = None  # the (width, height) the view on screen was drawn for

    def compose(self) -> ComposeResult:
        yield Static(id="value-body")

    def show_record(self, record, tokens=(), source_tokens=()) -> None:
        """A traced variable; ``tokens`` (the words of each batch row of the step's run) label the
        query rows and key columns of an attention matrix, ``source_tokens`` its source positions."""
        self.tokens, self.source_tokens = list(tokens), list(source_tokens)
        if self.subject is None or self.subject[0] != "record" or self.subject[1].name != record.name:
            self.k, self.mode = 0, "auto"  # another variable: its first matrix, numbers if they fit
        self.subject = ("record", record)
        self.draw()

    def next_matrix(self, step: int) -> bool:
        """Show the next (or previous) matrix of a 3-D/4-D variable; False if it has only one."""
        if self.subject is None or self.subject[0] != "record":
            return False
        count = figures.matrix_count(self.subject[1].value)
        if count == 1:
            return False
        self.k = (self.k + step) % count
        self.draw()
        return True

    def toggle_numbers(self) -> bool:
        """Numbers instead of colour blocks or back (v); False if nothing here is a matrix."""
        kind, data = self.subject if self.subject is not None else (None, None)
        if kind not in ("record", "heatmap"):
            return False
        value = data.value if kind == "record" else data[1]
        if np.asarray(value).ndim == 0:
            return False
        if figures.is_ids(value):
            self.app.notify("whole numbers such as token ids are labels: they stay numbers", timeout=2)
            return True
        width = self.drawing_width()
        self.mode = "blocks" if figures.shows_numbers(value, width, self.mode) else "numbers"
        self.draw()
        return True

    def show_figure(self, kind: str, data) -> None:
        self.subject = (kind, data)
        self.draw()

    def clear(self) -> None:
        self.subject = None
        self.draw()

    def drawing_width(self) -> int:
        """The columns a view may use. Room for the vertical scrollbar is kept before it shows:
        a view drawn to the full width that then turns out taller than the pane would get the
        scrollbar after the fact, and its last column a horizontal one."""
        bar = 0 if self.show_vertical_scrollbar else self.styles.scrollbar_size_vertical
        return max(self.scrollable_content_region.width - bar, 10)

    def on_resize(self) -> None:
        self.draw()

    def watch_show_vertical_scrollbar(self) -> None:
        self.call_after_refresh(self._redraw_if_resized)

    def watch_show_horizontal_scrollbar(self) -> None:
        self.call_after_refresh(self._redraw_if_resized)

    def _redraw_if_resized(self) -> None:
        """A scrollbar that comes or goes changes the room inside the pane without a resize of the
        pane: the view drawn for the old room (a line short, or a column) is drawn again."""
        if self._drawn_for not in (None, self._room()):
            self.draw()

    def _room(self) -> tuple[int, int]:
        return self.drawing_width(), max(self.scrollable_content_region.height, 3)

    def draw(self) -> None:
        """Redraw the subject to fit the pane. Not before the pane has a size: a view drawn to a
        size it does not have yet (0 x 0, read as the smallest view) would stay on screen until
        the next resize; the first layout's resize draws it instead."""
        region = self.scrollable_content_region
        if region.width <= 0 or region.height <= 0:
            return
        self._drawn_for = self._room()
        title, view = self.render_subject(*self._drawn_for)
        self.border_title = title
        body = self.query_one("#value-body", Static)
        body.update(view)
        # The body is given the size of its drawing rather than measured by Textual: a drawing
        # put in while the body's last one waited to be laid out, after a layout that measured
        # that last one, kept the old size (Textual 8 caches a widget's size until its next
        # layout request, and a second request before the first is handled is not counted). The
        # 28x28 digit then showed 3 of its 12 lines, on a busy machine about 1 snapshot in 5.
        lines = view.plain.split("\n") if isinstance(view, Text) else None
        body.styles.height = len(lines) if lines else "auto"
        body.styles.width = max(cell_len(line) for line in lines) if lines else "auto"

    def needed_height(self, width: int | None = None) -> int:
        """The lines the subject needs to show whole at ``width`` (every row of a matrix, a
        figure at its natural size), the pane's title line included."""
        width = width if width is not None else self.drawing_width()
        _, view = self.render_subject(width, None)
        if isinstance(view, Text):
            lines = len(view.plain.splitlines()) or 1
        else:
            console = self.app.console
            lines = len(console.render_lines(view, console.options.update_width(width), pad=False))
        return lines + self.styles.gutter.height  # the title line (top border) and any padding

    def thins_to_fit(self) -> bool:
        """True when the view is colour blocks, which are thinned to any height (numbers, bars and
        tables are not: a pane too short for them scrolls)."""
        if self.subject is None or self.subject[0] not in ("record", "heatmap"):
            return False
        value = self.subject[1].value if self.subject[0] == "record" else self.subject[1][1]
        numbers = figures.shows_numbers(value, self.drawing_width(), self.mode)
        return np.asarray(value).ndim > 0 and not numbers

    def render_subject(self, width: int, height: int | None) -> tuple[str | Content, object]:
        """The pane's title and what it shows, drawn ``width`` x ``height`` (None: natural height)."""
        if self.subject is None:
            return "values", Text.from_markup("[dim]select a variable to see its values[/dim]")
        kind, data = self.subject
        if kind == "record":
            symbolic = format_symbolic(data.symbolic) if data.symbolic else ""
            formula = data.formula if data.formula.startswith(data.name) else f"{data.name}: {data.formula}"
            return Content(f"values: {formula}"), figures.array_view(
                data.value, symbolic, width, height, k=self.k, axes=tuple(data.symbolic), mode=self.mode,
                tokens=self.tokens, source_tokens=self.source_tokens)
        if kind == "heatmap":
            title, value, row_label, col_label, *names = data  # names: optional row and column names
            return Content(f"figure: {title}"), figures.array_view(
                value, "", width, height, f"rows: {row_label}, cols: {col_label}", mode=self.mode,
                names=(tuple(names) + (None, None))[:2], keep_aspect=True)
        if kind == "series":
            title, points, x_label, y_label = data
            return Content(f"figure: {title}"), figures.series(points, x_label, y_label, width)
        if kind == "attends":
            query, tokens, weights = data
            return Content(f"figure: what {query!r} attends to"), figures.attends(query, tokens, weights)
        return "figure: the two traces side by side", figures.side_by_side(*data)
