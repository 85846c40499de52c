"""``kqv learn``: a misspelt lesson is one line naming the real ones and exit code 2."""

from __future__ import annotations

from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.app import app
from lessons import load_lessons


def test_unknown_lesson_names_the_known_ones():
    result = CliRunner().invoke(app, ["learn", "badname"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "badname" in lines[0]
    for lesson in load_lessons():
        assert lesson.id in lines[0]
    assert "Traceback" not in result.output


def test_learn_without_a_terminal_says_so():
    result = CliRunner().invoke(app, ["learn", load_lessons()[0].id])
    assert result.exit_code == 2
    assert "terminal" in result.output


def test_plain_kqv_in_a_pipe_prints_help():
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0
    assert "learn" in result.output
