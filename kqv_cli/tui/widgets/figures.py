"""Text renderings of arrays and of the special views a lesson step may add (``StepView.extra``).

Pure functions from data to rich renderables, so the value pane stays a thin widget:

* :func:`numbers` and :func:`heatmap` for any array (the selected variable, or ``"heatmap"``);
* :func:`series` for ``"series": (title, [(x, y), ...], x label, y label)``;
* :func:`attends` for ``"attends": (query token, [tokens], weights (nh, T))``;
* :func:`side_by_side` for ``"side_by_side": ((title, [Record]), (title, [Record]))``.

Entries that are not finite (the ``-inf`` of a causal mask) are grey in both views, and named
in the legend, so they are never mistaken for a value.
"""

from __future__ import annotations

import math

import numpy as np
from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text

from engine.trace import format_shape, format_symbolic
from kqv_cli.matrix_numbers import CELL, MatrixFormat, matrix_format

NOT_FINITE = Style(color="grey50")
NOT_FINITE_COLOUR = Color.from_rgb(70, 70, 70)


def first_matrix(value: np.ndarray, k: int = 0) -> tuple[np.ndarray, tuple[int, ...]]:
    """The ``k``-th matrix of ``value`` over its leading axes, and the leading indices that picked it.

    ``(B, nh, T, T)`` with k = 5 and nh = 4 gives ``value[1, 1]`` and ``(1, 1)``; a 0-D, 1-D or
    2-D array is its own (only) matrix, with no indices.
    """
    if value.ndim == 0:
        return value.reshape(1, 1), ()
    if value.ndim == 1:
        return value.reshape(1, -1), ()
    if value.ndim == 2:
        return value, ()
    lead = value.shape[:-2]
    at = tuple(int(i) for i in np.unravel_index(k % int(np.prod(lead)), lead))
    return value[at], at


AXIS_WORDS = {"B": "batch", "nh": "head", "n_head": "head", "L": "layer"}  # how [ ] names an axis


def which_matrix(at: tuple[int, ...], lead: tuple[int, ...], names: tuple[str, ...] = (),
                 rows_cols: bool = True) -> str:
    """``batch 0/2 · head 1/4 · rows T, cols T · [ ] switch``: which matrix of a 3-D/4-D variable
    is shown, and which of its axes run down the rows and across the columns (a ``(B, T, C)``
    activation: T down, C across; left out with ``rows_cols`` False, when labels say it)."""
    ndim = len(lead) + 2
    names = tuple(names) if len(names) == ndim else ()
    parts = [f"{AXIS_WORDS.get(name, name) if names else f'axis {a}'} {i}/{n}"
             for a, (i, n, name) in enumerate(zip(at, lead, names[:-2] or lead, strict=True))]
    rows, cols = names[-2:] if names else (f"axis {ndim - 2}", f"axis {ndim - 1}")
    return " · ".join(parts + [f"rows {rows}, cols {cols}"] * rows_cols + ["[ ] switch"])


def matrix_count(value: np.ndarray) -> int:
    return int(np.prod(value.shape[:-2])) if value.ndim > 2 else 1


def colour_for(x: float, lo: float, hi: float, diverging: bool) -> Color:
    """Blue (negative) - white (0) - red (positive), or dark blue - yellow when all ≥ 0."""
    if diverging:
        scale = max(abs(lo), abs(hi)) or 1.0
        t = max(-1.0, min(1.0, x / scale))
        if t < 0:
            k = 1 + t  # 0 at the most negative, 1 at zero
            return Color.from_rgb(int(40 + 215 * k), int(90 + 165 * k), 255)
        k = 1 - t
        return Color.from_rgb(255, int(70 + 185 * k), int(50 + 205 * k))
    t = 0.0 if hi <= lo else (x - lo) / (hi - lo)
    return Color.from_rgb(int(30 + 225 * t), int(20 + 200 * t), int(90 - 60 * t))


# numbers drawn at most: GPT-2's wte (50257, 768) as numbers (the v key) would be 38M cells, minutes
# of formatting with the app frozen; 50k cells take well under a second and are more than anyone scrolls
MAX_CELLS = 50_000


def cell_width(matrix: np.ndarray, form: MatrixFormat | None = None) -> int:
    """Characters per cell of ``matrix`` as numbers: its widest number (in the matrix's one
    format) or its widest column index, whichever is wider."""
    form = form or matrix_format(matrix)
    return max(form.width, len(str(matrix.shape[1] - 1)))


