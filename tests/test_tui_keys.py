"""One key, one meaning, on every screen: ``?`` opens help listing that screen's own keys, ``esc``
goes back (stopping first what runs), ``q`` goes back (quits on home) unless a text box takes it."""

from __future__ import annotations

import io

import pytest
from pilot import pilot_test, settle
from rich.console import Console
from textual.widgets import Input, Static

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.base import KqvScreen
from kqv_cli.tui.screens.help import HelpScreen
from kqv_cli.tui.screens.home import HomeScreen
from kqv_cli.tui.screens.lab import LabScreen
from kqv_cli.tui.screens.lesson import LessonScreen
from kqv_cli.tui.screens.quiz import QuizScreen
from kqv_cli.tui.screens.train import TrainScreen

pytestmark = pytest.mark.slow  # every screen opened and left by its keys

SIZE = (80, 24)


def help_of(app) -> str:
    """The help page's text as the learner reads it."""
    assert isinstance(app.screen, HelpScreen), f"? opened {app.screen!r}, not help"
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(app.screen.query_one("#help-text", Static).content)
    return console.export_text()


async def check_help(pilot, screen_type, own_key: str, own_text: str) -> None:
    """? on this screen opens help naming one of its own keys and no other screen's; esc closes."""
    app = pilot.app
    assert isinstance(app.screen, screen_type)
    await pilot.press("question_mark")
    await pilot.pause()
    text = help_of(app)
    assert own_key in text and own_text in text, f"{screen_type.__name__}'s help lacks {own_key}"
    assert "esc" in text and "?" in text
    await pilot.press("escape")
    await pilot.pause()
    assert isinstance(app.screen, screen_type), "esc on help did not return to the screen"


@pilot_test
async def test_every_screen_has_its_help_and_esc_goes_back():
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await check_help(pilot, HomeScreen, "t", "quiz on the chosen lesson's topic")
        for key, screen_type, own_key, own_text in [
            ("l", LabScreen, "f", "ignoring the cache"),
            ("m", TrainScreen, "g", "train the character GPT"),
            ("t", QuizScreen, "h", "a hint"),
            ("enter", LessonScreen, "z", "zoom"),
        ]:
            await pilot.press(key)
            await settle(pilot)
            await check_help(pilot, screen_type, own_key, own_text)
            if screen_type is LessonScreen:  # a lesson's help is not home's
                assert "choose a lesson" not in help_of_after(app)
            await pilot.press("escape")
            await settle(pilot)
            assert isinstance(app.screen, HomeScreen), f"esc on {screen_type.__name__} did not go home"
        await pilot.press("escape")  # home has nothing to go back to: esc does not quit
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen) and app.is_running


def help_of_after(app) -> str:
    return " ".join(key + " " + text for key, text in app.screen.help_keys())


@pilot_test
async def test_q_goes_back_everywhere_and_quits_from_home_but_is_a_letter_in_the_answer_box():
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        for key, screen_type in [("l", LabScreen), ("m", TrainScreen), ("enter", LessonScreen)]:
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type)
            await pilot.press("q")
            await settle(pilot)
            assert isinstance(app.screen, HomeScreen), f"q on {screen_type.__name__} did not go back"
        await pilot.press("t")
        await pilot.pause()
        quiz = app.screen
        assert isinstance(quiz, QuizScreen) and isinstance(quiz.focused, Input)
        await pilot.press("x", "q")
        assert app.screen is quiz and quiz.query_one(Input).value == "xq"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


def test_help_lists_bindings_it_reads_from_the_screen_not_a_copy():
    """Every binding with a description shows in help, so a new key cannot be left out of it."""
    for screen_type in (HomeScreen, LessonScreen, QuizScreen, LabScreen, TrainScreen):
        assert issubclass(screen_type, KqvScreen)
        actions = {b.action for b in screen_type.BINDINGS if b.description}
        assert {"help"} <= actions


@pilot_test
async def test_finishing_a_lesson_leads_to_the_next_one_and_home_marks_it_done():
    from kqv_cli.tui.screens.finish import FinishScreen

    app = KqvApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        lesson = app.lesson("backprop")
        for step in lesson.steps:  # as if every step was read
            app.progress.mark_seen("backprop", step.id)
        screen = app.screen
        screen.index = len(lesson.steps) - 1
        screen.request_step(new_step=True)
        await settle(pilot)
        await pilot.press("n")  # n on the last step: what next?
        await pilot.pause()
        assert isinstance(app.screen, FinishScreen)
        await pilot.press("escape")  # stay
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("enter")  # the first offer: the next lesson
        await settle(pilot)
        assert isinstance(app.screen, LessonScreen) and app.screen.lesson.id == app.lessons[1].id
        await pilot.press("escape")
        await settle(pilot)
        home = app.screen
        assert isinstance(home, HomeScreen)
        first = str(home.lesson_prompt(lesson, None))
        assert "✓ finished" in first and "continue at" not in first
        app.progress.last = "backprop"  # even when the finished lesson was the last one open...
        assert home.continue_lesson().id == app.lessons[1].id  # ...continue goes to the next


@pilot_test
async def test_help_names_each_key_once_by_its_own_name():
    # issue 24: the lesson's help said "space or space" for space and page down
    app = KqvApp("backprop")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LessonScreen)
        keys = dict((text, key) for key, text in app.screen.help_keys())
        assert keys["scroll the explanation down, from any pane"] == "space or pgdn", keys
        for key in keys.values():
            names = key.split(" or ")
            assert len(names) == len(set(names)), key


@pilot_test
async def test_the_lessons_g_is_in_its_footer_where_the_footer_has_room_and_acts_at_any_width():
    """g (the attention lesson on GPT-2) was in no footer. At 80x24 the footer is full: g stays
    out of it, the footer is whole to its ? Help, and g still acts; at 120x30 it reads g GPT-2,
    and once the steps run on GPT-2 it says where g goes back to."""
    from pilot import record_notes, screen_lines

    app = KqvApp("attention")
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        footer = screen_lines(app)[-1].rstrip()
        assert footer.endswith("? Help") and "d Dims" in footer and "g " not in footer, footer
        await pilot.press("g")  # no GPT-2 in this test's empty cache: g says how to get it
        await pilot.pause()
        assert any("kqv data gpt2" in note for note in notes), notes
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        await pilot.pause()
        footer = screen_lines(app)[-1].rstrip()
        assert "d Dims  g GPT-2  esc Home  ? Help" in footer and footer.endswith("? Help"), footer
        needed = len(footer) + 1  # the last key's trailing space
        for width, shown in ((needed, True), (needed - 1, False)):  # g from the first width it fits
            await pilot.resize_terminal(width, 30)
            await settle(pilot)
            await pilot.pause()
            footer = screen_lines(app)[-1].rstrip()
            assert footer.endswith("? Help") and ("g GPT-2" in footer) == shown, (width, footer)
        await pilot.resize_terminal(120, 30)
        screen._real = True  # as after g with GPT-2 here
        screen.refresh_bindings()
        await pilot.pause()
        assert "g Own model" in screen_lines(app)[-1]
        await pilot.resize_terminal(*SIZE)
        await settle(pilot)
        await pilot.pause()
        footer = screen_lines(app)[-1].rstrip()
        assert footer.endswith("? Help") and "Own model" not in footer, footer
