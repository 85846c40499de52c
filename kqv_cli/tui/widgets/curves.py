"""``CurvesPlot``: named curves that grow while a model trains, drawn by textual-plotext.

Points arrive far faster than a terminal needs redrawing (hundreds per second from a training
worker), so :meth:`add` only stores them and marks the plot stale; a timer redraws at most
every ``interval`` seconds. That keeps the event loop free for key presses.

Given the run's whole budget (``x_max``), the x axis spans it from the start, with whole-number
ticks: the curve grows across a fixed frame instead of the frame stretching under it (1, 156,
...) with ticks such as 125.8.

The legend is a caption line under the plot, each label beside a sample of its line in its
colour, never plotext's own legend box, drawn inside the plot over the data.
"""

from __future__ import annotations

import math

from textual.content import Content
from textual_plotext import PlotextPlot

from kqv_cli.charts import legend, series_colour


def whole_ticks(x_max: float, most: int = 6) -> list[int]:
    """At most ``most`` round whole-number ticks from 0 to ``x_max``: steps of 1, 2 or 5 times a
    power of ten (0, 100, 200, ... for 500 iterations; 0, 1, 2, 3 for 3 epochs)."""
    top = max(1, math.ceil(x_max))
    for power in range(0, 12):
        for unit in (1, 2, 5):
            step = unit * 10**power
            if top // step + 1 <= most:
                return list(range(0, top + 1, step))
    return [0, top]


class CurvesPlot(PlotextPlot):
    def __init__(self, title: str = "", xlabel: str = "", interval: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.title, self.xlabel, self.interval = title, xlabel, interval
        self.curves: dict[str, tuple[list[float], list[float]]] = {}
        self.x_max: float | None = None  # the run's budget: the x axis's fixed right end
        self._stale = True

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(self.interval, self._redraw_if_stale)
        self._redraw_if_stale()

    def reset(self, title: str | None = None, xlabel: str | None = None, labels=(),
              x_max: float | None = None) -> None:
        """Forget every curve (keeping the order of ``labels`` for the legend); ``x_max`` is the
        whole budget the x axis spans (None: the axis follows the points)."""
        self.title = self.title if title is None else title
        self.xlabel = self.xlabel if xlabel is None else xlabel
        self.curves = {label: ([], []) for label in labels}
        self.span(x_max)

    def retitle(self, title: str) -> None:
        self.title = title
        self._stale = True

    def span(self, x_max: float | None) -> None:
        """Fix the x axis to 0..``x_max`` (the run's budget, once known)."""
        self.x_max = x_max
        self._stale = True

    def fit(self) -> None:
        """Shrink the x axis to the points drawn when they stop short of the budget (a cancelled
        run): the curve then fills the frame instead of a sliver at its left edge."""
        xs = [x for points, _ in self.curves.values() for x in points]
        if xs and self.x_max and max(xs) < self.x_max:
            self.span(max(xs))

    def add(self, label: str, x: float, y: float) -> None:
        xs, ys = self.curves.setdefault(label, ([], []))
        xs.append(x)
        ys.append(y)
        self._stale = True

    def points(self, label: str) -> int:
        return len(self.curves.get(label, ((), ()))[0])

    def _redraw_if_stale(self) -> None:
        if not self._stale:
            return
        self._stale = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self.xlabel)
        # no label given to plotext, whose legend would sit inside the plot, over the curves'
        # start: the legend is the caption under the plot (the bottom border's subtitle)
        for i, (xs, ys) in enumerate(self.curves.values()):
            if xs:
                plt.plot(xs, ys, marker="braille", color=series_colour(i))
        self.border_subtitle = Content.from_rich_text(legend(list(self.curves)))
        if self.x_max:
            ticks = [t for t in whole_ticks(self.x_max) if t <= self.x_max]  # 2.4 epochs: 0, 1, 2
            plt.xlim(0, self.x_max)
            if len(ticks) > 1:  # under one whole unit (0.4 epochs), plotext's own ticks say more
                plt.xticks(ticks, [f"{t:,}" for t in ticks])
        self.refresh()
