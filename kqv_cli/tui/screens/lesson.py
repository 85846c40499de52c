"""The lesson screen: explanation, engine code and live variables, kept in step.

The screen asks the lesson session for a step (``session.run(i)`` runs the engine and returns
a ``StepView``) and hands each part to the pane that shows it. The engine runs in a worker
thread so a slow step (training a few mini-batches) never freezes the keys; a lock keeps one
run at a time on the session, and a run that a newer key press has overtaken is dropped.
"""

from __future__ import annotations

import dataclasses
import re
import threading

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Static

from engine.errors import KqvError
from kqv_cli.tui.screens.base import KqvScreen, footer_width
from kqv_cli.tui.screens.dims import DimsScreen
from kqv_cli.tui.widgets.code_view import CodeView, highlighted
from kqv_cli.tui.widgets.step_text import StepText
from kqv_cli.tui.widgets.value_view import FIGURES, ValueView
from kqv_cli.tui.widgets.variables_table import VariablesTable
from lessons.curriculum import quiz_topic

STEP = Binding.Group("Step")  # the footer reads "n p Step"


ROOMY = 150  # columns from which the code pane gets half of the top row
FOLDED_TEXT = 4  # a folded explanation: its title line and three lines of text
SMALLEST_TABLE = 3  # the variables pane at its smallest: title, column names, the selected row


def ready_to_draw(view) -> None:
    """Do in the engine's worker what drawing ``view`` would otherwise do on the event loop,
    where every millisecond holds the keys and the screen up: lex the engine code it shows
    (pygments: 20-80 ms a function, kept by :func:`highlighted`) and, the first time, import the
    Markdown parser (markdown-it, ~0.1 s) and every exercise's spec (~0.1 s: the bar asks which
    exercise follows the step)."""
    from rich.markdown import Markdown  # noqa: F401  (imported for StepText.show)

    from lessons.practice import load_exercises

    load_exercises()
    for span in view.code:
        try:
            highlighted(tuple(span.lines()))
        except OSError:
            pass  # the pane says it cannot read the file


def parse_key_actions(*screens) -> None:
    """Have Textual parse these screens' key actions (``step(1)``) now, on the event loop, before
    the engine's worker parses engine source: two parses at once can fail on this Python
    (engine.syntax says why), and Textual keeps each action it has parsed."""
    from textual.actions import parse

    for screen in screens:
        for binding in screen.BINDINGS:
            parse(binding.action if isinstance(binding, Binding) else binding[1])


