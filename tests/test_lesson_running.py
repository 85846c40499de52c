"""A step whose engine run takes a while: the lesson screen is drawn at once with "running…" on
its bar, keeps answering keys, and shows the step when the run ends (issue 24: < 0.2 s a step,
the badge when longer). The run is held by an event, not timed, so a busy machine cannot make
the test pass or fail; how long steps take is benchmarks/lesson_steps.py's to say."""

from __future__ import annotations

import asyncio
import threading

from pilot import pilot_test

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.lesson import LessonScreen
from kqv_cli.tui.widgets.variables_table import VariablesTable
from lessons import load_lessons
from lessons.steps import backprop

LESSON = next(lesson for lesson in load_lessons() if lesson.id == "backprop")
SIZE = (80, 24)


def held_trace(monkeypatch, trace: str) -> threading.Event:
    """Make backprop's ``trace`` wait (in the screen's worker) until the returned event is set."""
    release = threading.Event()
    run = backprop.TRACES[trace]

    def held(dims, seed):
        assert release.wait(30), "the test never released the run"
        return run(dims, seed)

    monkeypatch.setitem(backprop.TRACES, trace, held)
    return release


def bar(screen) -> str:
    return str(screen.query_one("#step-bar").render())


async def until(condition, timeout: float = 30.0) -> None:
    """Poll with plain sleeps (a held worker never lets the app go idle for pilot.pause)."""
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


@pilot_test
async def test_a_slow_step_shows_running_then_its_result(monkeypatch):
    release = held_trace(monkeypatch, "digits")
    target = next(i for i, step in enumerate(LESSON.steps) if step.trace == "digits")
    app = KqvApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, LessonScreen)
        await until(lambda: not screen.busy)
        assert "running…" not in bar(screen)
        for _ in range(target):
            await pilot.press("n")
        await asyncio.sleep(0.3)  # longer than a step may take unannounced
        assert screen.busy and screen.view.index == target - 1  # the run is still held
        assert "running…" in bar(screen) and f"{target + 1}/{len(LESSON.steps)} " in bar(screen)
        await pilot.press("v")  # the keys still work meanwhile (nothing to switch: a note)
        release.set()
        await until(lambda: not screen.busy)
        await pilot.pause()
        assert screen.view.index == target and "running…" not in bar(screen)
        assert "x" in {row.key.value for row in screen.query_one(VariablesTable).ordered_rows}


@pilot_test
async def test_opening_a_lesson_draws_the_screen_before_the_first_run_ends(monkeypatch):
    release = held_trace(monkeypatch, LESSON.steps[0].trace)
    app = KqvApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: isinstance(app.screen, LessonScreen) and app.screen.is_mounted)
        screen = app.screen
        await pilot.pause()
        assert screen.view is None and screen.busy
        assert bar(screen).startswith(f"1/{len(LESSON.steps)} {LESSON.steps[0].title}")
        assert "running…" in bar(screen)
        release.set()
        await until(lambda: not screen.busy)
        await pilot.pause()
        assert screen.view.index == 0 and "running…" not in bar(screen)


def test_the_home_screen_imports_the_lesson_screen_while_the_menu_is_read():
    """Opening the first lesson should not wait for the lesson screen's imports (~0.1 s): home
    makes them in a thread once it is drawn. A fresh interpreter, as this one has them already."""
    import subprocess
    import sys

    from conftest import REPO

    code = ("import asyncio, sys\n"
            "from kqv_cli.tui.app import KqvApp\n"
            "before = {m for m in ('kqv_cli.tui.screens.lesson', 'markdown_it') if m in sys.modules}\n"
            "async def main():\n"
            "    app = KqvApp()\n"
            "    async with app.run_test(size=(80, 24)) as pilot:\n"
            "        await pilot.pause()\n"
            "        await app.workers.wait_for_complete()\n"
            "        print(type(app.screen).__name__, sorted(before),\n"
            "              all(m in sys.modules for m in ('kqv_cli.tui.screens.lesson', 'markdown_it')))\n"
            "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["HomeScreen", "[]", "True"]


def test_a_parse_that_another_thread_broke_into_is_made_again(monkeypatch):
    """CPython 3.11 raises SystemError when two threads are in ast.parse at once (a worker
    parsing engine code while Textual parses a key action): kqv's parse tries once more."""
    import ast

    from engine import syntax
    from engine.trace import eval_dim

    real, calls = ast.parse, []

    def interrupted_once(source, mode="exec"):
        calls.append(source)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=36, after=75)")
        return real(source, mode=mode)

    monkeypatch.setattr(syntax.ast, "parse", interrupted_once)
    assert isinstance(syntax.parse("x = 1"), ast.Module) and calls == ["x = 1", "x = 1"]
    assert eval_dim("3*C + nh", {"C": 32, "nh": 4}) == 100
    assert eval_dim("3*C + nh", {"C": 8, "nh": 2}) == 26  # the parsed expression is kept
    assert calls.count("3*C + nh") <= 1


@pilot_test
async def test_a_step_shows_its_text_before_its_costly_view_is_made(monkeypatch):
    """The LayerNorm step compares two trained models (0.3 s idle): its text and variables are
    drawn at once with "running…", the comparison's notes when they are made."""
    from lessons.steps import attention

    release = threading.Event()

    def comparison():
        assert release.wait(30), "the test never released the comparison"
        return ["the comparison, made"]

    monkeypatch.setattr(attention, "layernorm_notes", comparison)
    lesson = next(lesson for lesson in load_lessons() if lesson.id == "attention")
    target = lesson.step_index("layernorm")
    app = KqvApp("attention")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        for _ in range(target):
            await until(lambda: not screen.busy)
            await pilot.press("n")
        await until(lambda: screen.view is not None and screen.view.index == target)
        await pilot.pause()
        assert screen.busy and "running…" in bar(screen) and screen.view.pending == ["ln_compare"]
        assert "LayerNorm" in screen.view.markdown
        assert not any("the comparison, made" in note for note in screen.view.notes)
        release.set()
        await until(lambda: not screen.busy)
        await pilot.pause()
        assert screen.view.index == target and not screen.view.pending and "running…" not in bar(screen)
        assert any("the comparison, made" in note for note in screen.view.notes)
