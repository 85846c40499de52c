"""A lab run's comparison table, shared by ``kqv lab run`` and the Lab screen."""

from __future__ import annotations

from rich.table import Table

from engine.lab import METRICS
from engine.lab.experiments import format_metric


def result_table(result, with_time: bool = False) -> Table:
    """One row per variant, one column per measured figure (and the training time)."""
    exp = result.experiment
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("variant", style="bold", no_wrap=True)
    for key in exp.columns:
        table.add_column(METRICS[key][0], justify="right")
    if with_time:
        table.add_column("time", justify="right", style="dim")
    for v in result.variants:
        cells = [format_metric(k, v.metrics.get(k)) for k in exp.columns]
        if v.diverged:
            cells = ["[red]diverged[/]"] + cells[1:]
        if with_time:
            cells.append("cached" if v.cached else f"{v.seconds:.1f}s")
        table.add_row(v.label, *cells)
    return table
