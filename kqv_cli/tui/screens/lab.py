"""The Lab screen: pick a what-if experiment, watch its variants' curves grow, read the verdict.

The experiment runs in a worker thread (:func:`kqv_cli.lab.run_experiment`); its events come
back as small messages, the curves live in a :class:`CurvesPlot`, and when it ends the
comparison table, the samples and the verdict (written from the run's numbers) appear below.
Results are cached like ``kqv lab run``'s, so a finished experiment reopens at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from kqv_cli.lab import EXPERIMENTS, Point, VariantDone, cache, get_experiment, run_experiment
from kqv_cli.lab.experiments import sample_line
from kqv_cli.lab_table import metric_table
from kqv_cli.services import datasets
from kqv_cli.tui.screens.base import KqvScreen
from kqv_cli.tui.widgets.curves import CurvesPlot
from kqv_cli.tui.workers import yield_to_the_interface

BAR = 8  # cells in a variant's progress bar: a line fits the 48 columns the pane has at 80×24


def progress_line(label: str, width: int, x: float | None, budget: int, figure: str,
                  y: float | None, state: str = "") -> Text:
    """One variant's line while an experiment runs: its bar, how far it got (of the budget the
    head line names), its latest figure, and ✓ or "cached" once it is done."""
    line = Text(f"{label:<{width}} ", style="bold")
    if x is None:
        return line.append(state or "waiting", style="dim")
    filled = min(BAR, round(BAR * x / budget)) if budget else BAR
    line.append("█" * filled, style="green").append("░" * (BAR - filled), style="dim")
    line.append(f" {min(x, budget):,.0f}/{budget:,} · {figure} {y:.3g}")
    return line.append(f" {state}" if state else "", style="green")


def default_data(exp):
    """Tiny Shakespeare for a GPT (downloaded if need be); MNIST if on this machine, else synthetic
    digits (the run says which)."""
    if exp.kind == "gpt":
        return datasets.text(None, exp.block_size, offline=datasets.APP_OFFLINE)
    if exp.kind == "translation":
        from kqv_cli.lab.pairs import builtin_lab_pairs, lab_pairs

        return builtin_lab_pairs() if exp.pairs == "builtin" else lab_pairs()
    return datasets.digits_here()


def data_note(exp) -> str:
    """A line under the question when the lab's default data would be a stand-in, and the fix."""
    here = cache.data_here(exp)
    if here == "synthetic digits":
        return "on synthetic digits: no MNIST here (D on the home screen fetches it)"
    if here == "text:None":
        return "Tiny Shakespeare is not here: the run downloads it (1.1 MB) first"
    if here == "built-in pairs" and exp.pairs != "builtin":
        return "on the built-in pairs: no English-French pairs here (D on the home screen fetches them)"
    return ""


def list_prompt(exp, cached: bool) -> Text:
    """An experiment in the list: its name (and "cached" when a run reopens at once), its variants."""
    return Text.assemble((exp.name, "bold"), "\n", ("cached · " if cached else "", "green"),
                         (" · ".join(v.label for v in exp.variants), "dim"))


