"""The lesson player driven by Textual's pilot at 80x24: every step of every lesson, the dims
dialog, re-run, resize, and leaving and coming back with the step kept."""

from __future__ import annotations

import asyncio
import re

import pytest
from pilot import pilot_test, record_notes

from engine.trace import eval_dim, format_shape
from kqv_cli.lesson_progress import LessonProgress
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.dims import DimsScreen
from kqv_cli.tui.screens.finish import FinishScreen
from kqv_cli.tui.screens.help import HelpScreen
from kqv_cli.tui.screens.home import HomeScreen
from kqv_cli.tui.screens.lesson import LessonScreen
from kqv_cli.tui.widgets.code_view import CodeView
from kqv_cli.tui.widgets.step_text import StepText
from kqv_cli.tui.widgets.variables_table import VariablesTable
from lessons import LessonSession, load_lessons
from lessons.curriculum import quiz_topic

pytestmark = pytest.mark.slow  # every step of every lesson walked in the app, dialogs, resizes: seconds each

LESSONS = load_lessons()
SIZE = (80, 24)


async def settle(pilot) -> None:
    """Wait until the step asked for is on screen (quicker than waiting for the worker to end)."""
    if not isinstance(pilot.app.screen, LessonScreen):
        await pilot.pause()  # just started, or just asked for a lesson: let its screen mount
    while isinstance(pilot.app.screen, LessonScreen) and pilot.app.screen.busy:
        await asyncio.sleep(0.002)


def table_shapes(app) -> dict[str, str]:
    table = app.screen.query_one(VariablesTable)
    return {name: str(table.get_row(name)[1]).strip() for name in (r.key.value for r in table.ordered_rows)}


def check_step_on_screen(app, lesson, i: int) -> None:
    screen = app.screen
    assert isinstance(screen, LessonScreen)
    assert screen.index == i and screen.view.index == i
    bar = str(screen.query_one("#step-bar").render())
    # the title, or as much of it as leaves room for the badges, ending in "…"
    shown_title = bar.removeprefix(f"{i + 1}/{len(lesson.steps)} ").split("  ")[0]
    assert shown_title == lesson.steps[i].title or (
        shown_title.endswith("…") and lesson.steps[i].title.startswith(shown_title[:-1])), bar
    shapes = table_shapes(app)
    step = lesson.steps[i]
    for name in step.show:
        numeric = format_shape(tuple(eval_dim(d, screen.view.dims) for d in step.expects[name]))
        assert name in shapes, f"{lesson.id} step {i}: {name} missing from the variables pane"
        # at 80 columns a long shape drops the spaces after its commas, to keep the max column
        shown = re.sub(r"\s", "", shapes[name])
        assert shown.startswith(numeric.replace(" ", "")), f"{name}: {shapes[name]} is not {numeric}"


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
@pilot_test
async def test_walk_every_step_forwards_and_back(lesson):
    """Every step, forwards then back. The keys (right, n, left, p) drive the first and last
    moves; the rest call the same action directly, because a pilot key press costs more than
    the step itself and this walk covers 40 steps."""
    app = KqvApp(lesson.id)
    keys_forward, keys_back = ["right", "n"], ["left", "p"]

    async def move(delta: int, i: int, keys: list[str]) -> None:
        if i < len(keys):
            await pilot.press(keys[i])
        else:
            app.screen.action_step(delta)
        await settle(pilot)

    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        last = len(lesson.steps) - 1
        for i in range(last + 1):
            check_step_on_screen(app, lesson, i)
            if i < last:
                await move(1, i, keys_forward)
        await pilot.press("n")  # n on the last step asks what next; esc stays
        await pilot.pause()
        assert isinstance(app.screen, FinishScreen)
        await pilot.press("escape")
        await settle(pilot)
        check_step_on_screen(app, lesson, last)
        for i in range(last, -1, -1):
            check_step_on_screen(app, lesson, i)
            await move(-1, last - i, keys_back)
        check_step_on_screen(app, lesson, 0)
        await pilot.press("p")  # p on the first step stays there
        await settle(pilot)
        check_step_on_screen(app, lesson, 0)


def app_at(lesson, step: int) -> KqvApp:
    """The app opening ``lesson`` at ``step``, as if the learner had left it there."""
    progress = LessonProgress.load()
    progress.mark_seen(lesson.id, lesson.steps[step].id)
    progress.save()
    return KqvApp(lesson.id)


