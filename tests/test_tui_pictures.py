"""Issue 24, items 1 and 4: the picture a step's text points at is visible at 80x24 and 100x30,
and the values pane is drawn for the size it has, on opening, after a resize and a zoom.

What is asserted is what a learner sees: the lines of the screen itself (``screen_lines``),
not only the widgets' state.
"""

from __future__ import annotations

from pilot import go_to, pilot_test, screen_lines, settle

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.widgets.step_text import StepText
from kqv_cli.tui.widgets.value_view import ValueView
from kqv_cli.tui.widgets.variables_table import VariablesTable


def pane_lines(app, widget) -> list[str]:
    """The lines of the screen inside ``widget``'s content region."""
    region = widget.content_region
    return [line[region.x: region.right] for line in screen_lines(app)[region.y: region.bottom]]


def text_height(screen) -> int:
    return screen.query_one(StepText).scrollable_content_region.height


@pilot_test
async def test_mask_step_at_80x24_shows_every_row_of_att_masked_and_space_unfolds_the_text():
    app = KqvApp("attention")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "mask")
        words = screen.view.tokens[0]
        value = screen.query_one(ValueView)
        shown = pane_lines(app, value)
        rows = [line for line in shown if line.split()[:1] and line.split()[0] in {w[:5] for w in words}
                or line.lstrip().startswith(("tast…",))]
        assert len(rows) == 12, shown  # a query row per token, all on screen
        assert sum(line.count("−inf") for line in shown) == 66  # the whole triangle
        assert shown[1].split()[:3] == ["q↓", "k→", "the"]  # the column heads: one line
        # the text is folded to a few lines, and its title says how to read on
        text = screen.query_one(StepText)
        assert 3 <= text_height(screen) <= 4 and text.folded
        assert "folded" in str(text.border_title) and "space" in str(text.border_title)
        assert "space More" in screen_lines(app)[-1]  # the key that unfolds it, in the footer
        table = screen.query_one(VariablesTable)
        assert "h0.att_masked" in "".join(pane_lines(app, table))  # the selected row stays in view

        await pilot.press("space")  # unfold: the text at its usual height, the matrix thinned
        await pilot.pause()
        assert text_height(screen) >= 8 and not text.folded and text.scroll_y == 0
        await pilot.press("space")  # then page by page as before
        await pilot.pause()
        assert text.scroll_y > 0
        await pilot.press("x")  # fold again: the matrix whole
        await pilot.pause()
        await pilot.pause()
        assert text.folded and sum(line.count("−inf") for line in pane_lines(app, value)) == 66
        assert "h0.att_masked" in "".join(pane_lines(app, table))

        screen = await go_to(pilot, "attention", "softmax")  # another picture step folds again
        assert screen.query_one(StepText).folded
        screen = await go_to(pilot, "attention", "qkv")  # a step that points at no picture does not
        assert not screen.query_one(StepText).folded and text_height(screen) >= 8


def digit_lines(app, value) -> list[str]:
    return [line.strip() for line in pane_lines(app, value) if line.strip() and set(line.strip()) == {"▀"}]


@pilot_test
async def test_backprop_digit_keeps_its_aspect_at_80x24_and_is_whole_at_100x30():
    app = KqvApp("backprop")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "backprop", "input")
        value = screen.query_one(ValueView)
        assert str(value.border_title).startswith("figure: x[:, 0] as 28x28")
        lines = digit_lines(app, value)
        # was 3 lines of 28 columns; now at least 12 lines (24 of the 28 rows), columns alike
        assert len(lines) >= 12, lines
        assert {len(line) for line in lines} == {2 * len(lines)}  # 2 pixel rows a line: square
        assert screen.query_one(StepText).folded
        await pilot.resize_terminal(100, 30)
        await settle(pilot)
        lines = digit_lines(app, value)
        assert len(lines) == 14 and {len(line) for line in lines} == {28}  # every pixel


@pilot_test
async def test_values_pane_is_drawn_for_its_own_size_on_opening_a_lesson():
    """Issue 24 item 4: the pane drew at the wrong height on opening (backward step 1 at 100x30,
    bridge step 1 at 80x24). Every drawing is made for the pane's size at that moment, never
    for a pane that has no size yet, and the last one for the size it ends with."""
    for lesson_id, size in (("backward", (100, 30)), ("bridge", (80, 24))):
        drawn: list[tuple[int, int, int, int]] = []
        render = ValueView.render_subject

        def spy(self, width, height, render=render, drawn=drawn):
            if height is not None:  # a drawing for the screen, not a measurement
                region = self.scrollable_content_region
                drawn.append((width, height, region.width, region.height))
            return render(self, width, height)

        ValueView.render_subject = spy
        try:
            app = KqvApp(lesson_id)
            async with app.run_test(size=size) as pilot:
                await settle(pilot)
                value = app.screen.query_one(ValueView)
                region = value.scrollable_content_region
                shown = [line for line in pane_lines(app, value) if line.strip()]
        finally:
            ValueView.render_subject = render
        assert drawn, lesson_id
        assert all(h == rh > 0 and w <= rw for w, h, rw, rh in drawn), (lesson_id, drawn)
        assert drawn[-1][1] == region.height, (lesson_id, drawn[-1], region)
        assert len(shown) >= min(region.height, 3), shown


@pilot_test
async def test_values_pane_after_a_resize_from_100x30_to_80x24_and_a_zoom():
    """Issue 24 item 4: after this the pane once showed a column header split over two lines and
    no values until v was pressed twice. The header is one line and the rows are drawn, zoomed
    and back."""
    app = KqvApp("attention")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "scores")
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        value = screen.query_one(ValueView)
        value.focus()
        await pilot.press("z")
        await settle(pilot)
        assert screen.maximized is value
        shown = pane_lines(app, value)
        words = screen.view.tokens[0]
        assert shown[1].split()[:3] == ["q↓", "k→", words[0]] and shown[1].rstrip().endswith(words[-1])
        rows = [line for line in shown[2:] if line.strip()]
        assert len(rows) == len(words) and all(len(row.split()) == len(words) + 1 for row in rows), shown
        await pilot.press("z")
        await settle(pilot)
        shown = pane_lines(app, value)
        assert shown[1].split()[:3] == ["q↓", "k→", words[0]]
        rows = [line for line in shown[2:] if line.strip()]
        assert rows and all(len(row.split()) == len(words) + 1 for row in rows), shown


@pilot_test
async def test_zooming_a_picture_step_and_back_settles_and_keeps_the_fold():
    """z on a folded step's values pane fills the screen with the figure; the screen is not
    left 'busy' while zoomed (the panes' own heights do not apply then), and z puts the fold back."""
    app = KqvApp("attention")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await go_to(pilot, "attention", "softmax")
        text = screen.query_one(StepText)
        assert text.folded
        value = screen.query_one(ValueView)
        value.focus()
        await pilot.press("z")
        await pilot.pause()
        await pilot.pause()
        assert screen.maximized is value and not screen.busy
        assert value.region.height > 20
        await pilot.press("z")
        await settle(pilot)
        assert screen.maximized is None and text.folded and not screen.busy
        assert 3 <= text_height(screen) <= 4
