"""What a newcomer meets first, driven by Textual's pilot: the home screen's data line and its
download dialog (against a local server: no network here), the Practice screen's workspace
(never written into the folder the app was started from), and `e` without $EDITOR."""

from __future__ import annotations

from pilot import pilot_test, record_notes, screen_lines

from kqv_cli.practice.workspace import MARKER, app_workspace_dir, find_workspace
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.practice import PracticeScreen


@pilot_test
async def test_practice_i_is_in_the_footer_and_writes_in_kqvs_data_folder(tmp_path, monkeypatch):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)  # the app started inside a checkout must leave it alone
    app = KqvApp()
    notes = record_notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(app.screen, PracticeScreen)
        footer = screen_lines(app)[-1]
        assert "i Init" in footer and "? Help" in footer, footer  # the key to press, in view at 80 columns
        assert str(app_workspace_dir()) in " ".join(" ".join(screen_lines(app)).split())
        await pilot.press("i")
        await pilot.pause()
        assert list(checkout.iterdir()) == []  # nothing written where the app was started
        assert (app_workspace_dir() / MARKER).is_file()
        assert app_workspace_dir().is_relative_to(tmp_path / "state")  # kqv's data folder (conftest's)
        assert any("wrote the workspace" in note for note in notes)
        assert "i Init" not in screen_lines(app)[-1]  # a workspace is there: nothing left to init
    # the CLI finds the app's workspace too, from any folder
    assert find_workspace(start=tmp_path).folder == app_workspace_dir().resolve()


@pilot_test
async def test_e_without_editor_says_how_to_set_it_in_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    app = KqvApp()
    notes = record_notes(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_practice("sigmoid")
        await pilot.pause()
        await pilot.press("i", "e")
        await pilot.pause()
        said = [note for note in notes if "EDITOR" in note]
        assert len(said) == 1 and "\n" not in said[0], notes
        assert "EDITOR=nano kqv" in said[0] and str(app_workspace_dir() / "sigmoid.py") in said[0]
