"""The variables pane: every variable in scope, its shape in numbers and in symbols, its range."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from kqv_cli.variable_rows import shape_text, short_dtype, value_range

CHANGED_STYLE = "bold #ffd866"


class VariablesTable(DataTable):
    """One row per traced variable, keyed by its name; this step's new or changed ones marked ●.

    Cells carry their own one-space gap instead of the table's two-sided padding, and numbers
    get two significant digits instead of three in terminals under 120 columns: that is what
    lets name, shape, dtype, min, mean and max all fit in 80 columns.
    """

    ALLOW_MAXIMIZE = True  # z lets this pane fill the screen

    def __init__(self, **kwargs):
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._shown: tuple | None = None  # (records, changed, digits) on screen
        self.scroll_pending = False  # the new rows are not scrolled to the top yet

    def digits(self) -> int:
        # by the terminal's width, not the table's: the table's width follows its content
        return 3 if self.app.size.width >= 120 else 2

    def on_resize(self) -> None:
        if self._shown is not None and self._shown[2] != self.digits():
            self.show(self._shown[0], self._shown[1], self.selected_name, new_first=True)

    def on_mount(self) -> None:
        self.add_column(" name", key="name")
        self.add_column(" shape", key="shape")
        self.add_column(" dtype", key="dtype")
        for key in ("min", "mean", "max"):
            self.add_column(Text(" " + key, justify="right"), key=key)  # never "dtypeminmeanmax"

    def show(self, records, changed: set[str], select: str | None, new_first: bool = False) -> None:
        """Fill the table and put the cursor on ``select`` (or the first row).

        ``new_first``: scroll so the first of the ``changed`` rows is the top one (what the step is
        about, not the run-up to it), as long as the cursor stays in view.
        """
        digits = self.digits()
        self._shown = (records, changed, digits)
        self.clear()
        for record in records:
            style = CHANGED_STYLE if record.name in changed else ""
            mark = "● " if record.name in changed else "  "
            low, mean, high = value_range(record.value, digits)
            self.add_row(
                Text(mark + record.name + " ", style=style),
                Text(" " + shape_text(record) + " ", style=style),
                " " + short_dtype(record.dtype) + " ",
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
        if self.virtual_size.height < self.row_count + self.header_height and tries:
            # the table measures its new rows when idle; scrolling before that is clamped to 0
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
