"""`kqv quiz` end to end through typer's runner, with answers piped on stdin."""

import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import kqv_cli.commands.quiz as quiz_command
import kqv_cli.main  # noqa: F401  (registers the other commands and the root callback)
from conftest import REPO
from engine.files.paths import state_dir
from kqv_cli.cli import app
from kqv_cli.quiz import answers
from kqv_cli.quiz.questions import BY_ID, cards_for
from kqv_cli.quiz.quiz_progress import QuizProgress
from kqv_cli.quiz.scheduler import LEVEL_NOTE
from kqv_cli.quiz.session import QuizSession

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, ["quiz", *args], input=input)


def wrong_answer(q) -> str:
    if q.kind == "count":
        return str(q.answer + 1)
    if q.kind == "works":
        return "no" if q.answer != answers.NO else "yes (" + ", ".join(["99991"] * 7) + ")"
    if q.kind == "symbolic":
        return "(" + ", ".join([q.letters[0]] * 7) + ")"
    return "(99991, 7, 7, 7, 7)"


def scripted_answers(topic, seed, plan, symbolic=False):
    """The lines to pipe, worked out on a twin session that never writes to disk.

    Same seed, same (empty) progress, same choices: the twin meets the same questions the
    command will. ``plan`` per question: "right", "wrong", "hint-right", "garbled-right".
    """
    twin = QuizSession(topic, len(plan), symbolic, seed=seed, progress=QuizProgress())
    lines = []
    for step in plan:
        q = twin.next_question()
        script = {"right": [q.answer_text()], "wrong": [wrong_answer(q)],
                  "hint-right": ["h", "?", q.answer_text()],
                  "garbled-right": ["@@@", q.answer_text()],
                  "not-a-shape-right": ["x", "hello", "()", q.answer_text()]}[step]
        for line in script:
            twin.respond(line)
        lines += script
    return "\n".join(lines) + "\n"


def saved():
    return json.loads((state_dir() / "quiz.json").read_text())["data"]


def test_piped_quiz_right_wrong_hint_and_garbled_answers():
    plan = ["right", "wrong", "hint-right", "garbled-right"]
    result = invoke("--topic", "backprop", "--count", "4", "--seed", "7",
                    input=scripted_answers("backprop", 7, plan))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("✓ right") == 3 and out.count("✗ not quite") == 1
    assert "hint 1:" in out and "hint 2:" in out and "(after 2 hints)" in out
    assert "could not read '@@@'" in out  # asked again, not marked wrong
    assert "why:" in out and "trace:" in out and "engine/digits/network.py:" in out
    assert "done: 3 of 4 right" in out
    assert LEVEL_NOTE in " ".join(out.split())  # "level 0" in the header is explained
    card = re.search(r"missed .*\((\w+\.\w+)\)", out).group(1)
    assert f"missed {BY_ID[card].title} ({card}): comes back in " in " ".join(out.split())
    assert "your level now: backprop 0" in out
    stats = saved()["stats"]
    assert sum(s["answered"] for s in stats.values()) == 4
    assert sum(s["right"] for s in stats.values()) == 3


@pytest.mark.parametrize("symbolic", [False, True])
def test_anything_that_is_not_a_shape_is_unreadable_alike_and_no_try(symbolic):
    """"x" used to be read as the empty shape and marked wrong while "hello" was asked again."""
    result = invoke("--topic", "all", "--count", "3", "--seed", "11", *(["--symbolic"] if symbolic else []),
                    input=scripted_answers("all", 11, ["not-a-shape-right"] * 3, symbolic))
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("x", "hello", "()"):
        assert out.count(f"could not read {text!r}") == 3, text
    assert "✗" not in out and "done: 3 of 3 right" in out


def test_symbolic_quiz_in_letters():
    plan = ["right", "right"]
    result = invoke("--topic", "backprop", "--count", "2", "--seed", "3", "--symbolic",
                    input=scripted_answers("backprop", 3, plan, symbolic=True))
    assert result.exit_code == 0, result.output
    assert result.output.count("✓ right") == 2 and "Answer in letters" in result.output


def test_end_of_input_stops_cleanly_and_keeps_what_was_answered():
    lines = scripted_answers("backprop", 2, ["right"])
    result = invoke("--topic", "backprop", "--count", "5", "--seed", "2", input=lines)
    assert result.exit_code == 0, result.output
    assert "input ended" in result.output and "1 of 1 right" in result.output
    assert sum(s["answered"] for s in saved()["stats"].values()) == 1


