"""A lesson step as plain text: what ``kqv lessons show`` prints, the lesson screen without colour.

The same parts the app shows, top to bottom: the step's title and where it is in the lesson,
its explanation (Markdown rendered as rich renders it in the app, its ``{expr}`` filled in for
the run's dims), the notes the run measured, the title of the step's own figure, the
variables table (``●`` marks what this step created or changed), and the values of the variable
the step selects, written as the values pane writes them. Plain text reads in any
terminal, pipes to a pager or a screen reader, and lets a test hold a sentence a learner reads.
"""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from kqv_cli.variable_rows import shape_text, short_dtype, value_range

MAX_ROWS = 16  # rows of a matrix printed as numbers: a step reads on a page, not 784 lines of pixels
MAX_VALUES_WIDTH = 160  # piped text is not wrapped, but 784 columns of numbers are not read either
FIGURE_KINDS = {"heatmap": "heatmap", "series": "chart", "side_by_side": "two traces side by side"}


def render_markdown(markdown: str, width: int) -> str:
    """The Markdown as the explanation pane draws it, without colour or styles."""
    from rich.markdown import Markdown

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False,
                      highlight=False, emoji=False)
    console.print(Markdown(markdown.strip(), code_theme="monokai", hyperlinks=False))
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def figure_line(extra: dict) -> str | None:
    """``figure (f in the app): heatmap, att[0, 0]: batch 0, head 0``, or None without a figure."""
    if "attends" in extra:
        return f"figure (f in the app): the row of {extra['attends'][0]!r} in each head"
    for key, kind in FIGURE_KINDS.items():
        if key in extra:
            title = extra[key][0]
            title = title if isinstance(title, str) else f"{title[0]} | {extra[key][1][0]}"
            return f"figure (f in the app): {kind}, {title}"
    return None


def variables_table(view) -> list[str]:
    """The variables pane as lines: mark, name, shape, dtype, min, mean, max."""
    rows = [("", "name", "shape", "dtype", "min", "mean", "max")]
    for r in view.records:
        rows.append(("●" if r.name in view.changed else " ", r.name, shape_text(r),
                     short_dtype(r.dtype), *value_range(r.value)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths[:4], strict=True)]
        cells += [c.rjust(w) for c, w in zip(row[4:], widths[4:], strict=True)]
        lines.append(" ".join(cells).rstrip())
    return lines


def values_lines(view, width: int) -> list[str]:
    """The values pane for the variable the step selects first: its first matrix as numbers,
    drawn by the app's own :func:`~kqv_cli.tui.widgets.figures.array_view` (one number format
    per matrix, tokens naming an attention matrix's rows), or a line saying it is too wide."""
    from engine.trace import format_shape, format_symbolic
    from kqv_cli.tui.widgets.figures import array_view, shows_numbers

    if view.select is None or not any(r.name == view.select for r in view.records):
        return []
    record = view.record(view.select)
    value = np.asarray(record.value)
    head = f"values of {record.name} (as the app's values pane shows it):"
    if not np.issubdtype(value.dtype, np.number) or np.iscomplexobj(value):
        return []
    if value.ndim and not shows_numbers(value, width):
        return [f"values of {record.name}: {format_shape(value.shape)} is too wide for numbers in {width} "
                "columns (the app draws them as colour blocks)"]
    symbolic = format_symbolic(record.symbolic) if record.symbolic else ""
    text = array_view(value, symbolic, width, 10**6, axes=tuple(record.symbolic), tokens=view.tokens,
                      source_tokens=view.source_tokens, max_rows=MAX_ROWS).plain
    return [head] + ["  " + line for line in text.splitlines()]


def step_as_text(lesson, view, width: int = 100) -> str:
    """One step of ``lesson`` (its :class:`~lessons.session.StepView`) as the app shows it."""
    n = len(lesson.steps)
    dims = " ".join(f"{k}={v}" for k, v in view.dims.items())
    lines = [f"{lesson.id} {view.index + 1}/{n}: {view.step.title}  (step id: {view.step.id})",
             f"dims: {dims}", "", render_markdown(view.markdown, width)]
    if view.notes:
        lines.append("")
        lines += [f"note: {note}" for note in view.notes]
    figure = figure_line(view.extra)
    if figure:
        lines += ["", figure]
    for problem in view.problems:
        lines.append(f"text and engine disagree: {problem}")
    lines += ["", "variables (● = new in this step):"] + ["  " + line for line in variables_table(view)]
    values = values_lines(view, min(width, MAX_VALUES_WIDTH) - 2)
    if values:
        lines += [""] + values
    return "\n".join(lines) + "\n"
