"""The lesson screen's layout at 80x24 and 100x30, as a learner meets it: the text has the room
to be read, the step's new rows are in view, and the mask step shows numbers, not colour blocks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pilot import go_to, pilot_test, settle
from rich.console import Console
from rich.markdown import Markdown

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.widgets.step_text import StepText
from kqv_cli.tui.widgets.value_view import ValueView
from kqv_cli.tui.widgets.variables_table import VariablesTable
from lessons import LessonSession, load_lessons

pytestmark = pytest.mark.slow  # every step laid out at several terminal sizes: seconds each

LESSONS = load_lessons()
SIZES = [(80, 24), (100, 30)]


def wrapped_lines(markdown: str, width: int) -> int:
    console = Console(width=width, file=io.StringIO(), record=True)
    console.print(Markdown(markdown))
    return len(console.export_text().rstrip("\n").splitlines())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pilot_test
async def test_the_first_paragraph_of_every_step_reads_with_at_most_one_key(size):
    """The text pane is measured once on screen; every step's first paragraph, wrapped to its
    width, must fit in two pages of it (what is shown, then one press of space)."""
    app = KqvApp("backprop")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        text = app.screen.query_one(StepText)
        width, height = text.scrollable_content_region.width, text.scrollable_content_region.height
    assert width >= size[0] - 4, "the text should have the full width below 120 columns"
    assert height >= size[1] // 3
    tiny_gpt2 = str(Path(__file__).parent / "data" / "gpt2-tiny")  # the texts written for GPT-2 too
    sessions = [LessonSession(lesson) for lesson in LESSONS]
    sessions += [LessonSession(lesson, model=tiny_gpt2) for lesson in LESSONS if lesson.id == "attention"]
    for session in sessions:
        lesson = session.lesson
        for i, step in enumerate(lesson.steps):
            first = session.run(i).markdown.strip().split("\n\n")[0]
            lines = wrapped_lines(first, width)
            assert lines <= 2 * height, f"{lesson.id} {step.id}: first paragraph is {lines} lines"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pilot_test
async def test_mlp_step_shows_its_new_rows_and_the_mask_step_its_numbers(size):
    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = KqvApp("attention")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, lesson.id, "mlp")
        table = screen.query_one(VariablesTable)
        visible = table.scrollable_content_region.height - table.header_height
        top = round(table.scroll_y)
        names = [row.key.value for row in table.ordered_rows]
        on_screen = names[top: top + visible]
        assert "h0.mlp.c_fc.w" in on_screen or "h0.ln_2" in on_screen, on_screen
        assert table.selected_name in on_screen
        first_new = names.index(min(screen.view.changed, key=names.index))
        assert top == min(first_new, round(table.max_scroll_y))  # the new rows first (or all in view)

        screen = await go_to(pilot, lesson.id, "mask")
        assert table.selected_name == "h0.att_masked"
        value = str(screen.query_one(ValueView).query_one("#value-body").render())
        assert "−inf" in value and "▀" not in value, "the mask step should show numbers"
        lines = value.splitlines()
        words = screen.view.tokens[0]
        assert words[:3] == ["the", "pizza", "came"]
        heads = lines[1].split()[-len(words):]  # a key column per token, cut to the cell if need be
        for head, word in zip(heads, words, strict=True):
            assert head == word or (head.endswith("…") and word.startswith(head[:-1])), heads
        assert "the" in lines[2] and ("pizza" in lines[3] or "piz…" in lines[3])  # a query row per token
        await pilot.press("v")  # colour blocks on request, and back
        assert "▀" in str(screen.query_one(ValueView).query_one("#value-body").render())
        await pilot.press("v")
        assert "−inf" in str(screen.query_one(ValueView).query_one("#value-body").render())

        # from a step whose view fits the pane to one taller than it: the numbers are drawn
        # beside the scrollbar that comes, so the pane never has to scroll sideways
        for step_id in ("loss", "scores"):
            screen = await go_to(pilot, lesson.id, step_id)
        value = screen.query_one(ValueView)
        assert value.show_vertical_scrollbar and value.max_scroll_x == 0


@pilot_test
async def test_space_scrolls_the_text_from_the_variables_pane_and_c_swaps_in_the_code():
    app = KqvApp("attention")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        text = screen.query_one(StepText)
        assert isinstance(screen.focused, VariablesTable)
        assert "more" in str(text.border_title)  # the title says there is more below
        row = screen.query_one(VariablesTable).cursor_row
        await pilot.press("space")
        await pilot.pause()
        assert text.scroll_y > 0 and screen.query_one(VariablesTable).cursor_row == row
        await pilot.press("pageup")
        await pilot.pause()
        assert text.scroll_y == 0
        await pilot.press("c")
        await pilot.pause()
        assert not text.display and screen.query_one("#code").display
        await pilot.press("c")
        await pilot.pause()
        assert text.display


@pytest.mark.parametrize("lesson_id", ["attention", "bridge"])
@pilot_test
async def test_dims_dialog_at_80x24_reads_whole_labels_and_lists_every_head_count(lesson_id):
    """Each label in full, left of its number box; a head count that does not divide C is refused
    in the dialog's own words (no n_embd/n_head), with every valid count in order."""
    from textual.widgets import Input, Label

    from kqv_cli.tui.screens.dims import DimsScreen

    app = KqvApp(lesson_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, DimsScreen)
        for row in dialog.query(".dim-row"):
            label, box = row.query_one(".dim-label", Label), row.query_one(Input)
            text = str(label.render())
            assert text.endswith(")") and len(text) <= label.content_region.width, text  # never cut
            assert label.content_region.right < box.region.x  # a gap before the number
        dialog.query_one("#dim-C", Input).value = "30"
        dialog.query_one("#dim-nh", Input).value = "4"
        await pilot.press("enter")
        await pilot.pause()
        error = dialog.query_one("#dims-error")
        message = str(error.render())
        assert "channels per token (C) = 30 is not divisible by attention heads (nh) = 4" in message
        assert message.endswith("nh can be 1, 2, 3, 5, 6, 10, 15") and "n_embd" not in message
        box = dialog.query_one("#dims-box").region
        assert box.contains_region(error.region) and box.bottom <= 24
        assert error.region.height >= 3  # wrapped in the box, not cut at its edge


