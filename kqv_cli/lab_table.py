"""A lab run's comparison table, shared by ``kqv lab run`` and the Lab screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from kqv_cli.lab import METRICS
from kqv_cli.lab.experiments import format_metric

DIVERGED = Text("diverged", style="red")  # Text, not markup: kqv's consoles print strings as they are


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
            cells = [DIVERGED] + cells[1:]
        if with_time:
            cells.append("cached" if v.cached else f"{v.seconds:.1f}s")
        table.add_row(v.label, *cells)
    return table


def metric_table(result) -> Table:
    """The same figures turned a quarter: one row per measured figure, one column per variant.

    The Lab screen's pane is narrow (about 50 columns at 80×24): figure names as row labels are
    never cut ("gene…", "ms/it…"), and two or three variants fit side by side."""
    exp = result.experiment
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("", style="bold", no_wrap=True)
    for v in result.variants:
        table.add_column(v.label, justify="right", no_wrap=True)
    for i, key in enumerate(exp.columns):  # a diverged variant says so in its first figure, as above
        cells = (DIVERGED if v.diverged and i == 0 else format_metric(key, v.metrics.get(key))
                 for v in result.variants)
        table.add_row(METRICS[key][0], *cells)
    return table

