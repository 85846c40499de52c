"""`kqv practice` end to end through typer's runner: the workspace, checks, hints, every bad input."""

from __future__ import annotations

import re
import threading
import time

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from kqv_cli.practice.practice_progress import PracticeProgress
from kqv_cli.practice.watch import watch_saves
from kqv_cli.practice.workspace import MARKER, find_workspace
from lessons.practice import find_exercise, load_exercises, solution_file, starter_file

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["practice", *args])


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init")
    assert result.exit_code == 0, result.output
    return tmp_path / "kqv-practice"


def error_line(result) -> str:
    """The one line a user error prints (stderr is mixed into output by the runner)."""
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_init_writes_one_file_per_exercise_and_the_helpers(workspace):
    for exercise in load_exercises():
        assert (workspace / f"{exercise.name}.py").read_text() == starter_file(exercise).read_text()
    assert (workspace / "kqv_practice.py").is_file() and (workspace / "README.md").is_file()
    assert (workspace / MARKER).is_file()


def test_init_again_never_overwrites_an_edited_file_and_adds_missing_ones(workspace):
    (workspace / "sigmoid.py").write_text("# mine\n")
    (workspace / "feedforward.py").unlink()
    result = invoke("init", str(workspace))
    assert result.exit_code == 0, result.output
    assert (workspace / "sigmoid.py").read_text() == "# mine\n"
    starter = starter_file(find_exercise("feedforward")).read_text()
    assert (workspace / "feedforward.py").read_text() == starter
    assert "added 1 exercise file: feedforward.py" in result.output


def test_workspace_is_found_from_a_subfolder_from_the_env_and_from_dir(workspace, tmp_path, monkeypatch):
    sub = workspace / "notes" / "deeper"
    sub.mkdir(parents=True)
    assert find_workspace(start=sub).folder == workspace.resolve()
    assert find_workspace(start=tmp_path).folder == workspace.resolve()  # ./kqv-practice
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("KQV_PRACTICE_DIR", str(workspace))
    assert find_workspace().folder == workspace.resolve()
    monkeypatch.delenv("KQV_PRACTICE_DIR")
    assert invoke("check", "sigmoid", "--dir", str(workspace)).exit_code == 1  # found; not written yet


def test_check_starter_then_solution_records_progress(workspace):
    result = invoke("check", "sigmoid")
    assert result.exit_code == 1 and "not written yet" in result.output
    (workspace / "sigmoid.py").write_text(solution_file(find_exercise("sigmoid")).read_text())
    result = invoke("check", "sigmoid")
    assert result.exit_code == 0, result.output
    assert "sigmoid(z)" in result.output and "✓" in result.output and "passed" in result.output
    state = PracticeProgress.for_workspace(find_workspace()).state("sigmoid")
    assert state.passed and state.tries == 2
    listing = invoke()
    assert listing.exit_code == 0
    assert "passed" in listing.output and "not started" in listing.output
    assert listing.output.index("sigmoid") < listing.output.index("feedforward")


def test_check_without_a_name_takes_the_first_exercise_not_passed(workspace):
    result = invoke("check")
    assert "sigmoid" in result.output and result.exit_code == 1


def test_list_shows_the_first_wrong_variable_of_a_failing_exercise(workspace):
    source = solution_file(find_exercise("feedforward")).read_text()
    (workspace / "feedforward.py").write_text(source.replace("w @ a + b", "(w @ a + b).T"))
    assert invoke("check", "feedforward").exit_code == 1
    progress = PracticeProgress.for_workspace(find_workspace())
    assert progress.status("feedforward") == "failing at z2: wrong shape"
    assert "failing at z2" in invoke("list").output


def test_reset_restores_the_starter_and_keeps_a_backup(workspace):
    (workspace / "sigmoid.py").write_text("# my attempt\n")
    result = invoke("reset", "sigmoid")
    assert result.exit_code == 0, result.output
    assert (workspace / "sigmoid.py").read_text() == starter_file(find_exercise("sigmoid")).read_text()
    backups = list(workspace.glob("sigmoid.py.*.bak"))
    assert [b.read_text() for b in backups] == ["# my attempt\n"]