class LabScreen(KqvScreen):
    SUB_TITLE = "what-if lab"

    HELP_TITLE = "Lab"
    WIDGET_KEYS = [("↑ ↓", "choose an experiment (\"cached\": its run reopens at once)")]
    HELP_NOTE = ("Each experiment trains its variants on the same data, seed and budget, then shows "
                 "a table, the curves and a verdict written from the numbers it measured.")
    BINDINGS = [
        # priority: heard before the list's own enter, so the footer can name it
        Binding("enter", "run", "Run", key_display="enter", priority=True,
                tooltip="run the highlighted experiment (a cached one reopens at once)"),
        Binding("f", "fresh", "Rerun fresh",
                tooltip="run the highlighted experiment again, ignoring the cache"),
        Binding("escape", "back", "Stop / back", tooltip="stop the running experiment; when none runs, back"),
    ]

    @dataclass
    class Progress(Message):
        event: object

    @dataclass
    class Finished(Message):
        result: object
        error: str | None = None

    def __init__(self, budget: int | None = None, data_for=default_data, data_key_for=None):
        """``budget`` overrides every experiment's (tests); ``data_for(exp)`` gives its data, and
        ``data_key_for(exp)`` names it for the cache's index (default: :func:`cache.data_here`
        with the default data, else nothing is noted and no experiment is marked cached)."""
        super().__init__()
        self.budget, self.data_for = budget, data_for
        if data_key_for is None and data_for is default_data:
            data_key_for = cache.data_here
        self.data_key_for = data_key_for
        self.loaded: dict[tuple, object] = {}  # data sets by (kind, block_size), read once per screen
        self.stop_event = threading.Event()
        self.running: str | None = None
        self.result = None
        self.results: dict[str, object] = {}  # finished runs of this visit, by experiment name
        # while a run goes: each variant's latest point (x, y) and state ("done", "from the cache")
        self.progress: dict[str, tuple[float | None, float | None, str]] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="")
        with Horizontal():
            yield OptionList(*[Option(list_prompt(e, False), id=e.name) for e in EXPERIMENTS], id="lab-list")
            with Vertical(id="lab-main"):
                yield Static(id="lab-question")
                yield Static("enter: run the highlighted experiment (one marked cached reopens at once)",
                             id="lab-status")
                yield CurvesPlot(id="lab-plot")
                with VerticalScroll(id="lab-report"):  # the verdict first: the first thing read
                    yield Static(id="lab-verdict")
                    yield Static(id="lab-table")
                    yield Static(id="lab-samples")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.mark_cached()
        self.show_question(EXPERIMENTS[0].name)
        self.query_one("#lab-report").display = False  # shown with a result

    def cache_key(self, exp) -> str | None:
        """The cache index's key for a run of ``exp`` from this screen, or None when not noted."""
        if self.data_key_for is None:
            return None
        return cache.run_key(exp.name, self.budget or exp.budget, 0, self.data_key_for(exp))

    def mark_cached(self) -> None:
        """Mark in the list each experiment whose run on this data would come from the cache (a few
        small files read: no data is loaded)."""
        menu = self.query_one(OptionList)
        for exp in EXPERIMENTS:
            key = self.cache_key(exp)
            menu.replace_option_prompt(exp.name, list_prompt(exp, key is not None and cache.is_cached(key)))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.running is None:
            name = event.option.id
            self.show_question(name)
            shown = self.result.experiment.name if self.result is not None else None
            if shown == name:
                return
            # another experiment's chart and verdict would mislead: this one's own result, or nothing
            if name in self.results:
                self.show_result(self.results[name], again=True)
            else:
                self.clear_result()

    def clear_result(self) -> None:
        self.result = None
        self.query_one(CurvesPlot).reset("", "", [])
        for part in ("#lab-table", "#lab-verdict", "#lab-samples"):
            self.query_one(part, Static).update("")
        self.query_one("#lab-report").display = False  # no empty lines under the chart
        self.set_status("enter: run the highlighted experiment (one marked cached reopens at once)")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.start(event.option.id)

    def show_question(self, name: str) -> None:
        exp = get_experiment(name)
        note = data_note(exp) if self.data_for is default_data else ""
        self.query_one("#lab-question", Static).update(Text.assemble(
            (exp.name, "bold"), "  ", exp.question, "\n",
            (" · ".join(f"{v.label}: {v.note}" if v.note else v.label for v in exp.variants), "dim"),
            ("\n" + note if note else "", "yellow")))

    # -- running -----------------------------------------------------------------------------

    def start(self, name: str, fresh: bool = False) -> None:
        if self.running is not None:
            self.notify(f"{self.running} is still running; escape stops it", severity="warning")
            return
        exp = get_experiment(name)
        self.running, self.result = name, None
        self.stop_event.clear()
        self.show_question(name)
        self.clear_result()
        self.reset_plot(exp, self.budget or exp.budget)
        self.progress = {v.label: (None, None, "") for v in exp.variants}
        self.show_progress()
        self.run_lab(name, fresh)

    def show_progress(self) -> None:
        """The status while running: a head line, then one progress line per variant."""
        exp = get_experiment(self.running)
        budget = self.budget or exp.budget
        figure = "accuracy" if exp.kind == "digits" else "loss"
        width = max(len(label) for label in self.progress)
        lines = [Text(f"{exp.name} · {budget:,} {exp.unit} each · esc stops", style="bold")]
        lines += [progress_line(label, width, x, budget, figure, y, state)
                  for label, (x, y, state) in self.progress.items()]
        self.query_one("#lab-status", Static).update(Text("\n").join(lines))

    @work(thread=True, group="lab", exclusive=True)
    def run_lab(self, name: str, fresh: bool) -> None:
        exp = get_experiment(name)
        worker = get_current_worker()
        yield_to_the_interface()
        try:
            key = (exp.kind, exp.block_size, exp.pairs)
            if key not in self.loaded:  # a failed load is not kept: the next run tries again
                self.loaded[key] = self.data_for(exp)
            data_key = self.data_key_for(exp) if self.data_key_for is not None else None
            result = run_experiment(exp, self.loaded[key], budget=self.budget, fresh=fresh,
                                    on_event=lambda e: self.post_message(self.Progress(e)),
                                    should_stop=lambda: self.stop_event.is_set() or worker.is_cancelled,
                                    data_key=data_key)
        except Exception as exc:  # noqa: BLE001  (shown on screen: a worker must not die silently)
            self.post_message(self.Finished(None, str(exc)))
            return
        self.post_message(self.Finished(result))

    def on_lab_screen_progress(self, message: Progress) -> None:
        event = message.event
        if self.running is None:  # a last event after the run was stopped
            return
        if isinstance(event, Point):
            self.query_one(CurvesPlot).add(event.label, event.x, event.y)
            self.progress[event.label] = (event.x, event.y, "")
        elif isinstance(event, VariantDone):
            r = event.result
            x, y, _ = self.progress.get(r.label, (None, None, ""))
            self.progress[r.label] = (x, y, "cached" if r.cached else "✓")
        self.show_progress()

    def on_lab_screen_finished(self, message: Finished) -> None:
        name, self.running = self.running, None
        if message.error is not None:
            self.set_status(f"{name} failed: {message.error}")
            self.notify(message.error, severity="error", timeout=10)
            return
        result = self.result = message.result
        if result.stopped:
            self.set_status(f"{name} stopped; finished variants were cached")
            return
        self.results[name] = result
        self.show_result(result)
        self.mark_cached()

    def show_result(self, result, again: bool = False) -> None:
        """A finished run: status, verdict, table and samples (``again``: its chart drawn anew too,
        when the cursor comes back to it)."""
        self.result = result
        self.query_one("#lab-report").display = True
        exp = result.experiment
        if again:
            plot = self.reset_plot(exp, result.budget)
            for v in result.variants:
                for x, y in v.curve:
                    plot.add(v.label, x, y)
        cached = sum(v.cached for v in result.variants)
        self.set_status(f"{exp.name}: done in {result.seconds:.1f}s on {result.data}"
                        + (f" ({cached} variant(s) from the cache; f reruns fresh)" if cached else ""))
        self.query_one("#lab-table", Static).update(metric_table(result))
        self.query_one("#lab-verdict", Static).update(Text(result.verdict))
        if result.experiment.kind == "gpt":
            samples = Text()
            for v in result.variants:
                samples.append(f"\n{v.label} writes:\n", style="bold")
                samples.append(sample_line(v.sample, 160) or "(nothing: it diverged)", style="italic")
            self.query_one("#lab-samples", Static).update(samples)
        elif result.experiment.kind == "translation":
            samples = Text()
            for v in result.variants:
                samples.append(f"\n{v.label} translates:\n", style="bold")
                samples.append(v.sample or "(nothing: it diverged)", style="italic")
            self.query_one("#lab-samples", Static).update(samples)

    def reset_plot(self, exp, budget: int) -> CurvesPlot:
        """The chart emptied for ``exp``'s variants, its x axis spanning the whole ``budget``."""
        plot = self.query_one(CurvesPlot)
        plot.reset(exp.curve_label, "epoch" if exp.kind == "digits" else "iteration",
                   [v.label for v in exp.variants], x_max=budget)
        return plot

    def set_status(self, text: str) -> None:
        self.query_one("#lab-status", Static).update(Text(text))  # names and errors: never markup

    # -- keys --------------------------------------------------------------------------------

    def action_run(self) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None:
            self.start(option.id)

    def action_fresh(self) -> None:
        option = self.query_one(OptionList).highlighted_option
        if option is not None:
            self.start(option.id, fresh=True)

    def on_unmount(self) -> None:
        self.stop_event.set()

    def stop_running(self) -> bool:
        if self.running is None:
            return False
        self.stop_event.set()
        self.set_status(f"stopping {self.running}... (esc again goes back)")
        return True