@pilot_test
async def test_every_step_opens_on_what_it_is_about_at_100x30():
    """Each step of each lesson selects one of its new rows, or a variable it shows and names
    (select: in the lesson file, or its text); the step's first new row is the top one (or as
    high as the table scrolls) and the selected row is in view."""
    for lesson in LESSONS:
        app = KqvApp(lesson.id)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            for step in lesson.steps:
                screen = await go_to(pilot, lesson.id, step.id)
                view, table = screen.view, screen.query_one(VariablesTable)
                assert view.step.id == step.id
                names = [row.key.value for row in table.ordered_rows]
                shown = {name for name in names if name.rstrip("′") in step.show}
                where = f"{lesson.id} {step.id}: {table.selected_name}"
                assert table.selected_name == view.select, where
                assert table.selected_name in view.changed | shown, where
                if step.select:
                    assert table.selected_name.rstrip("′") == step.select, where
                visible = table.scrollable_content_region.height - table.header_height
                top = round(table.scroll_y)
                assert top <= names.index(table.selected_name) < top + visible, where
                first_new = min(names.index(name) for name in view.changed)
                selected = names.index(view.select)
                if selected >= first_new:  # the new rows first, as many as fit above the selected one
                    lowest = round(table.max_scroll_y)
                    assert top == min(max(first_new, selected - visible + 1), lowest), where
                else:  # a variable of an earlier step selected: the new rows still in view
                    assert first_new < top + visible, where


