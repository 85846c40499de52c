"""``CurvesPlot``: named curves that grow while a model trains, drawn by textual-plotext.

Points arrive far faster than a terminal needs redrawing (hundreds per second from a training
worker), so :meth:`add` only stores them and marks the plot stale; a timer redraws at most
every ``interval`` seconds. That keeps the event loop free for key presses.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot


class CurvesPlot(PlotextPlot):
    DEFAULT_CSS = """
    CurvesPlot {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, title: str = "", xlabel: str = "", interval: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.title, self.xlabel, self.interval = title, xlabel, interval
        self.curves: dict[str, tuple[list[float], list[float]]] = {}
        self._stale = True

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(self.interval, self._redraw_if_stale)
        self._redraw_if_stale()

    def reset(self, title: str | None = None, xlabel: str | None = None, labels=()) -> None:
        """Forget every curve (keeping the order of ``labels`` for the legend)."""
        self.title = self.title if title is None else title
        self.xlabel = self.xlabel if xlabel is None else xlabel
        self.curves = {label: ([], []) for label in labels}
        self._stale = True

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
        for label, (xs, ys) in self.curves.items():
            if xs:
                plt.plot(xs, ys, label=label, marker="braille")
        self.refresh()
