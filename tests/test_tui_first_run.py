"""What a newcomer meets first, driven by Textual's pilot: the home screen's data line and its
download dialog (against a local server: no network here), the Practice screen's workspace
(never written into the folder the app was started from), and `e` without $EDITOR."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from local_http import serve
from pilot import pilot_test, record_notes, screen_lines
from test_data_cli import tiny_mnist
from test_mnist import closed_port_url

from engine.data import eng_fra, mnist, shakespeare
from engine.data.download import download
from kqv_cli.practice.workspace import MARKER, app_workspace_dir, find_workspace
from kqv_cli.services.datasets import DATA_SETS, DataSet
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.data import DataScreen
from kqv_cli.tui.screens.help import HelpScreen
from kqv_cli.tui.screens.home import HomeScreen
from kqv_cli.tui.screens.practice import PracticeScreen

PLAY = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50
PAIRS = "".join(f"I see {n} cats.\tJe vois {n} chats.\n" for n in range(42)).encode()


@pytest.fixture
def mirrors(monkeypatch):
    """A local server holding a tiny MNIST, a stand-in Tiny Shakespeare and a small data.zip, and
    the engine's addresses and checksums pointed at them: every download step is the real one."""
    files, entries = tiny_mnist()
    files.update({"input.txt": PLAY, "data.zip": eng_fra.zip_of(PAIRS)})
    monkeypatch.setattr(mnist, "MNIST_FILES", entries)
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SHA256", hashlib.sha256(PLAY).hexdigest())
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SIZE", len(PLAY))
    monkeypatch.setattr(eng_fra, "EXPECTED_PAIRS", 42)
    with serve(files) as server:
        monkeypatch.setattr(mnist, "MNIST_MIRRORS", [server.url])
        monkeypatch.setattr(shakespeare, "SHAKESPEARE_URLS", [server.url + "input.txt"])
        monkeypatch.setattr(eng_fra, "ENG_FRA_URLS", [server.url + "data.zip"])
        yield server


def shown(app) -> str:
    """The screen's text with its line breaks and box edges folded into single spaces."""
    return " ".join(" ".join(line.strip(" │") for line in screen_lines(app)).split())


async def until(pilot, condition, seconds: float = 30.0) -> None:  # a hang guard, no budget
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)
        await pilot.pause()


# -- the data sets: the home line and the D dialog -----------------------------------------------


@pilot_test
async def test_home_says_what_is_missing_and_d_downloads_it_with_progress(mirrors, monkeypatch):
    from kqv_cli.tui.screens.data import forget_found_data
    from lessons.steps import digit_images, translation

    # MNIST's row turns ✓ when Tiny Shakespeare's first progress line reaches the screen; on a
    # busy machine the worker could have the whole small file in place by then, both rows ✓ at
    # once. Its last chunk waits (before the file is put in place) until the screen showed MNIST's.
    mnist_ticked = threading.Event()
    fetch_shakespeare = shakespeare.fetch_shakespeare

    def fetch_after_mnists_tick(on_progress=None, *args, **kwargs):
        def progress(done, total, label):
            on_progress(done, total, label)
            if done == total:  # always posted to the screen, whatever the time since the last
                mnist_ticked.wait(30)
        return fetch_shakespeare(progress if on_progress else None, *args, **kwargs)

    monkeypatch.setattr(shakespeare, "fetch_shakespeare", fetch_after_mnists_tick)
    forget_found_data()  # what an earlier test in this process left remembered
    assert not digit_images.lesson_digits(2, seed=0, split="test").real  # stand-ins, remembered
    assert "not on this machine" in translation.real_pair_note()
    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "data: ✗ MNIST ✗ Tiny Shakespeare ✗ English–French pairs · D fetches them" in shown(app)
        assert "D Data" in screen_lines(app)[-1]
        await pilot.press("D")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DataScreen)
        assert "not here · 11 MB · `kqv data mnist`" in shown(app)
        statuses, rows = [], []
        screen.set_status = lambda text, keep=screen.set_status: (statuses.append(str(text)), keep(text))[1]
        def show_sets(keep=screen.show_sets):
            keep()
            rows.append(str(screen.query_one("#data-list").render()))
            if "✓ MNIST" in rows[-1]:
                mnist_ticked.set()

        screen.show_sets = show_sets
        await pilot.press("D")  # D again, as on home (enter does the same)
        await until(pilot, lambda: not screen.running)
        assert all(ds.find() is not None for ds in DATA_SETS)  # in the cache, verified
        assert any(s.startswith("Tiny Shakespeare  " + "█" * 24) and s.endswith("input.txt")
                   for s in statuses), statuses  # its bar, full at the end
        assert any("data.zip" in s for s in statuses) and any("-idx3-ubyte.gz" in s for s in statuses)
        assert "done: every data set is here" in shown(app)
        assert any("✓ MNIST" in r and "✗ Tiny Shakespeare" in r for r in rows)  # MNIST's row ticked first
        # the lessons look again: the stand-ins they remembered are forgotten
        assert digit_images._pool.cache_info().currsize == 0
        assert "not on this machine" not in translation.real_pair_note()
        assert shown(app).count("here: ") == 3
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        assert "data: ✓ MNIST ✓ Tiny Shakespeare ✓ English–French pairs" in shown(app)
        assert "D fetches them" not in shown(app)