@pilot_test
async def test_mask_step_shows_numbers_beside_the_table_at_160x45():
    """Side by side (from 120 columns) the values pane is what the table leaves: at 160 columns
    that is enough for the 12 masked columns as numbers (no gap after the last cell is needed)."""
    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = KqvApp("attention")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, lesson.id, "mask")
        value = screen.query_one(ValueView)
        text = str(value.query_one("#value-body").render())
        assert text.count("−inf") == 66 and "▀" not in text
        assert value.max_scroll_x == 0


@pilot_test
async def test_step_bar_shows_whole_dims_or_an_ellipsis_never_a_cut_number():
    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = KqvApp("attention")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for step_id in ("tokens", "embedding"):
            screen = await go_to(pilot, lesson.id, step_id)
            bar = str(screen.query_one("#step-bar").render())
            assert len(bar) <= 78 and bar.endswith(" …"), bar
            shown = [word for word in bar.split() if "=" in word]
            assert shown and all(word in {f"{k}={v}" for k, v in screen.view.dims.items()} for word in shown)
        await pilot.resize_terminal(160, 30)
        await pilot.pause()
        assert str(screen.query_one("#step-bar").render()).endswith(f"· {lesson.title}")


@pilot_test
async def test_a_last_step_title_too_long_for_the_bar_ends_in_an_ellipsis_and_keeps_its_badge():
    # issue 24: on the last step the title and the "last step: n what next" badge ran off the edge
    for lesson in LESSONS:
        app = KqvApp(lesson.id)
        async with app.run_test(size=(60, 20)) as pilot:
            await settle(pilot)
            screen = await go_to(pilot, lesson.id, lesson.steps[-1].id)
            bar = str(screen.query_one("#step-bar").render())
            assert len(bar) <= 58 and "last step: n what next" in bar, (lesson.id, bar)
            title = lesson.steps[-1].title
            assert title in bar or bar.split("  ")[0].endswith("…"), (lesson.id, bar)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pilot_test
async def test_code_pane_opens_on_the_line_that_masks(size):
    # issue 24: c on the mask step opened at the function's def, the marker 26 lines down on the
    # tracer.record line; it opens on the marked line, and that is np.copyto(att, -np.inf, ...)
    from kqv_cli.tui.widgets.code_view import CodeView

    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = KqvApp("attention")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, lesson.id, "mask")
        if size[0] < 120:
            await pilot.press("c")
            await pilot.pause()
        code = screen.query_one(CodeView)
        assert code.display
        top, height = round(code.scroll_offset.y), code.scrollable_content_region.height
        on_screen = [line.plain for line in code.lines[top: top + height]]
        marked = code.lines[code.first_current].plain
        assert "np.copyto(att, -np.inf, where=hidden)" in marked, marked
        assert marked in on_screen, (top, on_screen)
        marked_lines = [line for line in code.lines if line.plain.startswith("❱")]
        assert not any("tracer.record" in line.plain for line in marked_lines), marked_lines


@pilot_test
async def test_code_pane_gets_half_the_top_row_at_160_columns_and_a_cut_line_ends_in_an_ellipsis():
    # issue 24: at 160x45 the code pane had ~52 columns and cut long lines with no ellipsis
    from kqv_cli.tui.widgets.code_view import CodeView

    lesson = next(lesson for lesson in LESSONS if lesson.id == "attention")
    app = KqvApp("attention")
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, lesson.id, "mask")
        code = screen.query_one(CodeView)
        width = code.scrollable_content_region.width
        assert width >= 75, width
        rows = [code.render_line(y).text for y in range(code.scrollable_content_region.height)]
        top = round(code.scroll_offset.y)
        for y, row in enumerate(rows):
            if top + y < len(code.lines) and code.lines[top + y].cell_len > width:
                assert row.rstrip().endswith("…"), row
            else:
                assert "…" not in row[-1:], row
        assert any(row.rstrip().endswith("…") for row in rows)  # the mask step's span has long lines
