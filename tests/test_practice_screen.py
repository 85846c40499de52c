"""The Practice screen, driven by Textual's pilot: checks in a worker, survives an endless loop,
re-checks on save, opens from home and from a lesson step that has an exercise."""

from __future__ import annotations

import asyncio
import time

import pytest
from pilot import pilot_test
from textual.app import App
from textual.widgets import Static

from kqv_cli.practice.workspace import init_workspace
from kqv_cli.tui import STYLESHEET
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.practice import PracticeScreen
from lessons.practice import find_exercise, solution_file

pytestmark = pytest.mark.slow  # a real check in a child process, one that loops until its time limit

SIZE = (100, 34)
ENDLESS = "def feedforward(a, weights, biases):\n    while True:\n        pass\n"


class PracticeHost(App):
    CSS_PATH = STYLESHEET

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def on_mount(self) -> None:
        self.push_screen(PracticeScreen(**self.kwargs))


def text_of(screen, selector: str) -> str:
    widget = screen.query_one(selector, Static)
    return str(widget.render())


def plain_text(screen, selector: str) -> str:
    """What a Static shows as plain text, a rich Group (the result: story and table) included."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), width=200)
    console.print(screen.query_one(selector, Static).content)
    return console.file.getvalue()


async def wait_for(pilot, condition, seconds: float = 120.0) -> None:  # a hang guard, no budget
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
        await pilot.pause()


@pilot_test
async def test_an_endless_loop_times_out_while_the_keys_still_answer(tmp_path):
    folder = init_workspace(tmp_path / "ws").folder
    (folder / "feedforward.py").write_text(ENDLESS)
    app = PracticeHost(exercise="feedforward", folder=folder, timeout=4.0)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await pilot.pause()
        assert screen.checking
        await pilot.press("h")  # answered while the child loops (how fast: benchmarks/tui_latency.py)
        await pilot.pause()
        assert "hint 1 of 3" in text_of(screen, "#practice-hint")
        assert screen.checking and screen.report is None  # the check had not ended: the key did not wait
        await wait_for(pilot, lambda: screen.report is not None)
        assert screen.report.kind == "timeout"
        assert "longer than 4 s" in " ".join(screen.report.story)
        assert "feedforward" in text_of(screen, "#practice-bar")


@pilot_test
async def test_saving_the_file_checks_it_again(tmp_path):
    folder = init_workspace(tmp_path / "ws").folder
    app = PracticeHost(exercise="sigmoid", folder=folder)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None)
        assert screen.report.status == "not_written"
        solution = solution_file(find_exercise("sigmoid")).read_text()
        for _ in range(10):  # saved again if the watcher had not started yet
            (folder / "sigmoid.py").write_text(solution)
            deadline = time.monotonic() + 3
            while not screen.report.passed and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                await pilot.pause()
            if screen.report.passed:
                break
        await wait_for(pilot, lambda: screen.report.passed and not screen.checking)
        assert "passed" in text_of(screen, "#practice-bar")
        assert [row.ok for row in screen.report.rows] == [True, True]


@pilot_test
async def test_home_and_a_lesson_step_with_an_exercise_open_practice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen)
        assert "no practice workspace" in text_of(app.screen, "#practice-file")
        await pilot.press("escape")
        await pilot.pause()
        app.open_lesson("backprop")
        await pilot.pause()
        lesson = app.screen
        lesson.index = [s.id for s in lesson.lesson.steps].index("layer3")
        assert lesson.step_exercise() == "feedforward"
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen) and app.screen.exercise.name == "feedforward"


@pilot_test
async def test_at_80x24_the_bar_shows_the_current_result_and_the_verdict_is_in_view(tmp_path):
    from kqv_cli.practice.practice_progress import PracticeProgress
    from kqv_cli.practice.workspace import Workspace

    folder = init_workspace(tmp_path / "ws").folder
    PracticeProgress.for_workspace(Workspace(folder)).record_check("feedforward", True, "passed")
    source = solution_file(find_exercise("feedforward")).read_text()
    (folder / "feedforward.py").write_text(source.replace("w @ a + b", "(w @ a + b).T"))
    app = PracticeHost(exercise="feedforward", folder=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None and not screen.checking)
        screen.action_check()
        assert "checking…" in text_of(screen, "#practice-bar")  # until the check reports
        await wait_for(pilot, lambda: not screen.checking)
        await pilot.press("h")  # a hint shows below the result, not above it
        await pilot.pause()
        bar = text_of(screen, "#practice-bar")
        assert "failing at z2: wrong shape" in bar and "passed" not in bar  # not the stored pass
        assert screen.report.story[0] in plain_text(screen, "#practice-result")
        result = screen.query_one("#practice-result", Static)
        assert result.region.y + 2 < 24 - 1  # the verdict and its diagnosis above the footer
        assert screen.exercise.text[:30] not in text_of(screen, "#practice-text")  # the intro folded


@pilot_test
async def test_after_a_pass_next_names_the_following_exercise_and_the_picker_filters(tmp_path):
    folder = init_workspace(tmp_path / "ws").folder
    (folder / "sigmoid.py").write_text(solution_file(find_exercise("sigmoid")).read_text())
    app = PracticeHost(exercise="sigmoid", folder=folder)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.report is not None and not screen.checking)
        assert screen.report.passed
        assert "next: feedforward" in plain_text(screen, "#practice-result")
        await pilot.press("n")
        await pilot.pause()
        assert screen.exercise.name == "feedforward"
        await pilot.press("l")
        await pilot.pause()
        picker = app.screen
        assert picker is not screen
        listing = picker.query_one("#picker-list")

        def shown():
            return [listing.get_option_at_index(i).id for i in range(listing.option_count)]

        assert len(shown()) == len(screen.exercises)
        await pilot.press(*"atten")
        await pilot.pause()
        assert "attention" in shown() and "sigmoid" not in shown()
        await pilot.press(*"tion_")
        await pilot.pause()
        assert shown() == ["attention_backward"]
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and screen.exercise.name == "attention_backward"
