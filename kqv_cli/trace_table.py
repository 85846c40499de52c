"""The trace as a terminal table, for ``kqv trace digits`` and ``kqv trace gpt``."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from engine.trace import Tracer, format_shape, format_symbolic

VALUES_COLUMN_WIDTH = 120  # from here min / mean / max get a column of their own
PHASE_COLOURS = {"forward": "cyan", "backward": "magenta", "update": "yellow", "generate": "green"}


def print_trace(tracer: Tracer, console: Console, values: bool = False, fold: bool = False) -> None:
    """A heading row per section, then a row per variable: name, shape, symbolic shape,
    formula (and min / mean / max with ``values``), and the engine line that computed it
    when the terminal is wide enough to hold it beside the formula.

    The name's colour is its phase: cyan forward, magenta backward, yellow update, green generate.
    ``fold`` shows the first transformer block only and one line for the others, which compute
    the same variables with the same shapes (GPT-2 small has 12).
    """
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("symbolic", no_wrap=True)
    table.add_column("formula", ratio=1, min_width=20)
    # a number cut short is a wrong number: under 120 columns the values go on a line of their
    # own under the formula, where they wrap at spaces; wider, a column that may wrap the same way
    values_apart = values and console.width >= VALUES_COLUMN_WIDTH
    if values_apart:
        table.add_column("min / mean / max", min_width=12)
    with_source = console.width >= 110
    if with_source:
        table.add_column("source", style="dim", no_wrap=True)
    starts = dict(tracer.sections)
    n_blocks = sum(title.startswith("block ") for _, title in tracer.sections)
    folding = False
    for i, r in enumerate(tracer.records):
        if i in starts:
            folding = fold and starts[i].startswith("block ") and starts[i] != "block 0"
            if not folding:
                table.add_row(Text(starts[i], style="bold underline"))
            elif starts[i] == "block 1":
                others, names = ((f"blocks 1–{n_blocks - 1}", f"h1.… to h{n_blocks - 1}.…") if n_blocks > 2
                                 else ("block 1", "h1.…"))
                table.add_row(Text(others, style="bold underline"), "", "",
                              f"the same variables and shapes as block 0, named {names}")
        if folding:
            continue
        formula = Text(r.formula)  # "wte[idx]", "p[target]": text, never markup
        row = [Text(r.name, style=f"bold {PHASE_COLOURS[r.phase]}"), format_shape(r.shape),
               format_symbolic(r.symbolic) if r.symbolic else "()", formula]
        if values:
            v = np.asarray(r.value, dtype=np.float64)
            low, mean, high = (f"{f(v):.3g}" for f in (np.min, np.mean, np.max)) if v.size else "---"
            if values_apart:
                row.append(f"{low} / {mean} / {high}")
            else:
                row[3] = Text.assemble(formula, "\n", (f"min {low} · mean {mean} · max {high}", "dim"))
        if with_source:
            row.append(r.source.removeprefix("engine/"))
        table.add_row(*row)
    console.print(table)