def test_stats_show_due_accuracy_and_streak():
    invoke("--topic", "backprop", "--count", "2", "--seed", "5",
           input=scripted_answers("backprop", 5, ["right", "wrong"]))
    result = invoke("--stats")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "backprop" in line)
    cells = [c.strip() for c in row.strip("│┃ ").split("│")]
    assert cells[:3] == ["backprop", str(len(cards_for("backprop"))), "2"]  # topic, cards, seen
    assert "50%" in row
    assert "streak: 1 day in a row" in result.output and "next review:" in result.output
    assert LEVEL_NOTE in " ".join(result.output.split())  # the table's level column, explained


def test_stats_as_json_for_scripts():
    invoke("--topic", "backprop", "--count", "2", "--seed", "5",
           input=scripted_answers("backprop", 5, ["right", "wrong"]))
    result = invoke("--stats", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    backprop = report["topics"]["backprop"]
    assert (backprop["seen"], backprop["answered"], backprop["accuracy"]) == (2, 2, 0.5)
    assert backprop["total"] == len(cards_for("backprop"))
    assert report["streak"]["days"] == 1 and len(report["due"]) == 2
    misuse = invoke("--json")
    assert misuse.exit_code == 2 and "--json goes with --stats" in misuse.output


def test_stats_before_any_quiz():
    result = invoke("--stats")
    assert result.exit_code == 0 and "no cards seen yet" in result.output


def test_corrupt_progress_is_moved_aside_with_a_warning_never_a_crash():
    path = state_dir() / "quiz.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{ this is not json", encoding="utf-8")
    result = invoke("--topic", "backprop", "--count", "1", "--seed", "1",
                    input=scripted_answers("backprop", 1, ["right"]))
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "started fresh" in result.stderr
    aside = list(path.parent.glob("quiz.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ this is not json"  # the old bytes are kept
    assert sum(s["answered"] for s in saved()["stats"].values()) == 1


def test_a_damaged_card_is_dropped_not_fatal():
    QuizProgress.load().record("backprop.z_shape", True, 0)
    doc = json.loads((state_dir() / "quiz.json").read_text())
    doc["data"]["cards"]["backprop.z_shape"] = {"state": "nonsense"}
    (state_dir() / "quiz.json").write_text(json.dumps(doc))
    result = invoke("--stats")
    assert result.exit_code == 0 and "backprop.z_shape" in result.stderr


@pytest.mark.parametrize("args, message", [(["--topic", "chemistry"], "unknown quiz topic"),
                                           (["--count", "0"], "--count must be at least 1")])
def test_bad_options_are_one_line_and_exit_2(args, message):
    result = invoke(*args, input="")
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output + result.stderr


def test_ctrl_c_saves_and_exits_130_with_one_line(monkeypatch):
    lines = iter(scripted_answers("backprop", 4, ["right"]).splitlines())

    def read(console, interactive):
        line = next(lines, None)
        if line is None:
            raise KeyboardInterrupt
        return line

    monkeypatch.setattr(quiz_command, "_read", read)
    result = invoke("--topic", "backprop", "--count", "3", "--seed", "4")
    assert result.exit_code == 130
    # the quiz's own way to end (issue 24): said plainly, not as an error
    assert "quiz ended (Ctrl-C) after 1 of 1 right; your quiz progress is saved" in result.stderr
    assert "error" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sum(s["answered"] for s in saved()["stats"].values()) == 1


@pytest.mark.slow
def test_a_piped_quiz_does_not_import_textual():
    code = ("import sys\n"
            "from typer.testing import CliRunner\n"
            "import kqv_cli.main\n"
            "from kqv_cli.cli import app\n"
            "r = CliRunner().invoke(app, ['quiz', '--count', '2', '--seed', '1'], input='(1, 2)\\n' * 2)\n"
            "assert r.exit_code == 0 and 'done:' in r.output, r.output\n"
            "bad = [m for m in sys.modules if m.split('.')[0] == 'textual']; print(bad); assert not bad")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_quiz_package_imports_no_ui_library():
    code = ("import sys, kqv_cli.quiz; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'typer')]; "
            "print(bad); assert not bad")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unwritable_state_folder_warns_once_and_the_quiz_goes_on(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KQV_STATE_DIR", str(blocker / "kqv"))
    result = invoke("--topic", "backprop", "--count", "2", "--seed", "6",
                    input=scripted_answers("backprop", 6, ["right", "right"]))
    assert result.exit_code == 0, result.output
    assert result.output.count("✓ right") == 2 and "Progress not saved" in result.output
    assert result.stderr.count("could not save quiz progress") == 1
