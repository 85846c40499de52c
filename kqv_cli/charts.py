"""Terminal line charts (plotext) for the training commands and the lab."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.text import Text


def print_line_chart(console: Console, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                     title: str, xlabel: str, height: int = 16) -> None:
    """One line per ``(label, xs, ys)``, braille-drawn, at most 100 columns wide.

    Empty series are left out.
    """
    import plotext as plt  # imported here: only the commands that end with a chart pay for it

    plt.clear_figure()
    plt.theme("clear")
    plt.plot_size(min(console.width, 100), height)
    for label, xs, ys in series:
        if len(xs):
            plt.plot(list(xs), list(ys), label=label, marker="braille")
    plt.title(title)
    plt.xlabel(xlabel)
    console.print(Text.from_ansi(plt.build()))  # rich drops the colour codes when piped
