"""Terminal line charts (plotext) for the training commands and the lab."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

PLAIN_MARKERS = ("•", "+", "x", "o", "*", "#")  # one per series when there is no colour
# one colour per series, given to plotext as RGB and to the legend as the same hex: plotext's
# own choice of colours is not known outside it, and its legend is drawn inside the plot, over
# the top-left corner of the data (where a loss curve starts)
SERIES_COLOURS = ((120, 220, 232), (255, 216, 102), (255, 97, 136), (169, 220, 118), (171, 157, 242),
                  (252, 152, 103))
LINE_SAMPLE = "⠒⠒"  # a braille line, as the series are drawn with colour


def series_colour(i: int) -> tuple[int, int, int]:
    return SERIES_COLOURS[i % len(SERIES_COLOURS)]


def legend(labels: Sequence[str], plain: bool = False) -> Text:
    """One caption line naming each series by its colour (or, ``plain``, by its marker):
    ``⠒⠒ train   ⠒⠒ val``, drawn outside the plot so it never covers a curve."""
    out = Text()
    for i, label in enumerate(labels):
        if i:
            out.append("   ")
        if plain:
            out.append(f"{PLAIN_MARKERS[i % len(PLAIN_MARKERS)]} {label}")
        else:
            out.append(LINE_SAMPLE, style="#{:02x}{:02x}{:02x}".format(*series_colour(i)))
            out.append(f" {label}")
    return out


def print_line_chart(console: Console, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                     title: str, xlabel: str, height: int = 16) -> None:
    """One line per ``(label, xs, ys)``, braille-drawn, at most 100 columns wide, and a legend
    line under the plot (never inside it, over the data).

    Empty series are left out.
    """
    import plotext as plt  # imported here: only the commands that end with a chart pay for it

    plt.clear_figure()
    plt.theme("clear")
    plt.plot_size(min(console.width, 100), height)
    # without colour (piped, NO_COLOR) braille lines all look alike: each series gets its own
    # character, which the legend repeats beside its label
    plain = console.no_color or console.color_system is None
    drawn = [(label, xs, ys) for label, xs, ys in series if len(xs)]
    for i, (_, xs, ys) in enumerate(drawn):
        marker = PLAIN_MARKERS[i % len(PLAIN_MARKERS)] if plain and len(drawn) > 1 else "braille"
        plt.plot(list(xs), list(ys), marker=marker, color=series_colour(i))  # no label: no legend inside
    plt.title(title)
    plt.xlabel(xlabel)
    console.print(Text.from_ansi(plt.build().rstrip("\n")))  # rich drops the colour codes when piped
    if drawn:
        console.print(legend([label for label, _, _ in drawn], plain and len(drawn) > 1))