@pilot_test
async def test_the_train_screen_says_mnist_once_d_on_home_has_fetched_it(mirrors):
    """The app keeps one Train screen, and its line was written when it was first opened: after
    D fetched MNIST it still said synthetic digits until kqv restarted."""
    from textual.widgets import Static

    from kqv_cli.tui.screens.train import TrainScreen

    def status() -> str:
        return str(app.screen.query_one("#train-status", Static).render())

    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        train = app.screen
        assert isinstance(train, TrainScreen)
        assert "d: the digit net (synthetic digits: no MNIST here" in status()
        await pilot.press("escape", "D")
        await pilot.pause()
        await pilot.press("D")
        await until(pilot, lambda: not app.screen.running)
        await pilot.press("escape", "m")
        await pilot.pause()
        assert app.screen is train
        assert "d: the digit net (MNIST)" in status()


@pilot_test
async def test_a_failed_download_is_one_line_in_the_dialog(monkeypatch):
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [closed_port_url()])  # no network
    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("D", "enter")
        screen = app.screen
        await until(pilot, lambda: not screen.running)
        status = str(screen.query_one("#data-status").render())
        assert status.startswith("could not download: MNIST is not on this machine and could not download")
        assert "\n" not in status and "Traceback" not in shown(app)
        assert "✗ MNIST" in shown(app) and isinstance(app.screen, DataScreen)


@pilot_test
async def test_esc_stops_a_download_at_its_next_chunk_and_a_second_esc_closes(monkeypatch):
    went_on = threading.Event()
    stopped = threading.Event()

    def slow_fetch(self, on_progress=None):  # a download that never ends by itself
        done = 0
        try:
            while True:
                on_progress(done, 10_000_000, "slow.gz")
                done += 65536
                went_on.set()
                time.sleep(0.01)
        except BaseException:
            stopped.set()
            raise

    monkeypatch.setattr(DataSet, "fetch", slow_fetch)
    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("D", "enter")
        await until(pilot, went_on.is_set)
        await until(pilot, lambda: "slow.gz" in shown(app))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DataScreen) and "download stopped" in shown(app)
        await until(pilot, stopped.is_set)  # the thread stopped at its next chunk
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)


def test_a_cancel_from_the_progress_callback_leaves_no_partial_file(tmp_path):
    class Stop(Exception):
        pass

    def on_progress(done, total, label):
        if done:
            raise Stop

    body = bytes(range(256)) * 1024  # four chunks
    with serve({"big.bin": body}) as server, pytest.raises(Stop):
        download([server.url + "big.bin"], tmp_path / "d" / "big.bin", on_progress=on_progress)
    assert not (tmp_path / "d").exists()  # nor the folder made for it


# -- practice ----------------------------------------------------------------------------------


