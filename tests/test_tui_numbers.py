"""Numbers and labels in the lesson screen as a learner reads them (issue 24, item 9), through
Textual's pilot at the sizes the issue names: one format per matrix, token labels on every row,
whole-number ids as numbers, axis captions, and the variables table's max column at 80 columns."""

from __future__ import annotations

import re

import pytest
from pilot import go_to, pilot_test, settle
from rich.text import Text

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.widgets.value_view import ValueView
from lessons import load_lessons

pytestmark = pytest.mark.slow  # the attention lesson run in the app: a few seconds

LESSONS = {lesson.id: lesson for lesson in load_lessons()}


def value_lines(screen) -> list[str]:
    return str(screen.query_one(ValueView).query_one("#value-body").render()).splitlines()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pilot_test
async def test_the_masked_scores_keep_a_word_on_every_row_and_one_number_format(size):
    """At 160x45 the values pane beside the table is narrower than at 80x24 and the 12 rows lost
    their words to bare indices; every row now starts with its token, and every number of the
    matrix is written the same way (the same decimals, one shared power of ten at most)."""
    app = KqvApp("attention")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "mask")
        words = [w.strip() for w in screen.view.tokens[0]]
        lines = value_lines(screen)
        rows = lines[2:2 + len(words)]
        assert len(rows) == len(words)
        for word, row in zip(words, rows, strict=True):
            label = row.split()[1] if row.split()[0].isdigit() else row.split()[0]
            cut = label.endswith("…") and word.startswith(label[:-1]) and len(label) >= 4
            assert label == word or cut, row
        numbers = [cell for row in rows for cell in row.split() if re.fullmatch(r"-?\d+\.\d+", cell)]
        assert len(numbers) == 78 and len({len(n.split(".")[1]) for n in numbers}) == 1, numbers
        assert "e" not in " ".join(numbers)


@pytest.mark.parametrize("lesson_id", ["translation", "backward"])
@pilot_test
async def test_at_80_columns_the_variables_table_keeps_its_max_column_on_every_step(lesson_id):
    """The widest tables (dec.h0.cross.att_scores, h0.attn.c_proj.dw beside (B, nh, T, hs)
    shapes) pushed max past the edge at 80 columns; shapes and names give way first, and a
    step's narrow table is not kept wide by the step before it."""
    from kqv_cli.tui.widgets.variables_table import VariablesTable

    app = KqvApp(lesson_id)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for step in LESSONS[lesson_id].steps:
            screen = await go_to(pilot, lesson_id, step.id)
            table = screen.query_one(VariablesTable)
            widths = [column.get_render_width(table) for column in table.columns.values()]
            assert sum(widths) <= table.scrollable_content_region.width, (step.id, widths)
            for record in screen.view.records:
                high = str(table.get_row(record.name)[5]).strip()
                assert high == table_max(record.value), (step.id, record.name, high)
            longest = max(len(str(table.get_row(r.name)[0]).strip(" ●")) for r in screen.view.records)
            assert widths[0] <= longest + 3  # no wider than this step's own names


@pilot_test
async def test_the_variables_table_is_sized_when_filled_and_the_screen_busy_until_it_is_measured():
    """DataTable measures its cells when idle: on a busy machine a snapshot caught a step's header
    still as wide as its labels ("name shape dtype min mean max") over rows sized later. The
    columns get their widths when they are made, and the screen counts as busy until the table
    has measured its new rows (its scrollbar and scrolling follow that)."""
    from kqv_cli.tui.widgets.variables_table import VariablesTable

    app = KqvApp("backprop")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "backprop", "tiny-backward")
        table = screen.query_one(VariablesTable)
        records = screen.view.records[:2]  # fewer, shorter names: narrower columns than the step's
        before = [column.get_render_width(table) for column in table.ordered_columns]
        table.show(records, set(), None)  # and no pause: nothing idle has run since
        assert screen.busy and not table.measured
        widths = [column.get_render_width(table) for column in table.ordered_columns]
        assert widths != before
        for record in records:
            lengths = [Text(cell).cell_len if isinstance(cell, str) else cell.cell_len
                       for cell in table.get_row(record.name)]
            assert all(n <= width for n, width in zip(lengths, widths, strict=True)), (lengths, widths)
        # the header is not what sizes them (it did until the table was idle)
        labels = [column.label.cell_len for column in table.ordered_columns]
        assert any(n < width for n, width in zip(labels, widths, strict=True)), (labels, widths)
        await settle(pilot)
        assert not screen.busy and table.measured


def table_max(value) -> str:
    from kqv_cli.variable_rows import value_range

    return value_range(value, 2)[2]


@pilot_test
async def test_whitespace_tokens_label_rows_visibly_and_token_ids_stay_numbers_at_80x24():
    from pilot import record_notes

    app = KqvApp("attention")
    notes = record_notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "mask")
        value = screen.query_one(ValueView)
        # a character-level run's row: a space and a newline among the tokens
        chars = [["T", "o", " ", "b", "e", "\n", ",", "\t", "o", "r", " ", "n"]] * 2
        value.show_record(screen.view.record("h0.att_masked"), chars)
        await pilot.pause()
        labels = [line.split()[1] for line in value_lines(screen)[2:14]]  # after each row index
        assert labels == ["T", "o", "␣", "b", "e", "\\n", ",", "\\t", "o", "r", "␣", "n"]
        # token ids are labels: numbers, and v does not turn them into colour blocks
        value.show_record(screen.view.record("idx"))
        await pilot.pause()
        assert value.toggle_numbers()
        await pilot.pause()
        text = "\n".join(value_lines(screen))
        assert "▀" not in text and str(int(screen.view.record("idx").value[0, 0])) in value_lines(screen)[2]
        assert any("token ids are labels" in note for note in notes)


@pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=lambda s: f"{s[0]}x{s[1]}")
@pilot_test
async def test_a_b_t_c_heatmap_says_which_batch_row_and_which_axes_whole_in_the_pane(size):
    app = KqvApp("attention")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "mlp-out")
        value = screen.query_one(ValueView)
        value.show_record(screen.view.record("h0.x_out"))  # (B, T, C): too wide for numbers
        await pilot.pause()
        lines = value_lines(screen)
        assert "▀" in "\n".join(lines)
        assert "(2, 12, 32) = (B, T, C)  batch 0/2 · rows T, cols C · [ ] switch" in lines[0]
        assert max(len(line) for line in lines) <= value.scrollable_content_region.width
