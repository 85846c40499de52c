"""The Quiz screen, driven by Textual's pilot: ask, hint, answer, derivation, next, back."""

from __future__ import annotations

import json

import pytest
from pilot import pilot_test
from test_tui_keys import help_of
from textual.app import App
from textual.widgets import Input, Static

from engine.files.paths import state_dir
from kqv_cli.quiz.questions import BY_ID
from kqv_cli.quiz.scheduler import LEVEL_NOTE
from kqv_cli.tui import STYLESHEET
from kqv_cli.tui.screens.quiz import QuizScreen

pytestmark = pytest.mark.slow  # whole quiz rounds in the app

SIZE = (100, 30)


class QuizHost(App):
    """A bare app that opens the quiz over its own default screen, as the lessons do."""

    CSS_PATH = STYLESHEET

    def __init__(self, topic: str, **kwargs):
        super().__init__()
        self.topic, self.kwargs = topic, kwargs

    def on_mount(self) -> None:
        self.push_screen(QuizScreen(self.topic, **self.kwargs))


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def answer(pilot, text: str) -> None:
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")
    await pilot.pause()


def saved_stats() -> dict:
    return json.loads((state_dir() / "quiz.json").read_text())["data"]["stats"]


@pilot_test
async def test_hint_wrong_answer_derivation_then_right_answer():
    app = QuizHost("backprop", count=3, seed=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuizScreen)
        q = screen.session.current
        assert q.ask in text_of(screen, "#quiz-question")
        assert screen.query_one(Input).has_focus

        await pilot.press("h")  # the hint key on an empty answer box, while it has the focus
        await pilot.pause()
        assert f"hint 1: {q.hints[0]}" in text_of(screen, "#quiz-feedback")
        assert screen.query_one(Input).value == ""  # "?" was not typed into the answer

        await answer(pilot, "@@")  # unreadable: a format hint, asked again, not marked wrong
        assert "could not read" in text_of(screen, "#quiz-feedback")
        assert not screen.session.answered and screen.session.wrong == 0

        await answer(pilot, "(99991, 3, 3, 3, 3)" if q.kind == "shape" else "1")
        feedback = text_of(screen, "#quiz-feedback")
        assert "✗ not quite" in feedback and q.answer_text() in feedback
        assert q.derivation[0] in feedback and "engine/digits/network.py:" in feedback
        assert saved_stats()[q.card_id] == {"answered": 1, "right": 0, "last_right": False}

        await pilot.press("enter")  # next question
        await pilot.pause()
        q2 = screen.session.current
        assert q2 is not q and q2.ask in text_of(screen, "#quiz-question")
        await answer(pilot, q2.answer_text())
        assert "✓ right" in text_of(screen, "#quiz-feedback")
        assert screen.session.right == 1
        assert "2/3 · ✓ 1 ✗ 1" in text_of(screen, "#quiz-bar")


@pilot_test
async def test_typing_h_asks_for_a_hint_and_a_hinted_answer_is_hard():
    app = QuizHost("attention", count=1, seed=2)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        q = screen.session.current
        assert q.topic == "attention"
        await pilot.press("h")  # the hint key
        await pilot.pause()
        await pilot.press(*"hint", "enter")  # or the word, typed
        await pilot.pause()
        assert "hint 2:" in text_of(screen, "#quiz-feedback")
        await answer(pilot, q.answer_text())
        assert "after 2 hints" in text_of(screen, "#quiz-feedback")
        await pilot.press("enter")  # the round of one is over
        await pilot.pause()
        assert "Round done" in text_of(screen, "#quiz-question")


@pilot_test
async def test_escape_and_q_go_back():
    app = QuizHost("all", count=2, seed=1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuizScreen)

        app.push_screen(QuizScreen("backprop", count=2, seed=1))
        await pilot.pause()
        screen = app.screen
        await pilot.press("q")  # typed into the answer box while answering
        await pilot.pause()
        assert isinstance(app.screen, QuizScreen) and screen.query_one(Input).value == "q"
        await answer(pilot, screen.session.current.answer_text())
        await pilot.press("q")  # once the answer is shown, q goes back
        await pilot.pause()
        assert not isinstance(app.screen, QuizScreen)


@pilot_test
async def test_opened_from_the_lesson_player():
    from kqv_cli.tui.app import KqvApp

    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_quiz("attention")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, QuizScreen) and screen.session.current.topic == "attention"
        await answer(pilot, screen.session.current.answer_text())
        assert "✓ right" in text_of(screen, "#quiz-feedback")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, QuizScreen)