@pilot_test
async def test_dims_dialog_changes_every_shape():
    lesson = LESSONS[0]
    field = lesson.dim_fields[0]
    # a step whose shown shapes use the field (the tiny 3-4-2 net of the first steps has its own)
    session = LessonSession(lesson)
    step = next(i for i, s in enumerate(lesson.steps)
                if any(field.name in "".join(shape) for shape in s.expects.values())
                and session.run(i).dims.get(field.name) == lesson.default_dims[field.name])
    new_value = field.minimum + 2
    if new_value == lesson.default_dims[field.name]:
        new_value += 1
    app = app_at(lesson, step)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = table_shapes(app)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, DimsScreen)
        box = app.screen.query_one(f"#dim-{field.name}")
        # out of range: the dialog says why and stays open
        box.value = str(field.maximum + 1)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DimsScreen)
        assert "between" in str(app.screen.query_one("#dims-error").render())
        box.value = ""  # the lesson's own check (kqv learn --dims runs it too) says what is missing
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, DimsScreen)
        error = str(app.screen.query_one("#dims-error").render())
        assert f"({field.label}) must be a whole number, not ''" in error
        box.value = str(new_value)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, LessonScreen)
        assert app.screen.view.dims[field.name] == new_value
        # numbers in the text follow the dims too
        assert app.screen.query_one(StepText).markdown == app.screen.view.step.markdown
        assert LessonProgress.load().dims(lesson.id)[field.name] == new_value  # kept for next time
        after = table_shapes(app)
        check_step_on_screen(app, lesson, step)
        assert after != before
        assert f"{field.name}={new_value}" in str(app.screen.query_one("#step-bar").render())
        # escape cancels without changing anything
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.view.dims[field.name] == new_value