def fits_as_numbers(matrix: np.ndarray, width: int) -> bool:
    """Numbers when every column fits side by side (the pane scrolls for more rows): the row
    indices, then each cell after a one-space gap."""
    label_w = len(str(matrix.shape[0] - 1))
    narrowest = len(str(matrix.shape[1] - 1))  # a cell is at least as wide as its column's index
    if label_w + matrix.shape[1] * (narrowest + 1) > width:
        return False  # settled without looking at the numbers (an embedding table: millions)
    return label_w + matrix.shape[1] * (cell_width(matrix) + 1) <= width


def token_names(axes: tuple[str, ...], at: tuple[int, ...], tokens, source_tokens=None
                ) -> tuple[list[str], list[str]] | None:
    """The tokens that name the rows and columns of an attention matrix, or None.

    A variable shaped ``(B, ..., T, T)`` (scores, mask, weights) has one query row and one key
    column per token of its batch row; ``at`` (from :func:`first_matrix`) says which batch row
    is shown. ``tokens`` holds the words of each batch row. An encoder-decoder's run also has
    ``source_tokens``, the source pieces of each batch row, which name the S axes: the
    encoder's ``(B, ..., S, S)`` and cross-attention's ``(B, ..., T, S)``. Other matrices keep
    indices.
    """
    by_axis = {"T": tokens, "S": source_tokens}
    rows, cols = tuple(axes[-2:]) if len(axes) >= 3 else (None, None)
    if axes[:1] != ("B",) or not at or rows not in by_axis or cols not in by_axis:
        return None
    if (rows, cols) == ("S", "T") or not by_axis[rows] or not by_axis[cols]:
        return None
    if at[0] >= len(by_axis[rows]) or at[0] >= len(by_axis[cols]):
        return None
    return ([label_text(t) for t in by_axis[rows][at[0]]], [label_text(t) for t in by_axis[cols][at[0]]])


WHITESPACE = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}  # written as Python writes them


def label_text(token: str) -> str:
    """A token as a row or column label, never blank: GPT-2's leading space dropped (``" the"``
    reads ``the``), a token of spaces only written ``␣`` per space, a newline ``\\n``, a tab ``\\t``,
    any other control character as its ``\\x..`` escape."""
    text = str(token)
    if not text:
        return '""'
    if not text.strip(" "):
        return "␣" * len(text)
    return "".join(WHITESPACE.get(ch, f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch)
                   for ch in text.strip(" "))


def _cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _row_labels(rows: int, names: list[str] | None, room: int) -> list[str]:
    """Row labels in at most ``room`` characters: ``3 out``, else ``out``, else ``o…``; indices
    when there are no names (or not even that fits)."""
    index_w = len(str(rows - 1))
    indices = [f"{i:>{index_w}}" for i in range(rows)]
    if not names or len(names) != rows:
        return indices
    name_w = max(len(n) for n in names)
    if index_w + 1 + name_w <= room:
        return [f"{i} {n:<{name_w}}" for i, n in zip(indices, names, strict=True)]
    if name_w <= room:
        return [f"{n:<{name_w}}" for n in names]
    if room >= 4:  # three letters and an ellipsis still name a word; fewer do not
        return [f"{_cut(n, room):<{room}}" for n in names]
    return indices


