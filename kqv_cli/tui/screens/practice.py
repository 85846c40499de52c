"""The Practice screen: one exercise, its file, and the latest check, re-run on every save.

The screen only shows; :mod:`kqv_cli.practice` finds the workspace, runs the learner's code in
a child process and grades it. Checks run in a worker thread (the child may loop for the whole
time limit and the keys still answer); a watcher thread re-checks whenever the exercise's file
is saved. ``e`` opens the file in ``$EDITOR`` with the app suspended, and checks it afterwards.
``d`` switches the exercise between the guided and the derive level (the learner's file is kept
as a backup), and at the derive level ``h`` gives the next step for the variable failing now.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
from pathlib import Path

from rich.console import Group
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from engine.errors import KqvError
from kqv_cli.practice.grader import Report, check_file
from kqv_cli.practice.levels import next_derive_hint
from kqv_cli.practice.practice_progress import HINTS, PracticeProgress
from kqv_cli.practice.report_table import report_table
from kqv_cli.practice.runner import TIMEOUT
from kqv_cli.practice.workspace import Workspace, app_workspace_dir, find_workspace, init_workspace
from kqv_cli.tui.screens.base import KqvScreen
from lessons.practice import Exercise, lesson_step, load_exercises

EXERCISE = Binding.Group("Exercise")  # the footer reads "n p Exercise": every key fits 80 columns


class PracticeScreen(KqvScreen):
    HELP_TITLE = "Practice"
    HELP_NOTE = ("Write the function in the exercise's file with any editor; each save checks it "
                 "again. The table lists every variable the exercise grades, in order: the "
                 "engine's shape in numbers and letters, yours, ✓ or ✗, and the max relative "
                 "error. The line under it tells the story of the first wrong one. Your code runs "
                 "in its own process with a time limit, so an endless loop only stops the check. "
                 "d switches the exercise between guided (the docstring gives the formulas) and derive "
                 "(the forward only: h then gives the next step for the variable failing now); your "
                 "file is kept as a .bak.")
    BINDINGS = [
        # first in the footer while there is no workspace (the first thing to press), then gone
        Binding("i", "init", "Init", tooltip="write a workspace in kqv's data folder (when there is none)"),
        Binding("c", "check", "Check", tooltip="check the file now"),
        Binding("e", "edit", "Edit", tooltip="open the file in $EDITOR (the app waits for it)"),
        Binding("h", "hint", "Hint", tooltip="the next hint: shapes, formula, near-code (derive: a step "
                "for the variable failing now)"),
        Binding("d", "level", "Level", tooltip="switch between guided (the formulas given) and derive "
                "(the forward only); your file is kept as a .bak"),
        Binding("n", "move(1)", "Next", tooltip="the next exercise", group=EXERCISE),
        Binding("p", "move(-1)", "Prev", tooltip="the previous exercise", group=EXERCISE),
        Binding("l", "pick", "List", tooltip="every exercise with its status: type to filter, enter opens"),
    ]

    def __init__(self, exercise: str | None = None, folder: Path | None = None,
                 timeout: float = TIMEOUT):
        super().__init__(name="practice")
        self.exercises = list(load_exercises())
        self.folder = folder
        try:
            self.workspace: Workspace | None = find_workspace(folder)
        except KqvError:
            self.workspace = None
        self.progress = PracticeProgress.for_workspace(self.workspace)  # each workspace its own
        names = [e.name for e in self.exercises]
        self.index = names.index(exercise) if exercise in names else self._first_not_passed()
        self.timeout = timeout
        self.report: Report | None = None
        self.checking = False
        self._serial = 0  # of the latest check asked for; an older one's result is dropped
        self._stop_watch = threading.Event()

    @property
    def exercise(self) -> Exercise:
        return self.exercises[self.index]

    @property
    def level(self) -> str:
        """The level the current exercise is done at, as the workspace's progress records it."""
        level = self.progress.level(self.exercise.name)
        return level if level in self.exercise.levels else "guided"

    def _first_not_passed(self) -> int:
        return next((i for i, e in enumerate(self.exercises) if not self.progress.state(e.name).passed), 0)

    def compose(self) -> ComposeResult:
        yield Static(id="practice-bar")
        with VerticalScroll(id="practice-body"):
            yield Static(id="practice-text")
            yield Static(id="practice-file")
            yield Static(id="practice-result")  # above the hint: a hint never pushes the verdict down
            yield Static(id="practice-hint")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "practice"
        if self.progress.warning:
            self.notify(self.progress.warning, severity="warning", timeout=10)
        self.show_exercise()
        if self.workspace is not None:
            self.watch_files(self.workspace)

    def on_unmount(self) -> None:
        self._stop_watch.set()

    # -- showing ---------------------------------------------------------------------------

    def show_exercise(self) -> None:
        self.report = None
        self.update_intro()
        self.query_one("#practice-hint", Static).update("")
        self.update_file_line()
        self.query_one("#practice-result", Static).update("")
        self.update_bar()
        if self.workspace is not None and self.workspace.file(self.exercise).is_file():
            self.action_check()

    def update_intro(self) -> None:
        """The exercise's title and text; once there is a result, the title line only, so the
        verdict and the first diagnosis fit an 80×24 terminal without scrolling."""
        exercise = self.exercise
        step = lesson_step(exercise)
        follows = f"{exercise.lesson} step {step[0]}: {step[1]}" if step else exercise.lesson
        derive = self.level == "derive"
        level = ("   derive level", "bold magenta") if derive else ""
        if self.report is None:
            intro = Text.assemble((exercise.title, "bold"), level, (f"   follows {follows}\n\n", "dim"),
                                  exercise.derive.text if derive else exercise.text)
        else:
            intro = Text.assemble((exercise.title, "bold"), level, (f"   follows {follows}", "dim"))
        self.query_one("#practice-text", Static).update(intro)

    def update_file_line(self) -> None:
        line = self.query_one("#practice-file", Static)
        if self.workspace is None:
            line.update(Text.assemble(("no practice workspace found. ", "bold yellow"),
                                      f"Press i to write one in {app_workspace_dir()}, or run "
                                      "`kqv practice init DIR` and open the app from there."))
            return
        path = self.workspace.file(self.exercise)
        missing = "" if path.is_file() else "   (missing: `kqv practice reset " + self.exercise.name + "`)"
        line.update(Text.assemble(("your file: ", "bold"), str(path), (missing, "yellow"),
                                  ("\nsave it to check again · e opens it in $EDITOR", "dim")))

    def update_bar(self) -> None:
        """The current result (the check just run), else the stored status; "checking…" meanwhile."""
        if self.checking:
            status = "checking…"
        elif self.report is not None and self.report.exercise.name == self.exercise.name:
            status = self.report.summary()
        else:
            status = self.progress.status(self.exercise.name)
        where = f"exercise {self.index + 1}/{len(self.exercises)} · {self.exercise.name}"
        self.query_one("#practice-bar", Static).update(f"{where} · {self.level} · {status}")

    def show_report(self, report: Report) -> None:
        if report.exercise is not self.exercise:
            return  # the learner moved on while it ran
        self.report = report
        self.update_intro()
        parts = []
        style = "bold green" if report.passed else "bold yellow"
        for i, line in enumerate(report.story):  # the verdict and its diagnosis first, then the table
            parts.append(Text(line, style if i == 0 else ""))
        if report.passed:
            following = self.exercises[(self.index + 1) % len(self.exercises)]
            parts.append(Text.assemble(("next: ", "bold"), f"{following.name} · {following.title}   ",
                                       ("n goes on", "dim")))
        if report.rows:
            parts.append(report_table(report, f"{report.exercise.phase} order"))
        if report.output.strip():
            parts.append(Text("your code printed:\n" + "\n".join(report.output.splitlines()[-6:]), "dim"))
        self.query_one("#practice-result", Static).update(Group(*parts))

    # -- checking --------------------------------------------------------------------------

    def action_check(self) -> None:
        if self.workspace is None:
            self.notify(f"no workspace yet: press i to write one in {app_workspace_dir()}",
                        severity="warning")
            return
        path = self.workspace.file(self.exercise)
        if not path.is_file():
            self.update_file_line()
            self.notify(f"{path.name} is missing: `kqv practice reset {self.exercise.name}` writes it again",
                        severity="error")
            return
        self.checking = True
        self._serial += 1
        self.update_bar()
        self.run_check(self.exercise, path, self._serial, self.level)

    @work(thread=True, group="check")
    def run_check(self, exercise: Exercise, path: Path, serial: int, level: str) -> None:
        report = check_file(exercise, path, self.timeout, level=level)
        self.app.call_from_thread(self.check_done, report, serial)

    def check_done(self, report: Report, serial: int) -> None:
        if not self.is_attached:
            return  # the screen was closed while the check ran
        self.progress.record_check(report.exercise.name, report.passed, report.summary())
        if serial != self._serial:
            return  # a newer check (a later save) is running; its result will show
        self.checking = False
        if self.progress.save_error:
            self.notify(self.progress.save_error, severity="warning")
        self.show_report(report)
        self.update_bar()

    @work(thread=True, group="watch")
    def watch_files(self, workspace: Workspace) -> None:
        from kqv_cli.practice.watch import watch_saves

        def saved(exercise: Exercise) -> None:
            if not self._stop_watch.is_set():
                self.app.call_from_thread(self.file_saved, exercise)

        watch_saves(workspace, saved, stop=self._stop_watch)

    def file_saved(self, exercise: Exercise) -> None:
        if self.is_attached and exercise.name == self.exercise.name:
            self.update_file_line()
            self.action_check()

    # -- the other keys --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "init" and self.workspace is not None:
            return False  # nothing to write: i leaves the footer
        if action in ("check", "edit") and self.workspace is None:
            return False  # no file to check or open yet: i first (the footer then fits 80 columns)
        return super().check_action(action, parameters)

    def action_pick(self) -> None:
        from kqv_cli.tui.screens.practice_picker import PracticePicker

        def chosen(name: str | None) -> None:
            names = [e.name for e in self.exercises]
            if name in names and names.index(name) != self.index:
                self.index = names.index(name)
                self.show_exercise()

        self.app.push_screen(PracticePicker(self.exercises, self.progress, self.exercise.name), chosen)

    def action_move(self, delta: int) -> None:
        self.index = (self.index + delta) % len(self.exercises)
        self.show_exercise()

    def action_hint(self) -> None:
        if self.level == "derive":
            report = self.report if self.report is not None and self.report.exercise is self.exercise \
                else None  # the check just run: what fails now
            step = next_derive_hint(self.progress, self.exercise, report)
            last = "  (the last step: d switches to the guided level)" if step.last else ""
            self.query_one("#practice-hint", Static).update(Text.assemble(
                (f"step {step.number} of {step.of} for {step.about}", "bold cyan"),
                (f"  · {step.why}\n", "dim"), step.text, (last, "dim")))
            return
        index = self.progress.next_hint(self.exercise.name)
        self.query_one("#practice-hint", Static).update(Text.assemble(
            (f"hint {index + 1} of {HINTS}: ", "bold cyan"), self.exercise.hints[index]))

    def action_level(self) -> None:
        """Switch guided <-> derive: the other level's starter, the learner's file kept as a .bak."""
        exercise = self.exercise
        if exercise.derive is None:
            self.notify(f"{exercise.name} has no derive level: its docstring has no backward formula "
                        "to take away", severity="warning")
            return
        if self.workspace is None:
            self.action_check()  # says how to get a workspace
            return
        new = "guided" if self.level == "derive" else "derive"
        try:
            backup = self.workspace.reset(exercise, new)
        except KqvError as exc:
            self.notify(str(exc), severity="error")
            return
        self.progress.set_level(exercise.name, new)
        kept = f"; your file is kept as {backup.name}" if backup else ""
        self.notify(f"{exercise.name}: {new} level{kept}", timeout=10)
        self.show_exercise()

    def action_edit(self) -> None:
        if self.workspace is None:
            self.action_check()  # says how to get a workspace
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        path = self.workspace.file(self.exercise)
        if not editor:
            self.notify(f"$EDITOR is not set: quit and start kqv as `EDITOR=nano kqv` (or vim, "
                        f"`code -w`...), or edit {path} in any editor", severity="warning", timeout=8)
            return
        try:
            with self.app.suspend():
                subprocess.run([*shlex.split(editor), str(path)], check=False)
        except Exception as exc:  # SuspendNotSupported (a web or headless driver), or no such editor
            self.notify(f"could not open {editor}: {exc}; edit {path} in another window", severity="error")
            return
        self.update_file_line()
        self.action_check()

    def action_init(self) -> None:
        if self.workspace is not None:
            self.notify(f"the workspace is {self.workspace.folder}")
            return
        try:
            result = init_workspace(app_workspace_dir())  # never the folder kqv was started in
        except KqvError as exc:
            self.notify(str(exc), severity="error")
            return
        self.workspace = Workspace(result.folder)
        self.progress = PracticeProgress.for_workspace(self.workspace)
        self.notify(f"wrote the workspace {result.folder}")
        self.refresh_bindings()  # i leaves the footer
        self.watch_files(self.workspace)
        self.show_exercise()
