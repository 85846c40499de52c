"""Practice progress: two kqv processes (check --watch and the Practice screen) never lose each
other's tries and hints; a file of the wrong shape is kept aside, not written over."""

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import REPO
from engine.files.paths import state_dir
from kqv_cli.cli import app
from kqv_cli.practice.practice_progress import HINTS, PracticeProgress
from kqv_cli.practice.workspace import find_workspace

# One long-lived session, as `kqv practice check --watch` or the Practice screen is: loaded
# once, then a check and a hint at a time, on a shared exercise and on one of its own.
WRITER = """
import sys
from kqv_cli.practice.practice_progress import PracticeProgress
n, own = int(sys.argv[1]), sys.argv[2]
progress = PracticeProgress.load()
for i in range(n):
    progress.record_check("feedforward", passed=False, summary=f"{own} {i}")
    progress.record_check(own, passed=i == n - 1, summary=f"try {i}")
    progress.next_hint(own)
assert progress.save_error is None, progress.save_error
"""


def test_two_sessions_loaded_at_the_same_time_keep_each_others_tries_and_hints():
    watch, screen = PracticeProgress.load(), PracticeProgress.load()
    watch.record_check("sigmoid", passed=False, summary="failing at a: wrong shape")
    screen.record_check("feedforward", passed=True, summary="all variables match")
    assert screen.next_hint("sigmoid") == 0 and watch.next_hint("sigmoid") == 1  # hints in turn
    watch.record_check("feedforward", passed=False, summary="failing at z2")
    saved = PracticeProgress.load()
    assert saved.state("sigmoid").tries == 1 and saved.state("sigmoid").hints == 2
    feedforward = saved.state("feedforward")
    assert (feedforward.tries, feedforward.passed, feedforward.last) == (2, True, "failing at z2")
    assert watch.state("feedforward").tries == 2  # each session sees what is on disk after its save


def test_the_cli_and_an_open_screen_both_count(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["practice", "init"]).exit_code == 0
    here = find_workspace()
    screen = PracticeProgress.for_workspace(here)  # the Practice screen, open since before the CLI ran
    assert runner.invoke(app, ["practice", "check", "sigmoid"]).exit_code == 1  # the starter fails
    assert runner.invoke(app, ["practice", "hint", "sigmoid"]).exit_code == 0
    screen.record_check("sigmoid", passed=False, summary="failing")
    assert screen.next_hint("sigmoid") == 1  # the CLI showed hint 0
    state = PracticeProgress.for_workspace(here).state("sigmoid")
    assert (state.tries, state.hints) == (2, 2)


def test_concurrent_processes_count_every_try_and_hint():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    n = 12
    children = [subprocess.Popen([sys.executable, "-c", WRITER, str(n), own], env=env, stderr=subprocess.PIPE,
                                 text=True) for own in ("sigmoid", "backprop")]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    saved = PracticeProgress.load()
    assert saved.state("feedforward").tries == 2 * n
    for own in ("sigmoid", "backprop"):
        state = saved.state(own)
        assert (state.tries, state.passed, state.hints, state.last) == (n, True, HINTS, f"try {n - 1}")


def test_a_file_of_the_wrong_shape_is_moved_aside_not_written_over():
    path = state_dir() / "practice.json"
    path.parent.mkdir(parents=True)
    text = json.dumps({"schema": 1, "data": [1, 2, 3]})
    path.write_text(text)
    progress = PracticeProgress.load()
    (aside,) = path.parent.glob("practice.json.corrupt-*")
    assert aside.read_text() == text and str(aside) in progress.warning
    progress.record_check("sigmoid", passed=True, summary="all variables match")
    assert PracticeProgress.load().status("sigmoid") == "passed"


def test_a_refused_save_still_counts_the_try_once(monkeypatch):
    progress = PracticeProgress.load()

    def refuse(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(progress.store), "save", refuse)
    progress.record_check("sigmoid", passed=False, summary="failing at a")
    assert progress.state("sigmoid").tries == 1 and "No space left" in progress.save_error
    assert progress.next_hint("sigmoid") == 0 and progress.state("sigmoid").hints == 1