def test_reset_of_an_untouched_starter_leaves_no_backup(workspace):
    result = invoke("reset", "sigmoid")
    assert result.exit_code == 0 and "kept as" not in result.output
    assert list(workspace.glob("*.bak")) == []


def test_progress_is_kept_per_workspace(workspace, tmp_path):
    (workspace / "sigmoid.py").write_text(solution_file(find_exercise("sigmoid")).read_text())
    assert invoke("check", "sigmoid").exit_code == 0
    assert invoke("init", str(tmp_path / "ws2")).exit_code == 0
    fresh = PracticeProgress.for_workspace(find_workspace(tmp_path / "ws2"))
    assert fresh.status("sigmoid") == "not started"
    listing = invoke("--dir", str(tmp_path / "ws2"))
    assert "passed" not in listing.output
    assert PracticeProgress.for_workspace(find_workspace()).status("sigmoid") == "passed"


def test_giving_up_is_shown_in_the_list(workspace):
    assert invoke("solution", "sigmoid", "--give-up").exit_code == 0
    assert PracticeProgress.for_workspace(find_workspace()).status("sigmoid") == "gave up"
    assert "gave up" in invoke("list").output
    (workspace / "sigmoid.py").write_text(solution_file(find_exercise("sigmoid")).read_text())
    assert invoke("check", "sigmoid").exit_code == 0
    assert PracticeProgress.for_workspace(find_workspace()).status("sigmoid") == "passed (gave up)"


def test_a_misspelt_exercise_name_suggests_the_close_one(workspace):
    result = invoke("check", "attenton")
    assert result.exit_code == 2
    assert "no exercise called 'attenton'; did you mean attention?" in error_line(result)


def test_a_watched_check_says_when_it_ran(workspace, capsys):
    from kqv_cli.commands.practice import _check_one

    progress = PracticeProgress.for_workspace(find_workspace())
    _check_one(find_workspace(), find_exercise("sigmoid"), progress, 10.0, quiet_errors=True, stamp=True)
    first = next(line for line in capsys.readouterr().out.splitlines() if "sigmoid" in line)
    assert re.search(r"\d\d:\d\d:\d\d · sigmoid", first), first


def test_hints_come_in_order_and_stop_at_the_third(workspace):
    hints = find_exercise("sigmoid").hints
    outputs = [invoke("hint", "sigmoid").output for _ in range(4)]
    assert hints[0][:40] in outputs[0] and hints[1][:40] in outputs[1] and hints[2][:40] in outputs[2]
    assert "hint 3 of 3" in outputs[3]
    assert PracticeProgress.for_workspace(find_workspace()).state("sigmoid").hints == 3


def test_solution_needs_a_pass_or_give_up_and_piped_it_is_the_plain_passing_file(workspace):
    result = invoke("solution", "feedforward")
    assert result.exit_code == 2 and "--give-up" in error_line(result)
    result = invoke("solution", "feedforward", "--give-up")
    assert result.exit_code == 0
    assert result.output == solution_file(find_exercise("feedforward")).read_text()
    (workspace / "feedforward.py").write_text(result.output)
    assert invoke("check", "feedforward").exit_code == 0


def test_watch_rechecks_after_a_save(workspace):
    exercise = find_exercise("sigmoid")
    checked, stop = [], threading.Event()
    ws = find_workspace(workspace)

    def on_save(ex):
        checked.append(ex.name)
        stop.set()

    thread = threading.Thread(target=watch_saves, args=(ws, on_save), kwargs={"only": exercise, "stop": stop})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not checked and time.monotonic() < deadline:  # saved again until the watcher is up
            (workspace / "sigmoid.py").write_text(solution_file(exercise).read_text())
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(10)
    assert checked[:1] == ["sigmoid"]
    assert not thread.is_alive()


# -- bad input: one line, exit 2 -------------------------------------------------------------