@pilot_test
async def test_practice_i_is_in_the_footer_and_writes_in_kqvs_data_folder(tmp_path, monkeypatch, request):
    # the screen shows the data folder's path (and the note naming it) at 80 columns: how they
    # wrap decides what is seen, so the path has a fixed length (in /tmp), not pytest's tmp_path,
    # whose length changes with its run number and under pytest-xdist (popen-gw0/)
    short = Path(tempfile.mkdtemp(prefix="kqv-a-data-folder-path-of-fixed-length-x"))
    request.addfinalizer(lambda: shutil.rmtree(short, ignore_errors=True))
    monkeypatch.setenv("KQV_STATE_DIR", str(short / "state"))
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
        assert footer.startswith(" i Init") and footer.rstrip().endswith("? Help"), footer  # whole at 80
        assert str(app_workspace_dir()) in " ".join(" ".join(screen_lines(app)).split())
        await pilot.press("i")
        await pilot.pause()
        assert list(checkout.iterdir()) == []  # nothing written where the app was started
        assert (app_workspace_dir() / MARKER).is_file()
        assert app_workspace_dir().is_relative_to(short / "state")  # kqv's data folder
        assert any("wrote the workspace" in note for note in notes)
        footer = screen_lines(app)[-1]
        assert "i Init" not in footer and "c Check" in footer and footer.rstrip().endswith("? Help"), footer
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


# -- a terminal under 80x24 ------------------------------------------------------------------


@pilot_test
async def test_under_80x24_a_line_asks_for_a_larger_terminal_instead_of_a_cut_footer():
    app = KqvApp()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        for key in ("", "l", "m"):  # home, then the lab and the train screens
            if key:
                await pilot.press(key)
                await pilot.pause()
            last = screen_lines(app)[-1].strip()
            assert last == "make the terminal larger (needs 80×24; now 60×20) · ? help", (key, last)
            if key:
                await pilot.press("escape")
                await pilot.pause()
        await pilot.press("question_mark")  # the keys are a press away
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and "help · Home" in shown(app)
        await pilot.press("escape")
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "Quit" in screen_lines(app)[-1] and "larger" not in shown(app)  # the footer is back
        await pilot.press("l")
        await pilot.pause()
        await pilot.resize_terminal(100, 20)  # too short, though wide enough
        await pilot.pause()
        assert "now 100×20" in screen_lines(app)[-1]
        await pilot.press("escape")
        await pilot.pause()
        assert "now 100×20" in screen_lines(app)[-1]  # home, resized behind the lab, says so too


@pilot_test
async def test_the_lab_says_when_it_would_train_on_stand_ins():
    from textual.widgets import OptionList, Static

    from kqv_cli.tui.screens.lab import LabScreen

    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LabScreen)
        menu = screen.query_one(OptionList)
        notes = {}
        for name in ("relu", "heads", "tx-no-cross", "tx-no-positions"):
            menu.highlighted = [o.id for o in menu.options].index(name)
            await pilot.pause()
            notes[name] = " ".join(str(screen.query_one("#lab-question", Static).render()).split())
        assert notes["relu"].endswith("on synthetic digits: no MNIST here (D on the home screen fetches it)")
        assert notes["heads"].endswith("Tiny Shakespeare is not here: the run downloads it (1.1 MB) first")
        assert notes["tx-no-cross"].endswith("no English-French pairs here (D on the home screen "
                                             "fetches them)")
        assert "here" not in notes["tx-no-positions"]  # built-in pairs by design: nothing to fetch


# -- short information in the footer's line, not a toast over the answer box ------------------


@pilot_test
async def test_a_short_information_shows_in_the_footer_line_for_a_moment(monkeypatch):
    from textual.widgets import Input

    from kqv_cli.tui.screens import base
    from kqv_cli.tui.screens.quiz import QuizScreen

    monkeypatch.setattr(base, "SAY_SECONDS", 0.3)
    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.open_quiz("backprop")
        await pilot.pause()
        assert isinstance(app.screen, QuizScreen)
        await pilot.press("ctrl+l")
        await pilot.pause()
        lines = screen_lines(app)
        assert lines[-1].strip().startswith("answer in letters"), lines[-1]
        assert not list(app._notifications)  # no toast over the answer box
        box = app.screen.query_one(Input).region
        assert "answer in letters" not in " ".join(lines[box.y:box.bottom])
        await asyncio.sleep(0.5)
        await pilot.pause()
        assert "Letters/numbers" in screen_lines(app)[-1]  # the keys are back
        app.notify("a warning stays a toast, to be read", severity="warning")
        await pilot.pause()
        assert [n.message for n in app._notifications] == ["a warning stays a toast, to be read"]
