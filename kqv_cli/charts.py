"""Terminal line charts (plotext) for the training commands and the lab."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

PLAIN_MARKERS = ("•", "+", "x", "o", "*", "#")  # one per series when there is no colour


def print_line_chart(console: Console, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                     title: str, xlabel: str, height: int = 16) -> None:
    """One line per ``(label, xs, ys)``, braille-drawn, at most 100 columns wide.

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
    for i, (label, xs, ys) in enumerate(drawn):
        marker = PLAIN_MARKERS[i % len(PLAIN_MARKERS)] if plain and len(drawn) > 1 else "braille"
        plt.plot(list(xs), list(ys), label=label, marker=marker)
    plt.title(title)
    plt.xlabel(xlabel)
    console.print(Text.from_ansi(plt.build()))  # rich drops the colour codes when piped
