"""Progress files: concurrent sessions merge, damaged files are kept aside, nothing is lost.

The concurrency tests start real processes that save the same file at the same time.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pilot import pilot_test
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
import kqv_cli.store
from conftest import REPO
from engine.files.paths import state_dir
from kqv_cli.cli import app
from kqv_cli.lesson_progress import LessonProgress
from kqv_cli.quiz.quiz_progress import QuizProgress
from kqv_cli.store import JsonStore, move_aside

runner = CliRunner()

QUIZ_WRITER = """
import sys
from kqv_cli.quiz.quiz_progress import QuizProgress
from kqv_cli.quiz.questions import cards_for
ids = [c.card_id for c in cards_for("all")]
progress = QuizProgress.load()
for i in range(int(sys.argv[1])):
    progress.record(ids[(i * 7 + int(sys.argv[2])) % len(ids)], right=i % 2 == 0, hints_used=0)
assert progress.save_error is None, progress.save_error
"""

LESSON_WRITER = """
import sys
from kqv_cli.lesson_progress import LessonProgress
for i in range(int(sys.argv[1])):
    progress = LessonProgress.load()
    progress.mark_seen("backprop", f"{sys.argv[2]}-{i}")
    progress.set_dims("attention" if sys.argv[2] == "a" else "bridge", {"B": i})
    progress.save()
"""


def run_together(script: str, args_list: list[list[str]]) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [subprocess.Popen([sys.executable, "-c", script, *args], env=env, stderr=subprocess.PIPE,
                                 text=True) for args in args_list]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err


@pytest.mark.slow
def test_concurrent_quiz_sessions_keep_every_answer():
    sessions, answers = 4, 12
    run_together(QUIZ_WRITER, [[str(answers), str(k)] for k in range(sessions)])
    progress = QuizProgress.load()
    assert sum(s["answered"] for s in progress.stats.values()) == sessions * answers
    assert progress.streak["days"] == 1


@pytest.mark.slow
def test_concurrent_lesson_saves_unite_the_steps_seen():
    run_together(LESSON_WRITER, [["15", "a"], ["15", "b"]])
    progress = LessonProgress.load()
    assert progress.seen("backprop") == {f"{w}-{i}" for w in "ab" for i in range(15)}
    assert progress.dims("attention") == {"B": 14} and progress.dims("bridge") == {"B": 14}


def quiz_file():
    return state_dir() / "quiz.json"


@pytest.mark.parametrize("data", [
    [1, 2], {"cards": [1, 2]}, {"cards": {"a": 5}}, {"stats": {"a": {"answered": "3"}}},
    {"stats": {"a": {"answered": True}}}, {"streak": {"days": -1}}, {"streak": []},
    {"cards": {"a": {"card_id": "x", "due": "yesterday"}}},
], ids=str)
def test_a_quiz_file_of_the_right_schema_but_wrong_inner_types_is_kept_aside(data):
    quiz_file().parent.mkdir(parents=True)
    text = json.dumps({"schema": 1, "data": data})
    quiz_file().write_text(text)
    stats = runner.invoke(app, ["quiz", "--stats"])
    assert stats.exit_code == 0, stats.output
    assert quiz_file().read_text() == text and not list(quiz_file().parent.glob("*.corrupt-*"))  # --stats
    progress = QuizProgress.load()
    (aside,) = quiz_file().parent.glob("quiz.json.corrupt-*")
    assert aside.read_text() == text and str(aside) in progress.warning
    progress.record("attention.scores_shape", True, 0)
    assert QuizProgress.load().stats["attention.scores_shape"]["answered"] == 1


def test_stats_never_writes_or_moves_anything():
    quiz_file().parent.mkdir(parents=True)
    quiz_file().write_text("{not json")
    before = sorted(quiz_file().parent.iterdir())
    result = runner.invoke(app, ["quiz", "--stats"])
    assert result.exit_code == 0 and "left it as it is" in result.output
    assert sorted(quiz_file().parent.iterdir()) == before and quiz_file().read_text() == "{not json"


def test_two_files_moved_aside_in_the_same_second_keep_both(tmp_path):
    names = set()
    for i in range(5):
        path = tmp_path / "quiz.json"
        path.write_text(f"damaged {i}")
        names.add(move_aside(path))
    assert len(names) == 5 and {p.read_text() for p in names} == {f"damaged {i}" for i in range(5)}


def test_a_file_that_cannot_be_read_is_left_alone_and_never_written_over(monkeypatch):
    quiz_file().parent.mkdir(parents=True)
    quiz_file().write_text(json.dumps({"schema": 1, "data": {}}))
    real = kqv_cli.store.read_bounded

    def refuse(path, limit):  # as chmod 000 would, even when the tests run as root
        if Path(path).name == "quiz.json":
            raise PermissionError(13, "Permission denied")
        return real(path, limit)

    monkeypatch.setattr(kqv_cli.store, "read_bounded", refuse)
    progress = QuizProgress.load()
    assert "not damaged" in progress.warning and "left as it is" in progress.warning
    progress.record("attention.scores_shape", True, 0)
    assert progress.save_error and progress.stats["attention.scores_shape"]["answered"] == 1
    path = quiz_file()
    monkeypatch.setattr(kqv_cli.store, "read_bounded", real)
    assert json.loads(path.read_text()) == {"schema": 1, "data": {}}
    assert not list(path.parent.glob("*.corrupt-*"))


def test_a_lessons_file_with_list_data_is_kept_aside_not_reset_silently(tmp_path):
    (tmp_path / "lessons.json").write_text(json.dumps({"schema": 1, "data": [["backprop", "input"]]}))
    progress = LessonProgress.load(tmp_path)
    assert progress.warning and list(tmp_path.glob("lessons.json.corrupt-*"))


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX hang-up signal")
@pilot_test
async def test_a_hang_up_flushes_the_delayed_lesson_save():
    from kqv_cli.tui.app import KqvApp

    app = KqvApp("backprop")
    app.save_delay = 3600.0  # the delayed save never comes by itself: only the hang-up can write it
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("n")  # a step: its save waits for the timer
        await pilot.pause()
        assert not (state_dir() / "lessons.json").exists()
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal closes
        for _ in range(400):  # the handler runs on the event loop: give it turns until it has
            if app.return_code is not None:
                break
            await asyncio.sleep(0.05)
    assert app.return_code == 128 + signal.SIGHUP
    assert LessonProgress.load().position("backprop") is not None


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero"])
@pytest.mark.parametrize("args", [["quiz", "--stats"], ["quiz", "-n", "1", "--seed", "1"]])
@pytest.mark.slow
def test_a_progress_file_that_is_a_fifo_or_dev_zero_is_left_alone_without_a_hang(kind, args):
    path = quiz_file()
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    # in a child with a time limit: a hang or a read of /dev/zero fails this test, not the suite
    done = subprocess.run([sys.executable, "-m", "kqv_cli", *args], input="1\n", capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    assert f"warning: {path} is not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    assert path.is_fifo() if kind == "fifo" else os.readlink(path) == "/dev/zero"


def test_a_progress_file_larger_than_any_progress_is_moved_aside(monkeypatch):
    monkeypatch.setattr("kqv_cli.store.MAX_BYTES", 1000)
    path = quiz_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"schema": 1, "data": {"pad": "x" * 2000}}))
    store = JsonStore("quiz.json", 1)
    assert store.load("fresh") == "fresh"
    assert "more than the 1,000 such a file ever needs" in store.warning and "moved it to" in store.warning
    assert not path.exists()
