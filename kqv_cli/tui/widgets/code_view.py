"""The engine code pane: the real source lines a step runs, the current ones marked ``❱``."""

from __future__ import annotations

from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

THEME = "monokai"
CURRENT = Style(bgcolor="#3e3d32")  # the theme's own line-highlight colour


@lru_cache(maxsize=32)
def highlighted(lines: tuple[str, ...]) -> tuple[Text, ...]:
    """The lines lexed and coloured once; consecutive steps often show the same function."""
    text = Syntax("", "python", theme=THEME).highlight("\n".join(lines))
    text.rstrip()
    return tuple(text.split("\n", allow_blank=True))


def span_lines(lines: tuple[str, ...], start: int, current: frozenset[int]) -> list[Text]:
    """Highlighted lines with a gutter: ``❱ 247`` on the current ones, ``  248`` elsewhere.

    Lexed into rich Text once (a ``Syntax`` object in the pane was lexed again on every layout
    pass: ~100 ms a step).
    """
    width = len(str(start + len(lines) - 1))
    out = []
    for number, line in enumerate(highlighted(lines), start):
        here = number in current
        row = Text(f"{'❱' if here else ' '} {number:>{width}} ", style="bold #ffd866" if here else "grey50")
        if here:
            line = line.copy()
            line.stylize(CURRENT)
            line.pad_right(2)
        row.append_text(line)
        out.append(row)
    return out


class CodeView(ScrollView, can_focus=True):
    """Shows code spans (``path``, ``start``..``end``, ``current`` line numbers) one under another.

    A line-API widget: only the rows on screen are turned into segments, so a 150-line function
    costs the same to redraw as a 15-line one.
    """

    ALLOW_MAXIMIZE = True  # z lets this pane fill the screen

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lines: list[Text] = []
        self.first_current = 0  # the row of the first marked line
        self._strips: dict[int, Strip] = {}

    def show(self, spans) -> None:
        lines: list[Text] = []
        first_current = None  # the row of the first marked line, to scroll it into view
        for span in spans:
            if lines:
                lines.append(Text())
            try:
                source = tuple(span.lines())
            except OSError as exc:
                lines.append(Text(f"{span.name}: cannot read ({exc.strerror})", style="red"))
                continue
            lines.append(Text(f"{span.name}:{span.start}-{span.end}", style="bold"))
            if span.current and first_current is None:
                first_current = len(lines) + min(span.current) - span.start
            lines += span_lines(source, span.start, frozenset(span.current))
        if not spans:
            lines.append(Text("(this step runs no engine code)", style="dim"))
        self.lines = lines
        self._strips.clear()
        self.virtual_size = Size(max(line.cell_len for line in lines), len(lines))
        self.refresh()
        self.first_current = first_current or 0
        self.scroll_to_current()

    def scroll_to_current(self) -> None:
        """The first marked line three rows from the top (again after the pane was hidden)."""
        self.scroll_to(0, max(0, self.first_current - 3), animate=False)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.scrollable_content_region.width
        if row >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(row)
        if strip is None:
            line = self.lines[row]
            strip = Strip(list(line.render(self.app.console, end="")), line.cell_len)
            self._strips[row] = strip
        if strip.cell_length > scroll_x + width > scroll_x + 1:  # a line cut at the edge ends in "…"
            shown = strip.crop(scroll_x, scroll_x + width - 1)
            return Strip.join([shown, Strip([Segment("…", Style(dim=True))], 1)]).apply_style(self.rich_style)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style).apply_style(self.rich_style)
