"""The loss curves of the lab and the Train screen (issue 24, item 12): the legend is a caption
line under the plot in each curve's colour, never plotext's box inside the plot over the data."""

from __future__ import annotations

import re

from pilot import pilot_test
from textual.app import App

from kqv_cli.charts import SERIES_COLOURS
from kqv_cli.tui.widgets.curves import CurvesPlot


class CurvesApp(App):
    CSS_PATH = "../kqv_cli/tui/kqv.tcss"

    def compose(self):
        yield CurvesPlot(title="loss", xlabel="iteration", interval=0.01)


@pilot_test
async def test_the_legend_is_a_caption_under_the_plot_in_each_curves_colour():
    app = CurvesApp()
    async with app.run_test(size=(80, 24)) as pilot:
        plot = app.query_one(CurvesPlot)
        plot.reset(labels=["train loss", "val loss"], x_max=100)
        for x in range(0, 101, 10):  # both curves start high at the top left, where a legend box sits
            plot.add("train loss", x, 4.0 - x / 40)
            plot.add("val loss", x, 4.1 - x / 45)
        plot._redraw_if_stale()
        await pilot.pause()
        coloured = plot.plt.build()
        assert all("38;2;{};{};{}m".format(*rgb) in coloured for rgb in SERIES_COLOURS[:2])
        drawn = re.sub(r"\x1b\[[0-9;]*m", "", coloured)
        assert "train loss" not in drawn and "val loss" not in drawn  # nothing written over the curves
        caption = plot.border_subtitle  # as markup: each sample in its curve's colour
        for rgb, label in zip(SERIES_COLOURS, ["train loss", "val loss"], strict=False):
            assert f"[rgb({rgb[0]},{rgb[1]},{rgb[2]})]⠒⠒[/rgb({rgb[0]},{rgb[1]},{rgb[2]})] {label}" in caption
        lines = [strip.text for strip in app.screen._compositor.render_strips()]
        legend_row = next(i for i, line in enumerate(lines) if "train loss" in line)
        axis_row = next(i for i, line in enumerate(lines) if "iteration" in line)
        assert legend_row > axis_row  # under the plot and its x label
