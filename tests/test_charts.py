"""The terminal line charts of the training commands and the lab (kqv_cli/charts.py)."""

from __future__ import annotations

import io

from rich.console import Console

from kqv_cli.charts import PLAIN_MARKERS, print_line_chart

SERIES = [("baseline", [0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0]), ("variant", [0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0])]


def _chart(console: Console) -> str:
    print_line_chart(console, SERIES, "loss", "iteration", height=10)
    return console.file.getvalue()


def test_without_colour_each_series_has_its_own_marker():
    # issue 24: `kqv lab run learning-rate | cat` drew every series in the same braille dots
    text = _chart(Console(file=io.StringIO(), width=60, no_color=True))
    first, second = PLAIN_MARKERS[:2]
    assert f"{first} baseline" in text and f"{second} variant" in text  # the legend names each
    plot = text.split("variant", 1)[1]
    assert plot.count(first) > 5 and plot.count(second) > 5  # and both lines are drawn with them


def test_with_colour_the_lines_stay_braille():
    text = _chart(Console(file=io.StringIO(), width=60, force_terminal=True, color_system="truecolor"))
    assert any("\u2800" <= ch <= "\u28ff" for ch in text)
    assert f"{PLAIN_MARKERS[1]} variant" not in text
