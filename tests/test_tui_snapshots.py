"""Snapshots of the real app, built by ``KqvApp`` as the CLI builds it: fixed seed, fixed terminal
size, an empty state folder (conftest), the engine worker finished before the picture is taken.

Update after a deliberate change of the screens with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the new SVGs under ``tests/__snapshots__/`` before committing.

The code pane shows real engine lines with their line numbers, which move whenever anyone edits
the engine; in these pictures it shows only the file names instead, so an engine edit does not
break them. The pilot tests check the code pane's lines against the engine source.
"""

from __future__ import annotations

import pytest
from rich.text import Text

from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.widgets.code_view import CodeView
from lessons import load_lessons

LESSONS = {lesson.id: lesson for lesson in load_lessons()}


@pytest.fixture(autouse=True)
def code_pane_without_line_numbers(monkeypatch):
    def show(self, spans):
        names = sorted({span.name for span in spans})
        self.lines = [Text(name, style="bold") for name in names]
        self.lines.append(Text("(engine lines: see the pilot tests)", style="dim"))
        self._strips.clear()
        self.virtual_size = self.virtual_size.with_height(len(self.lines))
        self.refresh()

    monkeypatch.setattr(CodeView, "show", show)


def at_step(lesson_id: str, step_id: str):
    """A ``run_before`` that walks to a step with ``n`` and waits for the engine each time."""

    async def walk(pilot) -> None:
        await settled(pilot)
        for _ in range(LESSONS[lesson_id].step_index(step_id)):
            await pilot.press("n")
            await settled(pilot)
        await pilot.pause()

    return walk


async def settled(pilot) -> None:
    """The engine run done and its step on screen, new rows scrolled into view."""
    await pilot.app.workers.wait_for_complete()
    for _ in range(200):
        await pilot.pause()
        if not getattr(pilot.app.screen, "busy", False):
            return


class TestHome:
    def test_home_80x24(self, snap_compare):
        """A first run: no data set here, the data line says so and names D."""
        assert snap_compare(KqvApp(), terminal_size=(80, 24))

    def test_home_60x20(self, snap_compare):
        """Under 80x24: one line asks for a larger terminal where the footer would be cut."""
        assert snap_compare(KqvApp(), terminal_size=(60, 20))

    def test_information_in_the_footer_line_80x24(self, snap_compare):
        """esc on home: a short piece of information in the footer's line, not a toast."""
        assert snap_compare(KqvApp(), terminal_size=(80, 24), press=["escape"])

    def test_data_dialog_80x24(self, snap_compare):
        """D: each data set, what it is for, its size and the command that fetches it."""
        assert snap_compare(KqvApp(), terminal_size=(80, 24), press=["D"])


class TestLab:
    def test_lab_80x24(self, snap_compare):
        """The lab on a first run: enter Run in the footer, and the question says the GPT text is
        downloaded first (nothing is cached, so no experiment is marked)."""
        assert snap_compare(KqvApp(), terminal_size=(80, 24), press=["l"])


class TestBackpropStep:
    def test_tiny_net_backward_80x24(self, snap_compare):
        """The tiny 3-4-2 net after backprop: small matrices as numbers, current lines marked."""
        app = KqvApp("backprop")
        assert snap_compare(app, terminal_size=(80, 24), run_before=at_step("backprop", "tiny-backward"))

    def test_tiny_net_backward_wide(self, snap_compare):
        """Same step at 140x40: explanation and code above, variables and values side by side."""
        app = KqvApp("backprop")
        assert snap_compare(app, terminal_size=(140, 40), run_before=at_step("backprop", "tiny-backward"))


class TestAttentionMask:
    def test_mask_step_80x24(self, snap_compare):
        """The causal mask at 80x24: the masked scores selected and shown as numbers, −inf in grey."""
        app = KqvApp("attention")
        assert snap_compare(app, terminal_size=(80, 24), run_before=at_step("attention", "mask"))

    def test_mask_step_100x30(self, snap_compare):
        """At 100x30: the text across the full width, the 12x12 masked scores as numbers with
        row and column indices, −inf above the diagonal."""
        app = KqvApp("attention")
        assert snap_compare(app, terminal_size=(100, 30), run_before=at_step("attention", "mask"))


class TestDigitFigure:
    def test_digit_80x24(self, snap_compare):
        """Backprop's input step at 80x24: the text folded to three lines, the 28x28 digit thinned
        alike in rows and columns (24 x 24), not to three lines of 28 columns."""
        app = KqvApp("backprop")
        assert snap_compare(app, terminal_size=(80, 24), run_before=at_step("backprop", "input"))