def test_snapshot_question_with_its_first_hint(snap_compare):
    """The first backprop question at 80x24, seed fixed, after "h": setting, question, hint, input."""
    assert snap_compare(QuizHost("backprop", count=3, seed=4), terminal_size=(80, 24),
                        press=["h"])


@pilot_test
async def test_letters_toggle_asks_the_waiting_question_in_letters_and_an_old_error_goes():
    app = QuizHost("attention", count=2, seed=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        card = screen.session.current.card_id
        assert not screen.session.current.symbolic
        await answer(pilot, "hello")  # cannot be read: a format hint, not a mark
        assert "could not read" in text_of(screen, "#quiz-feedback")
        await pilot.press("ctrl+l")
        await pilot.pause()
        q = screen.session.current
        assert q.card_id == card and q.symbolic  # the same card, now in letters
        assert "could not read" not in text_of(screen, "#quiz-feedback")
        await answer(pilot, "hello")
        await answer(pilot, q.answer_text())  # (B, nh, T, hs)-style letters are accepted
        feedback = text_of(screen, "#quiz-feedback")
        assert "✓ right" in feedback and "could not" not in feedback and "use the letters" not in feedback


@pilot_test
async def test_x_and_hello_are_both_unreadable_and_neither_counts_as_a_try():
    app = QuizHost("backprop", count=1, seed=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        for text in ("x", "hello", "()"):
            await answer(pilot, text)
            feedback = text_of(screen, "#quiz-feedback")
            assert f"could not read {text!r}" in feedback and "✗" not in feedback
            assert not screen.session.answered and screen.session.wrong == 0
        assert "✗ 0" in text_of(screen, "#quiz-bar")


@pilot_test
async def test_round_end_names_the_concepts_missed_and_when_each_comes_back():
    app = QuizHost("backprop", count=1, seed=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        card = screen.session.current.card_id
        await answer(pilot, "(1, 2, 3, 4, 5)")  # wrong
        await pilot.press("enter")  # the round of one is over
        await pilot.pause()
        end = " ".join(text_of(screen, "#quiz-question").split())
        title = BY_ID[card].title  # the concept by its name, not only its id
        assert "Round done" in end and f"{title} ({card}): comes back in " in end
        assert "Your level now: backprop 0" in end and LEVEL_NOTE in end


@pilot_test
async def test_the_level_in_the_bar_is_explained_under_the_question_and_in_help():
    app = QuizHost("backprop", count=1, seed=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert "level 0" in text_of(screen, "#quiz-bar")
        question = " ".join(text_of(screen, "#quiz-question").split())
        assert LEVEL_NOTE in question
        await pilot.press("question_mark")
        await pilot.pause()
        assert LEVEL_NOTE in " ".join(help_of(app).split())


@pilot_test
async def test_a_long_round_end_opens_at_its_first_line_at_80x24():
    app = QuizHost("backprop", count=8, seed=4)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        for _ in range(8):  # every answer wrong: eight concepts to list
            await answer(pilot, "(99991, 3, 3, 3, 3)" if screen.session.current.kind != "count" else "1")
            await pilot.press("enter")
            await pilot.pause()
        await pilot.pause()
        body = screen.query_one("#quiz-body")
        assert "Round done: 0 of 8 right" in text_of(screen, "#quiz-question")
        assert body.max_scroll_y > 0 and body.scroll_y == 0  # longer than the pane, shown from the top


@pilot_test
async def test_the_quiz_bar_names_the_concept_not_the_internal_card_id():
    # issue 24: the header showed "backprop.weight_shape"
    app = QuizHost("backprop", count=3, seed=4)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        q = screen.session.current
        bar = text_of(screen, "#quiz-bar")
        assert q.card_id not in bar and BY_ID[q.card_id].title in bar, bar


@pilot_test
async def test_ctrl_l_twice_asks_the_very_same_question_and_a_hint_clears_could_not_read():
    # issue 24: ctrl+l drew a new question of the card; a stale "could not read" sat under a hint
    app = QuizHost("attention", count=2, seed=3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        before = text_of(screen, "#quiz-question")
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert screen.session.current.symbolic
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert text_of(screen, "#quiz-question") == before  # the same dimensions, not a new draw

        await answer(pilot, "@@")
        assert "could not read" in text_of(screen, "#quiz-feedback")
        screen.query_one(Input).value = ""  # h asks for a hint on an empty answer box
        await pilot.press("h")
        await pilot.pause()
        feedback = text_of(screen, "#quiz-feedback")
        assert "hint 1" in feedback and "could not read" not in feedback