@pilot_test
async def test_rerun_draws_a_new_input_with_the_same_shapes():
    lesson = LESSONS[0]
    app = app_at(lesson, 1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        before = {r.name: r.value.copy() for r in screen.view.records}
        shapes = table_shapes(app)
        await pilot.press("r")
        await settle(pilot)
        after = {r.name: r.value for r in screen.view.records}
        assert table_shapes(app) == shapes
        assert any(not (before[n] == after[n]).all() for n in before)


@pilot_test
async def test_leaving_keeps_the_step_and_home_shows_progress():
    lesson = LESSONS[0]
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("enter")  # the first lesson is highlighted
        await settle(pilot)
        assert isinstance(app.screen, LessonScreen) and app.screen.lesson.id == lesson.id
        await pilot.press("n", "n")
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert app.progress.position(lesson.id) == lesson.steps[2].id
        menu = app.screen.query_one("#home-menu")
        assert f"seen 3/{len(lesson.steps)} steps" in str(menu.get_option(lesson.id).prompt)
        assert menu.highlighted_option.id == "continue"  # continue where you left off
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.index == 2
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pilot_test
async def test_help_and_quiz_from_home():
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("t")
        await pilot.pause()
        from kqv_cli.tui.screens.quiz import QuizScreen

        assert isinstance(app.screen, QuizScreen)


@pilot_test
async def test_resizes_between_narrow_and_wide_layouts():
    lesson = LESSONS[0]
    app = KqvApp(lesson.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.has_class("-narrow")
        table = screen.query_one(VariablesTable)
        assert table.region.width == SIZE[0]  # the table gets the full width at 80 columns
        await pilot.resize_terminal(160, 48)
        await pilot.pause()
        assert screen.has_class("-wide")
        value = screen.query_one("#value")
        assert value.region.x > table.region.x  # side by side now
        assert table.region.height >= 10
        await pilot.resize_terminal(*SIZE)
        await pilot.pause()
        assert screen.has_class("-narrow")
        check_step_on_screen(app, lesson, 0)


@pilot_test
async def test_progress_survives_a_restart():
    lesson = LESSONS[0]
    app = KqvApp(lesson.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n", "n", "n")
        await settle(pilot)
        await pilot.press("q")  # home
        await pilot.pause()
        await pilot.press("q")  # quit
        await pilot.pause()
    again = KqvApp(lesson.id)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert again.screen.index == 3
        check_step_on_screen(again, lesson, 3)


@pilot_test
async def test_zoom_and_figure_keys():
    # a step with its own figure and many variables, so the table's cursor is far down
    lesson, step_id = next(((lesson, s.id) for lesson in LESSONS for s in lesson.steps
                            if (lesson.id, s.id) == ("attention", "it")),
                           (LESSONS[0], next(s.id for s in LESSONS[0].steps if s.extras)))
    app = app_at(lesson, lesson.step_index(step_id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause()
        screen = app.screen
        value = screen.query_one("#value")
        assert screen.query_one(VariablesTable).cursor_row > 0
        assert screen.figure() is not None
        assert value.subject[0] == screen.figure()[0]  # the step's own figure shows first
        await pilot.press("f")
        assert value.subject[0] == "record"
        await pilot.press("f", "up")  # choosing another variable shows that variable
        await pilot.pause()
        assert value.subject == ("record", screen.view.record(screen.query_one(VariablesTable).selected_name))
        if value.subject[1].value.ndim > 2:  # ] shows the next head / batch entry
            await pilot.press("right_square_bracket")
            assert value.k == 1
        screen.query_one("#value").focus()
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is value
        assert value.region.height > SIZE[1] // 2
        await pilot.press("escape")  # unzooms first, stays in the lesson
        await pilot.pause()
        assert screen.maximized is None and isinstance(app.screen, LessonScreen)


@pilot_test
async def test_the_mouse_opens_a_lesson_and_picks_a_variable():
    lesson = LESSONS[1] if len(LESSONS) > 1 else LESSONS[0]
    app = KqvApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        menu = app.screen.query_one("#home-menu")
        row = next(i for i, option in enumerate(menu.options) if option.id == lesson.id)
        # each lesson entry is three lines tall; click the middle line of the wanted one
        menu.scroll_to_highlight()
        await pilot.click("#home-menu", offset=(4, 1 + 3 * row + 1))
        await settle(pilot)
        assert isinstance(app.screen, LessonScreen) and app.screen.lesson.id == lesson.id
        await pilot.press("n", "n")
        await settle(pilot)
        if app.screen.query_one("#explanation").folded:  # a step with a picture: the table at its smallest
            await pilot.press("x")  # unfolded, the table has its usual rows
            await settle(pilot)
        table = app.screen.query_one(VariablesTable)
        first_visible = table.scroll_offset.y
        assert table.cursor_row != first_visible
        # the pane's title line, the table header, then the first visible variable
        await pilot.click(VariablesTable, offset=(3, 2))
        await pilot.pause()
        assert table.cursor_row == first_visible
        picked = app.screen.view.records[first_visible]
        assert app.screen.query_one("#value").subject == ("record", picked)


@pilot_test
async def test_a_corrupt_progress_file_warns_and_the_app_still_opens():
    path = LessonProgress.load().path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    app = KqvApp()
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        warnings = notes
        assert any("could not read" in w for w in warnings), warnings
    assert list(path.parent.glob(path.name + ".corrupt-*"))  # the old bytes were kept aside


@pilot_test
async def test_code_pane_shows_the_engine_lines_that_recorded_this_step():
    lesson = LESSONS[0]
    app = app_at(lesson, 1)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        view = app.screen.view
        pane = [line.plain for line in app.screen.query_one(CodeView).lines]
        recorded_here = {r.source for r in view.records if r.name in view.changed}
        marked = set()
        for span in view.code:
            source = span.path.read_text(encoding="utf-8").splitlines()
            top = pane.index(f"{span.name}:{span.start}-{span.end}")
            for offset, number in enumerate(range(span.start, span.end + 1), 1):
                shown = pane[top + offset]
                assert shown.rstrip().endswith(source[number - 1].rstrip())  # the real line
                assert shown.split()[0 if number not in span.current else 1] == str(number)
                if shown.startswith("❱"):
                    marked.add(f"{span.name}:{number}")
        # the statements that computed this step's variables: each record is marked on its own
        # line (a value computed in the call) or on statements before it in the same function
        assert marked and all(any(m.split(":")[0] == source.split(":")[0]
                                  and int(m.split(":")[1]) <= int(source.split(":")[1]) for m in marked)
                              for source in recorded_here)


@pilot_test
async def test_an_unknown_lesson_id_stays_home_with_a_notice():
    app = KqvApp("nosuchlesson")
    notes = record_notes(app)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert any("nosuchlesson" in note for note in notes)


@pilot_test
async def test_t_in_a_lesson_opens_the_quiz_on_its_topic_and_comes_back():
    from kqv_cli.tui.screens.quiz import QuizScreen

    lesson = LESSONS[0]
    app = app_at(lesson, len(lesson.steps) - 2)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, QuizScreen)
        assert app.screen.topic == quiz_topic(lesson.id) == "backprop"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, LessonScreen) and app.screen.index == len(lesson.steps) - 2


@pilot_test
async def test_the_values_title_keeps_the_brackets_of_a_formula():
    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = app_at(lesson, lesson.step_index("embedding"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        value = app.screen.query_one("#value")
        value.show_record(app.screen.view.record("tok_emb"))
        await pilot.pause()
        assert "tok_emb: wte[idx]" in value._border_title.plain  # not "wte" with [idx] read as markup
