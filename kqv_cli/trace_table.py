"""The trace as a terminal table, for ``kqv trace digits`` and ``kqv trace gpt``."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from engine.trace import Tracer, format_shape, format_symbolic

PHASE_COLOURS = {"forward": "cyan", "backward": "magenta", "update": "yellow", "generate": "green"}


def print_trace(tracer: Tracer, console: Console, values: bool = False) -> None:
    """A heading row per section, then a row per variable: name, shape, symbolic shape,
    formula (and min / mean / max with ``values``), and the engine line that computed it
    when the terminal is wide enough to hold it beside the formula.

    The name's colour is its phase: cyan forward, magenta backward, yellow update, green generate.
    """
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("name", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("symbolic", no_wrap=True)
    table.add_column("formula", ratio=1, min_width=20)
    if values:
        table.add_column("min / mean / max", no_wrap=True)
    with_source = console.width >= 110
    if with_source:
        table.add_column("source", style="dim", no_wrap=True)
    starts = dict(tracer.sections)
    for i, r in enumerate(tracer.records):
        if i in starts:
            table.add_row(f"[bold underline]{escape(starts[i])}[/]")
        row = [f"[bold {PHASE_COLOURS[r.phase]}]{r.name}[/]", format_shape(r.shape),
               format_symbolic(r.symbolic) if r.symbolic else "()",
               escape(r.formula)]  # "wte[idx]", "p[target]": brackets are not markup
        if values:
            v = np.asarray(r.value, dtype=np.float64)
            row.append(f"{v.min():.3g} / {v.mean():.3g} / {v.max():.3g}" if v.size else "-")
        if with_source:
            row.append(r.source.removeprefix("engine/"))
        table.add_row(*row)
    console.print(table)