class LessonScreen(KqvScreen):
    HELP_TITLE = "Lesson"
    WIDGET_KEYS = [("↑ ↓", "in the variables pane: choose a variable (its values show beside it); "
                           "elsewhere: scroll the focused pane")]
    HELP_NOTE = (
        "In the variables pane, ● marks what this step created or changed, and a shape reads "
        "(4, 8, 8) = (B, T, T): the numbers numpy produced, then the same shape in the names the "
        "lesson uses. Values show as numbers (one format for the whole matrix: the same decimals "
        "in every cell, and 'all ×1e-3' above when each number shown is to be multiplied by 0.001; "
        "row and column indices beside them; on an attention matrix the tokens, a space as ␣: a "
        "query row and a key column per token) when the columns fit the pane, else as colour "
        "blocks: blue negative, white zero, red positive; dark to yellow when all values are ≥ 0; "
        "grey -inf. v switches; token ids stay numbers. "
        "Mouse clicks and scrolling work everywhere."
    )
    BINDINGS = [
        # priority: the arrows step even when the table or code pane has the focus
        Binding("n", "step(1)", "Next", tooltip="next step", group=STEP),
        Binding("p", "step(-1)", "Prev", tooltip="previous step", group=STEP),
        Binding("right", "step(1)", "Next", show=False, priority=True, tooltip="next step"),
        Binding("left", "step(-1)", "Prev", show=False, priority=True, tooltip="previous step"),
        # priority: the text scrolls from any pane (a zoomed pane scrolls itself instead)
        # on a step whose text is folded for its picture, the first press unfolds it
        Binding("space,pagedown", "read(1)", "More", priority=True, key_display="space",
                tooltip="scroll the explanation down, from any pane"),
        Binding("x", "fold", "Fold text", show=False,
                tooltip="on a step whose text points at a figure or matrix, the text is folded to a few "
                        "lines so the picture gets the height it needs: x (or space) unfolds it, x folds "
                        "it again"),
        Binding("pageup", "read(-1)", "Back in text", show=False, priority=True,
                tooltip="scroll the explanation up, from any pane"),
        Binding("tab", "app.focus_next", "Pane", tooltip="move the focus to the next pane"),
        Binding("c", "code", "Code", tooltip="the engine code: in place of the text under 120 "
                                            "columns, beside it (c hides it) on wider terminals"),
        Binding("z", "zoom", "Zoom",
                tooltip="zoom: the focused pane fills the screen (z or esc puts it back)"),
        Binding("r", "rerun", "Re-run", show=False, tooltip="run the step again on a new random input"),
        Binding("d", "dims", "Dims", tooltip="change the dimensions and watch every shape follow"),
        Binding("f", "figure", "Figure", show=False,
                tooltip="on a step with its own figure: the figure or the selected variable"),
        Binding("v", "numbers", "Numbers/colours", show=False,
                tooltip="the values pane: numbers or colour blocks (numbers scroll sideways when wide)"),
        Binding("left_square_bracket", "matrix(-1)", "Prev matrix", show=False,
                tooltip="a 3-D/4-D variable: the previous matrix (batch entry, head)"),
        Binding("right_square_bracket", "matrix(1)", "Next matrix", show=False,
                tooltip="a 3-D/4-D variable: the next matrix (batch entry, head)"),
        # in the footer only where it has room (active_bindings): at 80 columns it is full
        Binding("g", "real_model", "GPT-2", show=False,
                tooltip="attention lesson: run the steps on GPT-2 (kqv data gpt2); translation lesson: on "
                        "MarianMT (kqv data marian); g again to go back"),
        Binding("t", "quiz", "Quiz", show=False, tooltip="quiz on this lesson's topic"),
        Binding("w", "practice", "Practice", show=False,
                tooltip="write this step's function yourself (on a step the bar marks with w)"),
        Binding("escape", "back", "Home", tooltip="back home (your step and dims are kept); "
                                                  "when zoomed, unzoom first"),
        Binding("q", "close", "Home", show=False, tooltip="back home, as esc"),
    ]

    def __init__(self, lesson):
        super().__init__(name=f"lesson-{lesson.id}")
        self.lesson = lesson
        self.index = 0
        self.view = None  # the StepView on screen
        self._lock = threading.Lock()
        self._wanted = 0  # serial of the latest request; older results are dropped
        self._done = 0  # serial of the latest request shown (or refused by the engine)
        self._new_dims: dict | None = None  # checked dims the next engine run switches to
        self._new_model: tuple[str | None] | None = None  # (GPT-2 folder or None) for the next run
        self._real = False  # the steps run on a real GPT-2 (g), as far as the keys know
        self._show_figure = False  # the step's own figure (StepView.extra) instead of a variable
        self._placed_row = 0  # where the step put the table cursor
        self._unfolded = False  # x: the learner unfolded this step's text (a new step folds it again)
        self._foldable = False  # the step's picture needs more than its share: x is offered

    @property
    def step_ids(self) -> list[str]:
        return [step.id for step in self.lesson.steps]

    def compose(self) -> ComposeResult:
        yield Static(id="step-bar")
        with Horizontal(id="lesson-top"):
            yield StepText(id="explanation")
            yield CodeView(id="code")
        with Horizontal(id="lesson-bottom"):
            yield VariablesTable(id="variables")
            yield ValueView(id="value")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code").border_title = "engine code"
        self.query_one("#variables").border_title = "variables (● = new in this step)"
        self.query_one("#value").border_title = "values"
        progress = self.app.progress
        dims = progress.dims(self.lesson.id) or None
        try:
            self.session = self.app.new_session(self.lesson, dims)
        except KqvError as exc:  # stored dims no longer valid (lesson changed): start from defaults
            self.notify(f"{exc}; using the lesson's default dims", severity="warning")
            self.session = self.app.new_session(self.lesson, None)
        self._real = self.session.model is not None
        self.refresh_bindings()  # g joins the footer now that it is known whether a model is offered
        self.index = progress.position_index(self.lesson.id, self.step_ids)
        self.query_one(VariablesTable).focus()
        parse_key_actions(KqvScreen, LessonScreen, DimsScreen)
        self.request_step(new_step=True)

    # -- running the engine ----------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True from a key press until its step is on screen (tests and benchmarks wait on it):
        the run done, the variables table measured and scrolled, the panes laid out."""
        tables = self.query(VariablesTable)  # none before the screen is composed
        table_moving = bool(tables) and (tables.first().scroll_pending or not tables.first().measured)
        return self._done != self._wanted or table_moving or self._panes_moving()

    def _panes_moving(self) -> bool:
        """True while a height :meth:`fit_panes` set is not laid out yet, or the values pane is
        not yet drawn for the room it now has."""
        if not self.query(ValueView) or self.maximized is not None:
            return False  # a zoomed pane fills the screen whatever height the others are given
        value = self.query_one(ValueView)
        for pane in (self.query_one("#lesson-top"), self.query_one(VariablesTable), value):
            height = pane.styles.height
            if height is not None and height.is_cells and pane.outer_size.height != int(height.value):
                return True
        region = value.scrollable_content_region
        return region.width > 0 and region.height > 0 and value._drawn_for != value._room()

    def request_step(self, new_step: bool, reseed: bool = False) -> None:
        self._wanted += 1
        self.update_bar(running=True)
        self.run_step(self.index, self._wanted, new_step, reseed)

    @work(thread=True, group="engine")
    def run_step(self, index: int, serial: int, new_step: bool, reseed: bool) -> None:
        with self._lock:
            try:
                if self._new_dims is not None:  # applied here, so the dialog never waits on a run
                    self.session.set_dims(self._new_dims)
                    self._new_dims = None
                if self._new_model is not None:
                    self.session.use_model(self._new_model[0])
                    self._new_model = None
                if serial != self._wanted:
                    return  # a newer request is queued; skip the stale run
                if reseed:
                    self.session.reseed()
                view = self.session.run(index, costly=False)
            except KqvError as exc:
                self.app.call_from_thread(self.run_failed, str(exc), serial)
                return
        ready_to_draw(view)
        if view.pending:
            # the step at once, "running…" still on the bar, then again with its costly views
            self.app.call_from_thread(self.apply_view, view, serial, new_step, False)
            with self._lock:
                if serial != self._wanted:
                    return
                try:
                    view = self.session.run(index)
                except KqvError as exc:
                    self.app.call_from_thread(self.run_failed, str(exc), serial)
                    return
        self.app.call_from_thread(self.apply_view, view, serial, new_step)

    async def apply_view(self, view, serial: int, new_step: bool, final: bool = True) -> None:
        """Show ``view``; ``final=False``: its costly views are still being made (the bar keeps
        "running…")."""
        if serial != self._wanted:
            return
        self.view = view
        table = self.query_one(VariablesTable)
        # a new step selects the variable its text names first; a re-run keeps the learner's
        select = (view.select or table.selected_name) if new_step else table.selected_name
        table.show(view.records, view.changed, select, new_first=new_step)
        self._placed_row = table.cursor_row
        if new_step:
            self._show_figure = self.figure() is not None
            self._unfolded = False
        self.query_one(CodeView).show(view.code)
        self.show_value()
        self.update_bar(running=not final)
        # always redrawn: the text's numbers follow the dims, the notes the seed
        self.query_one(StepText).show(view.step.markdown, view.notes, view.problems, top=new_step)
        self.fit_panes()
        self.app.progress.mark_seen(self.lesson.id, view.step.id)
        self.app.progress_changed()
        if not final:
            return
        self._done = serial
        if view.index + 1 < len(self.lesson.steps):
            self.prefetch_step(view.index + 1, serial)

    @work(thread=True, group="engine")
    def prefetch_step(self, index: int, serial: int) -> None:
        """Run the next step's engine run while the learner reads this one, so that ``n`` finds
        it done: a trace's first run can take longer than the 0.2 s a step may take unannounced.
        Skipped once a key has asked for something else; a key pressed meanwhile waits for the
        run in progress. Costly extras (a comparison that trains two models, 0.3 s idle) are left
        for the step itself, which shows its text first: held here, they would hold the key."""
        with self._lock:
            if serial != self._wanted:
                return
            try:
                view = self.session.run(index, costly=False)
            except KqvError:
                return  # said when the learner gets there
        ready_to_draw(view)

    def run_failed(self, message: str, serial: int) -> None:
        """The engine refused (e.g. dims it cannot build): say why, keep the last good view."""
        self.notify(message, severity="error", timeout=8)
        self._done = max(self._done, serial)
        self.update_bar()

    def figure(self) -> tuple[str, object] | None:
        """The step's own figure, if it has one the value pane can draw."""
        if self.view is None:
            return None
        return next(((k, self.view.extra[k]) for k in FIGURES if k in self.view.extra), None)

    def show_value(self) -> None:
        """The selected variable's values; on a step with its own figure, that figure first."""
        value = self.query_one(ValueView)
        figure = self.figure()
        if figure and self._show_figure:
            value.show_figure(*figure)
            return
        name = self.query_one(VariablesTable).selected_name
        record = next((r for r in self.view.records if r.name == name), None) if self.view else None
        if record is None:
            value.clear()
        else:
            value.show_record(record, self.view.tokens, self.view.source_tokens)

    # -- the panes' heights ------------------------------------------------------------------

    def points_at_picture(self) -> bool:
        """Whether the step's text is about what the values pane shows: the step's own figure
        (a digit, a heatmap), or the variable the text tells the learner to select ("Select
        h0.att_masked and look at batch 0, head 0: the upper triangle is −inf")."""
        if self.view is None:
            return False
        if self._show_figure:
            return True
        name = self.view.select
        if not name or self.query_one(VariablesTable).selected_name != name:
            return False
        return re.search(rf"\bSelect {re.escape(name)}(?![\w.])", self.view.markdown) is not None

    def picture_heights(self) -> tuple[int, int, int | None, int | None] | None:
        """Heights (text row, bottom row, variables, values) that give the step's picture the
        lines it needs, or None where the stylesheet's split already does (or nothing is pictured).

        The values pane gets what its view needs whole (every row of the matrix, the figure at
        its natural size), up to what leaves the text ``FOLDED_TEXT`` lines and, stacked under
        120 columns, the variables pane ``SMALLEST_TABLE``; the rest is shared by text and table
        about as the stylesheet shares it (5 : 3). A figure that still does not fit is thinned
        to the pane, evenly in rows and columns.
        """
        width, height = self.size
        room = height - 2  # the step bar and the footer
        if self.view is None or width <= 0 or room <= 0 or not self.points_at_picture():
            return None  # before the first size is known nothing is laid out by hand
        value = self.query_one(ValueView)
        stacked = self.has_class("-narrow")
        if stacked and self.has_class("-code-swapped"):
            return None  # c: the code in the text's place, at the text's full height
        # stacked, the values pane is as wide as the screen; beside the table, what the table leaves
        pane = width if stacked else value.outer_size.width
        need = value.needed_height(pane - value.styles.gutter.width - value.styles.scrollbar_size_vertical)
        most = room - FOLDED_TEXT - (SMALLEST_TABLE if stacked else 0)  # the most the values can get
        if need > most and 3 * most < 2 * need and not value.thins_to_fit():
            return None  # a long list of bars: folding the text would show little more of it
        if stacked:
            share = (room * 6 // 11) // 2  # the stylesheet's: 5fr text, 6fr below it, halved
            if need <= share:
                return None
            value_h = max(min(need, most), share)
            rest = room - value_h
            table = self.query_one(VariablesTable)
            table_h = max(SMALLEST_TABLE, min(rest * 3 // 8, 1 + table.header_height + table.row_count))
            return rest - table_h, value_h + table_h, table_h, value_h
        share = room // 2  # side by side, the bottom row's half
        if need <= share:
            return None
        value_h = max(min(need, most), share)
        return room - value_h, value_h, None, None

    def fit_panes(self) -> None:
        """Set the panes' heights for the step on screen (see :meth:`picture_heights`); the text
        folds while its picture needs the room, until x unfolds it."""
        heights = self.picture_heights()
        self._foldable = heights is not None
        if self._unfolded or self.maximized is not None:
            heights = None  # zoomed (z), a pane fills the screen: no height of its own may hold it
        panes = (self.query_one("#lesson-top"), self.query_one("#lesson-bottom"),
                 self.query_one(VariablesTable), self.query_one(ValueView))
        for pane, lines in zip(panes, heights or (None,) * 4, strict=True):
            pane.styles.height = lines  # None: the stylesheet's share again
        self.query_one(StepText).fold(heights is not None, self._foldable)

    def watch_maximized(self) -> None:
        if self.view is not None:
            self.fit_panes()

    def action_fold(self) -> None:
        """x: the folded text at its full height (the picture then thinned to what is left), or back."""
        if not self._foldable:
            self.notify("the text folds only on a step whose picture needs the room", timeout=2)
            return
        self._unfolded = not self._unfolded
        self.fit_panes()

    def update_bar(self, running: bool = False) -> None:
        steps = self.lesson.steps
        step = steps[self.index]
        dims = self.view.dims if self.view else {}
        # the step's title is text (a lesson file's, which may hold brackets); only kqv's own parts
        # are styled
        badges = Text()
        if running:
            badges.append_text(Text.assemble("  ", ("running…", "italic")))
        elif self.index == len(steps) - 1:
            badges.append_text(Text.assemble("  ", (" last step: n what next ", "bold reverse")))
        if not running and self.step_exercise() is not None:
            badges.append_text(Text.assemble("  ", ("w", "bold"), " write it yourself"))
        position = Text.assemble((f"{self.index + 1}/{len(steps)}", "bold"), " ")
        width = self.size.width - 2  # the bar's padding
        # a title too long for the line ends in "…" (never silently cut at the edge), and gives
        # way before the badges that name a key
        title = Text(step.title)
        title.truncate(max(8, width - position.cell_len - badges.cell_len), overflow="ellipsis")
        bar = Text.assemble(position, title, badges)
        bar.truncate(width, overflow="ellipsis")
        # then the dims and the lesson's title, as many whole items as fit: a number cut at the
        # terminal's edge would read as another one (C=3 for C=32)
        room = width - bar.cell_len - 2  # the gap before the dims
        chosen = [f.name for f in self.lesson.dim_fields if f.name in dims]  # the ones d changes first
        order = chosen + [k for k in dims if k not in chosen]
        items = [f"{k}={dims[k]}" for k in order] + [f"· {self.lesson.title}"]
        if len(" ".join(items)) > room:
            keep = len(items) - 1
            while keep and len(" ".join(items[:keep] + ["…"])) > room:
                keep -= 1
            items = items[:keep] + ["…"] if room >= 1 else []
        if items:
            bar.append("  " + " ".join(items), style="dim")
        self.query_one("#step-bar", Static).update(bar)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The keys as the footer reads them, with ``g`` among those shown where the footer has
        room for it: on a lesson that runs on a real model (GPT-2, MarianMT), named for what
        ``g`` does now. At 80 columns the footer is full without it; ? lists it at every size."""
        bindings = super().active_bindings
        real = bindings.get("g")
        session = getattr(self, "session", None)  # set in on_mount
        if real is None or session is None or not session.offers_model:
            return bindings
        from kqv_cli.services.real_models import REAL_MODELS

        name = "Own model" if self._real else REAL_MODELS.get(self.lesson.id, ("GPT-2",))[0]
        shown = real._replace(binding=dataclasses.replace(real.binding, show=True, description=name))
        others = [active.binding for key, active in bindings.items() if key != "g"]
        if footer_width(self.app, [*others, shown.binding]) <= self.size.width:
            bindings["g"] = shown
        return bindings

    def on_resize(self) -> None:
        self.refresh_bindings()  # the footer may have room for g now, or no longer
        # from 150 columns the code pane shares the top row evenly with the text: engine lines
        # run to 110 characters, and a third of the width cut them at about 50
        self.set_class(self.size.width >= ROOMY, "-roomy")
        if self.view is not None:
            self.update_bar(running=self._done != self._wanted)
            self.fit_panes()

    # -- the learner's moves ---------------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "variables" and self.view is not None:
            if event.cursor_row != event.data_table.cursor_row:
                return  # posted while the table was being refilled; the cursor has moved on
            # moving off the row the step chose switches the value pane from the step's figure
            if event.cursor_row != self._placed_row:
                self._show_figure = False
            self.show_value()

    def action_figure(self) -> None:
        """Toggle between the step's own figure (if it has one) and the selected variable."""
        if self.figure() is not None:
            self._show_figure = not self._show_figure
            self.show_value()
            self.fit_panes()

    def action_step(self, delta: int) -> None:
        target = self.index + delta
        if target == len(self.lesson.steps):
            self.offer_next()
            return
        if target < 0:
            self.notify("first step", timeout=2)
            return
        self.index = target
        self.request_step(new_step=True)

    def action_read(self, pages: int) -> None:
        """space/page down, page up: scroll the explanation by a page, whichever pane has the keys."""
        target = self.maximized if self.maximized is not None else self.query_one(StepText)
        if pages > 0 and target is self.query_one(StepText) and target.folded:
            self.action_fold()  # more of the text: first all of it, then page by page
            return
        if not target.display:  # the code pane is showing in its place
            self.action_code()
            target = self.query_one(StepText)
        if pages > 0:
            target.scroll_page_down(animate=False)
        else:
            target.scroll_page_up(animate=False)

    def action_code(self) -> None:
        self.toggle_class("-code-swapped")
        self.fit_panes()
        self.call_after_refresh(self._keep_focus_visible)

    def _keep_focus_visible(self) -> None:
        code = self.query_one(CodeView)
        if code.display:
            code.scroll_to_current()  # it could not scroll while hidden
        if self.focused is not None and not self.focused.display:
            self.query_one(VariablesTable).focus()

    def action_numbers(self) -> None:
        if not self.query_one(ValueView).toggle_numbers():
            self.notify("the values pane shows no matrix here", timeout=2)
            return
        self.fit_panes()  # colour blocks need other lines than numbers

    def action_matrix(self, step: int) -> None:
        """[ and ]: another batch entry / head of a 3-D or 4-D variable in the value pane."""
        if not self.query_one(ValueView).next_matrix(step):
            self.notify("the selected variable is a single matrix", timeout=2)

    def action_zoom(self) -> None:
        """Let the focused pane fill the screen (z again, or esc, puts it back)."""
        if self.maximized is not None:
            self.minimize()
        elif self.focused is not None:
            self.maximize(self.focused)

    def action_rerun(self) -> None:
        # the new seed is drawn in the worker, so a run still in progress never blocks the keys
        self.request_step(new_step=False, reseed=True)

    def action_dims(self) -> None:
        fields = self.lesson.dim_fields
        if not fields:
            self.notify("this lesson has no dimensions to change")
            return
        current = self.view.dims if self.view else dict(self.lesson.default_dims)

        def done(dims: dict | None) -> None:
            if dims is None:
                return
            self.app.progress.set_dims(self.lesson.id, dims)
            self.app.save_progress()
            self._new_dims = dims
            self.request_step(new_step=False)

        self.app.push_screen(DimsScreen(fields, current, self.session.checked_dims), done)

    def action_real_model(self) -> None:
        """g: run the steps on GPT-2 (the folder given to kqv learn --model, else GPT-2 small
        from the Hugging Face cache), or back on the lesson's own small model."""
        if not self.session.offers_model:
            self.notify("this lesson runs its own small model only")
            return
        from kqv_cli.services.real_models import REAL_MODELS, real_model_folder

        name, default, _ = REAL_MODELS.get(self.lesson.id, ("GPT-2", "gpt2", ""))
        if self._real:
            model = None
        else:
            try:
                model = str(self.app.model or real_model_folder(self.lesson.id, default))
            except KqvError as exc:
                self.notify(str(exc), severity="warning", timeout=10)
                return
        self._real = model is not None
        self._new_model = (model,)
        self.notify(f"running the steps on {name}…" if self._real else "back to the lesson's own model")
        self.refresh_bindings()  # the footer's g now goes the other way
        self.request_step(new_step=False)

    def offer_next(self) -> None:
        """n on the last step: the next lesson, this topic's quiz, or home."""
        from kqv_cli.tui.screens.finish import HOME, NEXT, PRACTICE, QUIZ, FinishScreen
        from lessons.practice import load_exercises

        exercise = next((e.name for e in load_exercises() if e.lesson == self.lesson.id), None)

        def go(choice: str | None) -> None:
            if choice == QUIZ:
                self.action_quiz()
            elif choice == PRACTICE:
                self.app.open_practice(exercise)
            elif choice == HOME:
                self.leave()
            elif choice is not None and choice.startswith(NEXT):
                self.leave()
                self.app.open_lesson(choice.removeprefix(NEXT))

        topic = quiz_topic(self.lesson.id)
        self.app.push_screen(FinishScreen(self.lesson.title, self.app.next_lesson(self.lesson.id), topic,
                                          exercise), go)

    def action_quiz(self) -> None:
        self.app.open_quiz(quiz_topic(self.lesson.id))

    def step_exercise(self) -> str | None:
        """The practice exercise that follows the step on screen, if there is one."""
        from lessons.practice import load_exercises

        step = self.lesson.steps[self.index].id
        return next((e.name for e in load_exercises() if e.lesson == self.lesson.id and e.step == step), None)

    def action_practice(self) -> None:
        exercise = self.step_exercise()
        if exercise is None:
            self.notify("no exercise follows this step; `kqv practice` lists them all", timeout=3)
            return
        self.app.open_practice(exercise)

    def stop_running(self) -> bool:
        """A zoomed pane is put back first; the next esc goes home."""
        if self.maximized is not None:
            self.minimize()
            return True
        return False

    def leave(self) -> None:
        self.app.save_progress()
        self.dismiss()
