"""The variables pane: every variable in scope, its shape in numbers and in symbols, its range."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.widgets import DataTable

from kqv_cli.variable_rows import shape_text, short_dtype, value_range

CHANGED_STYLE = "bold #ffd866"


# what each cell adds around its text in show(): the mark and a space, one space each side, one before
PADDING = (3, 2, 2, 1, 1, 1)
HEADER = (" name", " shape", " dtype", " min", " mean", " max")  # as the columns read


def column_widths(rows: list[tuple[str, ...]]) -> tuple[int, ...]:
    """Each column's width in cells: its longest cell with what show() adds around it, or its
    header when that is wider."""
    return tuple(max(max((cell_len(row[i]) for row in rows), default=0) + PADDING[i], len(HEADER[i]))
                 for i in range(6))


def fit_rows(rows: list[tuple[str, ...]], room: int) -> list[tuple[str, ...]]:
    """Rows of (name, shape, dtype, min, mean, max) that fit ``room`` columns with the header.

    The range is what a learner checks (is max 1 after a softmax?), so it is never cut: the
    shapes lose the spaces after their commas first (``(2,4,12,8) = (B,nh,T,hs)``), then the
    longest names lose letters in the middle (``dec.h0.cr…att_scores``), keeping both ends.
    """
    if not rows or sum(column_widths(rows)) <= room:
        return rows
    rows = [(name, shape.replace(", ", ","), *rest) for name, shape, *rest in rows]
    excess = sum(column_widths(rows)) - room
    if excess > 0:
        width = max(max(len(row[0]) for row in rows) - excess, 8)
        rows = [(elide(name, width), *rest) for name, *rest in rows]
    return rows


def elide(name: str, width: int) -> str:
    """``name`` in ``width`` characters: its start and its (longer) end, ``…`` between."""
    if len(name) <= width:
        return name
    tail = width // 2 + 1  # the end names the variable itself: att_scores, dw
    return name[: width - 1 - tail] + "…" + name[-tail:]


class VariablesTable(DataTable):
    """One row per traced variable, keyed by its name; this step's new or changed ones marked ●.

    Cells carry their own one-space gap instead of the table's two-sided padding, numbers get
    two significant digits instead of three in terminals under 120 columns, and long shapes and
    names are shortened (:func:`fit_rows`): that is what lets name, shape, dtype, min, mean and
    max all fit in 80 columns.
    """

    ALLOW_MAXIMIZE = True  # z lets this pane fill the screen

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._shown: tuple | None = None  # (records, changed, digits, room) on screen
        self._widths: tuple[int, ...] | None = None  # the columns' widths, set by show()
        self.scroll_pending = False  # the new rows are not scrolled to the top yet

    def digits(self) -> int:
        # by the terminal's width, not the table's: the table's width follows its content
        return 3 if self.app.size.width >= 120 else 2

    def room(self) -> int:
        """The columns the table may fill: the terminal's width below 120 columns, 70% of it
        beside the values pane above (kqv.tcss), less the vertical scrollbar."""
        width = self.app.size.width
        return (width if width < 120 else int(width * 0.7)) - 1

    def on_resize(self) -> None:
        if self._shown is not None and self._shown[2:] != (self.digits(), self.room()):
            self.show(self._shown[0], self._shown[1], self.selected_name, new_first=True)
        elif self.row_count and not self.scroll_pending:
            # a pane made smaller (a step's picture takes the room) keeps its selected row in view
            self.call_after_refresh(self.move_cursor, row=self.cursor_row, animate=False, scroll=True)

    def on_mount(self) -> None:
        self.set_columns(column_widths([]))

    def set_columns(self, widths: tuple[int, ...]) -> None:
        """The six columns, empty, each as wide as ``widths`` says. The widths are given rather
        than measured: DataTable measures its cells only when idle, so a table filled and drawn
        before that (a busy machine) showed each column as wide as its header; and a measured
        column only grows, keeping an earlier step's longest name and pushing max off an
        80-column screen."""
        self.clear(columns=True)
        self._widths = widths
        for label, width in zip(HEADER[:3], widths[:3], strict=True):
            self.add_column(label, key=label.strip(), width=width)
        for label, width in zip(HEADER[3:], widths[3:], strict=True):
            # right-aligned, so the headers never read "dtypeminmeanmax"
            self.add_column(Text(label, justify="right"), key=label.strip(), width=width)

    @property
    def measured(self) -> bool:
        """True once DataTable has measured the rows show() put in. It does so when idle; until
        then its scrollable size, so its scrollbar and how far it scrolls, are the last step's."""
        expected = Size(sum(self._widths or ()), self.row_count + self.header_height)
        return self.virtual_size == expected

    def show(self, records, changed: set[str], select: str | None, new_first: bool = False) -> None:
        """Fill the table and put the cursor on ``select`` (or the first row).

        ``new_first``: scroll so the first of the ``changed`` rows is the top one (what the step is
        about, not the run-up to it), as long as the cursor stays in view.
        """
        digits = self.digits()
        self._shown = (records, changed, digits, self.room())
        rows = fit_rows([(r.name, shape_text(r), short_dtype(r.dtype), *value_range(r.value, digits))
                         for r in records], self.room())
        widths = column_widths(rows)
        if widths == self._widths:
            self.clear()  # the same columns: only the rows are new
        else:
            self.set_columns(widths)
        for record, (name, shape, dtype, low, mean, high) in zip(records, rows, strict=True):
            style = CHANGED_STYLE if record.name in changed else ""
            mark = "● " if record.name in changed else "  "
            self.add_row(
                Text(mark + name + " ", style=style),
                Text(" " + shape + " ", style=style),
                " " + dtype + " ",
                Text(" " + low, justify="right"),
                Text(" " + mean, justify="right"),
                Text(" " + high, justify="right"),
                key=record.name,
            )
        if self.row_count:
            names = [r.name for r in records]
            row = names.index(select) if select in names else 0
            self.move_cursor(row=row, animate=False, scroll=not new_first)
            if new_first:
                first = min((i for i, name in enumerate(names) if name in changed), default=row)
                self.scroll_pending = True
                self.call_after_refresh(self._scroll_new_first, min(first, row), row)

    def _scroll_new_first(self, first: int, row: int, tries: int = 20) -> None:
        if not self.measured and tries:
            # the table measures its new rows when idle; scrolling before that is clamped to the
            # last step's height
            self.call_after_refresh(self._scroll_new_first, first, row, tries - 1)
            return
        visible = max(self.scrollable_content_region.height - self.header_height, 1)
        self.scroll_to(y=max(first, row - visible + 1), animate=False)
        self.scroll_pending = False

    @property
    def selected_name(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return key.value