def numbers(matrix: np.ndarray, caption: Text | tuple[Text, ...], width: int | None = None,
            row_names: list[str] | None = None,
            col_names: list[str] | None = None, corner: str = "", max_rows: int | None = None) -> Text:
    """Every entry in a fixed-width cell, with column labels above and row labels beside.

    All entries share one format, chosen from the whole matrix (:mod:`kqv_cli.matrix_numbers`);
    a power of ten taken out of them all is written once, before the caption (the first of
    ``caption``'s forms that fits the width beside it).
    Labels are indices, or names (the tokens of an attention matrix) when given. The numbers
    are never cut; then the row names get the room they need (a row without its word cannot be
    read); a column is widened to its name with what is left, else the name is cut with an
    ellipsis; a row label is ``index name`` when there is room.
    """
    every = matrix  # the format is chosen from every entry, before any rows are left out below
    form = matrix_format(every)
    drawn = max(MAX_CELLS // max(matrix.shape[1], 1), 1)
    hidden = max(matrix.shape[0] - min(drawn, max_rows or drawn), 0)
    if hidden:
        matrix = matrix[: matrix.shape[0] - hidden]
        row_names = row_names[: matrix.shape[0]] if row_names else row_names
    rows, cols = matrix.shape
    room = width if width is not None else 10**6
    row_names = row_names if row_names and len(row_names) == rows else None
    col_names = col_names if col_names and len(col_names) == cols else None
    cell = cell_width(matrix, form)
    name_w = max(len(n) for n in row_names) if row_names else 0
    if row_names and min(name_w, 5) > room - cols * (cell + 1) and form.width == CELL:
        # the row words would be lost, or cut to three letters: one character less per number
        # (one decimal less, the largest entry still with two significant digits) leaves them room
        narrow = matrix_format(every, CELL - 1)
        form, cell = narrow, cell_width(matrix, narrow)
    if col_names:
        wide = max(cell, max(len(n) for n in col_names))
        rows_need = name_w or len(str(rows - 1))
        cell = max(cell, min(wide, (room - rows_need) // cols - 1))
    heads = [_cut(n, cell) for n in col_names] if col_names else [str(j) for j in range(cols)]
    labels = _row_labels(rows, row_names, room - cols * (cell + 1))
    label_w = len(labels[0])
    out = Text(no_wrap=True)
    if form.scale:  # first, where a narrow pane cannot cut it off: every number depends on it
        out.append(f"all {form.scale}  ", style="bold")
    captions = caption if isinstance(caption, tuple) else (caption,)  # the first that fits, else the last
    out.append_text(next((c for c in captions if out.cell_len + c.cell_len <= room), captions[-1]))
    top = corner if corner and len(corner) <= label_w else ""
    out.append(f"\n{top:<{label_w}} ", style="dim")
    out.append(" ".join(f"{h:>{cell}}" for h in heads) + "\n", style="dim")
    for label, row in zip(labels, matrix, strict=True):
        out.append(label, style="dim")
        for x in row.tolist():  # a one-space gap before each cell, none after the last
            out.append(f" {form.text(x):>{cell}}", style="" if math.isfinite(x) else NOT_FINITE)
        out.append("\n")
    if hidden:
        out.append(f"… {hidden} more rows not drawn as numbers; v shows them all as colour blocks\n",
                   style="dim")
    out.rstrip()
    return out


LEVELS = 24  # colour steps in a heatmap: few enough that the styles can be made once and reused


def colour_levels(shown: np.ndarray, lo: float, hi: float, diverging: bool) -> np.ndarray:
    """Each entry's colour as a level 0..LEVELS (LEVELS + 1 = not finite), all at once."""
    finite = np.isfinite(shown)
    if diverging:
        scale = max(abs(lo), abs(hi)) or 1.0
        t = (np.clip(np.where(finite, shown, 0.0) / scale, -1, 1) + 1) / 2  # 0..1, zero at 0.5
    else:
        t = np.where(finite, shown - lo, 0.0) / ((hi - lo) or 1.0)
    levels = np.rint(t * LEVELS).astype(int)
    levels[~finite] = LEVELS + 1
    return levels


def level_colours(lo: float, hi: float, diverging: bool) -> list[Color]:
    """The colour of each level, the last one for entries that are not finite."""
    if diverging:
        scale = max(abs(lo), abs(hi)) or 1.0
        values = [scale * (2 * k / LEVELS - 1) for k in range(LEVELS + 1)]
    else:
        values = [lo + (hi - lo) * k / LEVELS for k in range(LEVELS + 1)]
    return [colour_for(v, lo, hi, diverging) for v in values] + [NOT_FINITE_COLOUR]


def evenly(n: int, keep: int) -> np.ndarray:
    """``keep`` of the indices 0..n-1, spread evenly from the first to the last (all when keep >= n)."""
    if keep >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max(keep, 1)).round().astype(int))


MAX_ZOOM = 4  # a small figure is drawn at most 4 x 4 cells per entry: bigger says nothing more
NATURAL_ROWS = 1000  # rows of blocks drawn at most to measure a view's natural height


def heatmap(matrix: np.ndarray, caption: Text | str, width: int, height: int | None,
            keep_aspect: bool = False) -> Text:
    """Colour blocks, two matrix rows per line (``▀``: top row in front, bottom row behind).

    Thinned to fit ``width`` x ``height`` cells, rows and columns picked evenly from first to
    last. ``height=None`` draws the matrix's natural size (one row per half line): what the
    pane would need to show every row. ``keep_aspect`` is for a figure (a digit, a matrix of
    positions): a half-block cell is about as wide as it is tall, so one column per entry
    keeps the picture's proportions, rows and columns are thinned by the same factor, and a
    small figure is enlarged by a whole factor instead; a variable's matrix (784 rows of 10
    columns) is thinned along each axis only as much as that axis needs.

    The legend spans the whole matrix's range (not only the drawn entries) in the cells' own
    colours. Entries that are not finite (``-inf`` from a mask) are dark grey, and the legend
    says so.
    """
    caption = Text(caption, style="dim") if isinstance(caption, str) else caption
    r, c = matrix.shape
    # the range in the matrix's own dtype, without a float64 copy of it: this runs on every
    # redraw (a resize, [ ]), and an embedding table can hold tens of millions of entries
    finite = np.isfinite(matrix)
    all_finite = bool(finite.all())
    values = matrix if all_finite else matrix[finite]
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    diverging = lo < 0
    colours = level_colours(lo, hi, diverging)
    legend = Text()
    ends = matrix_format(np.array([lo, hi]))  # both ends in one format
    legend.append(f"{ends.text(lo)} ")
    for k in np.linspace(0, LEVELS, 6):
        legend.append("█", style=Style(color=colours[int(k)]))
    legend.append(f" {ends.text(hi)}" + (f" {ends.scale}" if ends.scale else ""))
    if not all_finite:
        legend.append("  ")
        legend.append("█", style=Style(color=NOT_FINITE_COLOUR))
        legend.append(" -inf/nan")
    legend.append("  (v: numbers)", style="dim")
    # the legend goes beside the caption when there is room (for the longest thinning note too)
    widest_note = len(f"  ({r} of {r} rows, {c} of {c} cols)")
    caption_lines = 1 if caption.cell_len + widest_note + 2 + legend.cell_len <= width else 2

    # matrix rows that fit; at the natural height no more than a pane could ever show (a GPT-2
    # embedding table has 50,257 rows)
    room = NATURAL_ROWS if height is None else 2 * max(height - caption_lines, 1)
    zoom = 1
    if keep_aspect:
        cell_w = 1
        scale = min(width / c, room / r if height is not None else min(room / r, 1.0))
        if scale >= 1:
            zoom = min(int(scale), MAX_ZOOM)
            rows, cols = np.arange(r), np.arange(c)
        else:
            rows, cols = evenly(r, int(r * scale)), evenly(c, int(c * scale))
    else:
        cell_w = 2 if c * 2 <= width else 1  # wider cells when there is room
        rows = evenly(r, room)
        cols = evenly(c, max(width // cell_w, 1))
    shown = matrix[np.ix_(rows, cols)].astype(np.float64)
    thinned = ([f"{len(rows)} of {r} rows"] if len(rows) < r else []) + (
        [f"{len(cols)} of {c} cols"] if len(cols) < c else [])
    note = f"({', '.join(thinned)})" if thinned else ""
    out = Text(no_wrap=True)
    out.append_text(caption)
    # on two lines the note goes with the caption if it fits there, else before the legend
    if note and (caption_lines == 1 or caption.cell_len + 2 + len(note) <= width):
        out.append(f"  {note}")
        note = ""
    out.append("  " if caption_lines == 1 else "\n")
    if note:
        out.append(f"{note}  ")
    out.append_text(legend)
    out.append("\n")

    levels = colour_levels(shown, lo, hi, diverging)
    if zoom > 1:
        levels = np.repeat(np.repeat(levels, zoom, axis=0), zoom, axis=1)
    if levels.shape[0] % 2:  # an odd last row has nothing behind it
        levels = np.vstack([levels, np.full((1, levels.shape[1]), -1)])
    styles: dict[tuple[int, int], Style] = {}
    block = "▀" * cell_w
    for top, bottom in zip(levels[0::2], levels[1::2], strict=True):
        for pair in zip(top.tolist(), bottom.tolist(), strict=True):
            style = styles.get(pair)
            if style is None:
                back = colours[pair[1]] if pair[1] >= 0 else None
                style = styles[pair] = Style(color=colours[pair[0]], bgcolor=back)
            out.append(block, style=style)
        out.append("\n")
    out.rstrip()
    return out


def array_view(value: np.ndarray, symbolic: str, width: int, height: int | None, labels: str = "",
               k: int = 0, axes: tuple[str, ...] = (), mode: str = "auto", tokens=None,
               names: tuple[list[str] | None, list[str] | None] = (None, None), source_tokens=None,
               max_rows: int | None = None, keep_aspect: bool = False) -> Text:
    """Numbers when the (``k``-th) matrix fits the width, colour blocks otherwise.

    ``height=None``: colour blocks at their natural size, every row (what a pane would need);
    ``keep_aspect``: a figure, thinned or enlarged alike in rows and columns (:func:`heatmap`).

    ``mode`` "numbers" or "blocks" overrides the choice (the v key); numbers wider than the pane
    scroll sideways. ``axes`` are the symbolic names of the dims, to say which matrix is shown.
    ``tokens`` (the words of each batch row) name the query rows and key columns of an
    attention matrix (:func:`token_names`); ``names`` gives row and column names directly.
    ``max_rows``: numbers for at most that many rows, then a line saying how many are left.
    """
    value = np.asarray(value)
    matrix, at = first_matrix(value, k)
    as_numbers = value.ndim > 0 and shows_numbers(value, width, mode)
    by_token = token_names(axes, at, tokens, source_tokens) if as_numbers else None
    captions = []
    which = which_matrix(at, value.shape[:-2], axes, rows_cols=not by_token) if at else ""
    for shape in (format_shape(value.shape) + (f" = {symbolic}" if symbolic else ""),) * 2:
        if captions:  # the same caption in fewer columns, for a narrow pane: (2,4,12,12) = (B,nh,T,T)
            shape = shape.replace(", ", ",")
        caption = Text(shape, style="dim")
        if at:  # rows and columns named here unless the tokens and q↓ k→ name them
            caption.append("  " + which, style="bold")
        if labels:
            caption.append(f"  {labels}", style="dim")
        captions.append(caption)
    caption = captions[0] if captions[0].cell_len <= width else captions[1]
    if value.ndim == 0:
        return Text.assemble(caption, "\n", f"{float(value):.6g}")
    if not np.issubdtype(matrix.dtype, np.number):
        return Text.assemble(caption, "\n", str(matrix))
    if as_numbers:
        row_names, col_names = by_token if by_token else [
            [label_text(n) for n in given] if given else None for given in names]
        corner = "q↓ k→" if by_token else ""
        return numbers(matrix, tuple(captions), width, row_names, col_names, corner, max_rows)
    return heatmap(matrix, caption, width, height, keep_aspect)


def is_ids(value) -> bool:
    """Whole-number arrays (token ids, labels, positions) name things: 50256 is not "more" than
    464, so their colours would mean nothing. They are always drawn as numbers."""
    return np.issubdtype(np.asarray(value).dtype, np.integer)


def shows_numbers(value: np.ndarray, width: int, mode: str = "auto") -> bool:
    """Whether :func:`array_view` draws numbers (True) or colour blocks for this value."""
    if is_ids(value):
        return True
    if mode != "auto":
        return mode == "numbers"
    return fits_as_numbers(first_matrix(np.asarray(value))[0], width)


def series(points, x_label: str, y_label: str, width: int) -> Text:
    """One bar per point: ``x  ████████  y``; the bars share the scale 0..max y."""
    out = Text(no_wrap=True)
    out.append(f"{x_label} → {y_label}\n", style="dim")
    if not points:
        return out
    top = max(float(y) for _, y in points) or 1.0
    label_w = max(len(f"{x}") for x, _ in points)
    bar_w = max(width - label_w - 10, 5)
    for x, y in points:
        n = int(round(bar_w * max(float(y), 0.0) / top))
        out.append(f"{x:>{label_w}} ", style="dim")
        out.append("█" * n, style="#78dce8")
        out.append(f" {float(y):.3g}\n")
    out.rstrip()
    return out


def attends(query: str, tokens, weights) -> Text:
    """How much ``query`` attends to each token: one coloured cell per head, then the mean."""
    weights = np.asarray(weights, dtype=np.float64)  # (nh, T)
    nh = weights.shape[0]
    out = Text(no_wrap=True)
    out.append(f"row of {query!r} in the attention weights, {nh} head(s): "
               f"each row of a head sums to 1\n", style="dim")
    tokens = [label_text(t) for t in tokens]
    token_w = max(len(t) for t in tokens) if tokens else 1
    for j, token in enumerate(tokens):
        out.append(f"{token:>{token_w}} ")
        for h in range(nh):
            w = float(weights[h, j])
            out.append("██", style=Style(color=colour_for(w, 0.0, 1.0, False)))
        mean = float(weights[:, j].mean())
        out.append(f" {mean:5.2f} ", style="dim")
        out.append("▇" * int(round(20 * mean)), style="#ffd866")
        out.append("\n")
    out.rstrip()
    return out


def side_by_side(left, right) -> Table:
    """Two traces next to each other, one variable per row: name and shape (a None: no counterpart)."""
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    (l_title, l_records), (r_title, r_records) = left, right
    table.add_column(l_title)
    table.add_column(r_title)
    for i in range(max(len(l_records), len(r_records))):
        cells = []
        for records in (l_records, r_records):
            if i < len(records) and records[i] is not None:
                r = records[i]
                sym = f" = {format_symbolic(r.symbolic)}" if r.symbolic else ""
                cells.append(f"{r.name} {format_shape(r.shape)}{sym}")
            else:
                cells.append("—")
        table.add_row(*cells)
    return table
