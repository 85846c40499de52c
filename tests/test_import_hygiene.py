"""Only the TUI imports Textual: the engine, lessons, progress and quiz code, and the commands
that must start fast (``kqv train``, ``kqv trace``), never pull it in. Each check runs in a fresh
interpreter, because this test process has usually imported Textual already."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

REPORT = "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'); print(bad); assert not bad"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_core_packages_do_not_import_textual():
    modules = ["engine", "engine.digits.network", "engine.trace", "lessons", "kqv_cli.lesson_progress",
               "kqv_cli.store", "lessons.practice", "kqv_cli.practice.grader", "kqv_cli.practice.workspace",
               "kqv_cli.practice.practice_progress", "kqv_cli.practice.watch", "kqv_cli.quiz"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    # running a lesson step must not need Textual either
    code += "s = lessons.LessonSession(lessons.load_lessons()[0]); s.run(0)\n"
    # nor does grading a practice exercise (it loads every exercise and runs the engine)
    code += "[e.cases() for e in lessons.practice.load_exercises()]\n" + REPORT
    result = run_python(code)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("argv", [["train", "--help"], ["trace", "--help"], ["learn", "--help"],
                                  ["practice", "list"]])
def test_fast_commands_do_not_import_textual(argv):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import kqv_cli.main\n"
        "from kqv_cli.cli import app\n"
        f"r = CliRunner().invoke(app, {argv!r})\n"
        "assert r.exit_code == 0, r.output\n" + REPORT
    )
    result = run_python(code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tui_does_import_textual():
    """The check above can fail: importing the app really loads Textual."""
    result = run_python("import sys\nimport kqv_cli.tui.app\n" + REPORT)
    assert result.returncode != 0 and "textual" in result.stdout
