"""The variables table of a practice check, drawn once for both places that show it:
``kqv practice check`` and the app's Practice screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from kqv_cli.practice.grader import Report, shape_text


def report_table(report: Report, title: str) -> Table:
    """One row per variable in the order the engine made them: the engine's shape, yours, ✓ or ✗,
    and the largest relative error. Cells are plain ``Text``, so a name is never read as markup."""
    table = Table(title=title, title_justify="left", expand=False)
    for col in ("variable", "engine's shape", "yours", "", "max rel. error"):
        table.add_column(col, justify="right" if col == "max rel. error" else "left")
    for row in report.rows:
        table.add_row(Text(row.name), Text(shape_text(row)),
                      Text("–" if row.yours is None else str(row.yours)),
                      Text("✓", "green") if row.ok else Text("✗", "red"),
                      "" if row.error is None else f"{row.error:.1e}")
    return table