def test_no_workspace_names_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("check", "sigmoid")
    assert result.exit_code == 2 and "kqv practice init" in error_line(result)


def test_unknown_exercise_lists_the_names(workspace):
    result = invoke("check", "sigmoidd")
    assert result.exit_code == 2
    assert "sigmoid, feedforward" in error_line(result)


def test_syntax_error_names_file_line_and_message(workspace):
    (workspace / "sigmoid.py").write_text("import numpy as np\n\ndef sigmoid(z)\n    return z\n")
    result = invoke("check", "sigmoid")
    assert result.exit_code == 2
    line = error_line(result)
    assert "sigmoid.py:3: syntax error" in line and "expected ':'" in line


def test_a_renamed_function_names_the_expected_one(workspace):
    (workspace / "sigmoid.py").write_text("def sigmoidd(z):\n    return z\n")
    result = invoke("check", "sigmoid")
    assert result.exit_code == 2
    assert "no function called sigmoid (the file defines sigmoidd)" in error_line(result)


@pytest.mark.parametrize(("body", "said"), [
    ("return [a]", "returned a list of 1; it should return one array, a3"),
    ("return None", "returned None; it should return one array, a3"),
    ("return a, a", "returned a tuple of 2; it should return one array, a3"),
])
def test_a_wrong_return_type_says_what_is_expected(workspace, body, said):
    (workspace / "feedforward.py").write_text(f"def feedforward(a, weights, biases):\n    {body}\n")
    result = invoke("check", "feedforward")
    assert result.exit_code == 2
    assert said in error_line(result)


def test_nan_in_a_result_is_a_wrong_answer_exit_1(workspace):
    source = solution_file(find_exercise("feedforward")).read_text()
    (workspace / "feedforward.py").write_text(source.replace("w @ a + b", "w @ a + b * np.nan"))
    result = invoke("check", "feedforward")
    assert result.exit_code == 1
    assert "z2 holds NaN or inf" in result.output and "error:" not in result.output


def test_a_changed_signature_is_named_not_a_typeerror_in_the_harness(workspace):
    (workspace / "feedforward.py").write_text("def feedforward(a, weights):\n    return a\n")
    result = invoke("check", "feedforward")
    assert result.exit_code == 2
    line = error_line(result)
    assert ("feedforward(a, weights) cannot take the check's arguments, "
            "feedforward(a, weights, biases)") in line
    assert "keep the starter's signature" in line and "harness" not in line


def test_a_deleted_exercise_file_says_how_to_get_it_back(workspace):
    (workspace / "sigmoid.py").unlink()
    result = invoke("check", "sigmoid")
    assert result.exit_code == 2 and "kqv practice reset sigmoid" in error_line(result)


def test_a_workspace_that_cannot_be_written_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = invoke("init", str(blocker / "ws"))
    assert result.exit_code == 2 and "cannot" in error_line(result)
    result = invoke("init", str(blocker))
    assert result.exit_code == 2 and "not a folder" in error_line(result)


def test_the_groups_dir_before_the_command_is_the_commands_dir(tmp_path, monkeypatch):
    """`kqv practice --dir WS check|reset NAME` used the folder it ran in, not WS."""
    monkeypatch.chdir(tmp_path)
    assert invoke("init", "elsewhere/ws").exit_code == 0
    elsewhere = tmp_path / "elsewhere" / "ws"
    (elsewhere / "sigmoid.py").write_text(solution_file(find_exercise("sigmoid")).read_text())
    result = invoke("--dir", str(elsewhere), "check", "sigmoid")
    assert result.exit_code == 0, result.output
    result = invoke("--dir", str(elsewhere), "reset", "sigmoid")
    assert result.exit_code == 0 and f"{elsewhere / 'sigmoid.py'}: the starter again" in result.stdout
    result = invoke("hint", "sigmoid", "--dir", str(elsewhere))
    assert result.exit_code == 0 and f"({elsewhere / 'sigmoid.py'})" in result.stdout.splitlines()[0]
    result = invoke("hint", "sigmoid", "--dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and "is not a practice workspace" in result.stderr
