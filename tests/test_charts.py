"""The terminal line charts of the training commands and the lab (kqv_cli/charts.py)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from kqv_cli.charts import PLAIN_MARKERS, SERIES_COLOURS, print_line_chart

SERIES = [("baseline", [0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0]), ("variant", [0, 1, 2, 3], [4.0, 3.0, 2.0, 1.0])]


def _chart(console: Console) -> str:
    print_line_chart(console, SERIES, "loss", "iteration", height=10)
    return console.file.getvalue()


def test_without_colour_each_series_has_its_own_marker():
    # issue 24: `kqv lab run learning-rate | cat` drew every series in the same braille dots
    text = _chart(Console(file=io.StringIO(), width=60, no_color=True))
    first, second = PLAIN_MARKERS[:2]
    *plot, caption = text.rstrip("\n").splitlines()
    assert caption == f"{first} baseline   {second} variant"  # the legend names each
    plot = "\n".join(plot)
    assert plot.count(first) > 5 and plot.count(second) > 5  # and both lines are drawn with them


def test_with_colour_the_lines_stay_braille():
    text = _chart(Console(file=io.StringIO(), width=60, force_terminal=True, color_system="truecolor"))
    assert any("\u2800" <= ch <= "\u28ff" for ch in text)
    assert f"{PLAIN_MARKERS[1]} variant" not in text


def test_the_legend_is_a_line_under_the_plot_never_over_the_data():
    # issue 24: plotext draws its legend inside the plot, over the top-left corner where a loss
    # curve starts; the legend is a caption line of its own, in each series' colour
    for console in (Console(file=io.StringIO(), width=60, no_color=True),
                    Console(file=io.StringIO(), width=60, force_terminal=True, color_system="truecolor")):
        lines = Text.from_ansi(_chart(console)).plain.rstrip("\n").splitlines()
        assert lines[-2].strip() == "iteration"  # the x label, then the legend
        assert "baseline" in lines[-1] and "variant" in lines[-1]
        assert not any("baseline" in line or "variant" in line for line in lines[:-1])
    coloured = _chart(Console(file=io.StringIO(), width=60, force_terminal=True, color_system="truecolor"))
    legend_line = coloured.rstrip("\n").splitlines()[-1]
    for colour in SERIES_COLOURS[:2]:  # the legend's colour is the line's colour
        code = "38;2;{};{};{}m".format(*colour)
        assert code in legend_line and code in coloured.split(legend_line)[0]
