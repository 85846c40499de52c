"""`kqv lessons check` and `kqv lessons list` through the real typer app."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from lessons import load_lessons
from lessons.loader import LESSONS_DIR

runner = CliRunner()

LESSON = """\
---
id: demo
title: Demo
summary: A demo.
script: backprop
dims: n2=30, m=10
---

## One
step: one
trace: digits
show: x (n1, m), w2 (n2, n1)

x is (n1, m) and w2 is (n2, n1).
"""


@pytest.mark.slow
def test_check_passes_on_the_built_in_lessons():
    result = runner.invoke(app, ["lessons", "check", "--sets", "1"])  # all sets: the next test
    assert result.exit_code == 0, result.output
    for lesson in load_lessons():
        assert f"{lesson.path}: {len(lesson.steps)} steps" in result.output
    assert "ok" in result.output


def test_check_of_a_good_file(tmp_path):
    path = tmp_path / "demo.md"
    path.write_text(LESSON, encoding="utf-8")
    result = runner.invoke(app, ["lessons", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 steps, 2 shapes checked" in result.output


def test_check_reports_a_wrong_shape_and_exits_2(tmp_path):
    path = tmp_path / "demo.md"
    path.write_text(LESSON.replace("w2 is (n2, n1)", "w2 is (n1, n2)")
                    .replace("w2 (n2, n1)", "w2 (n1, n2)"), encoding="utf-8")
    result = runner.invoke(app, ["lessons", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:9: step 'one': w2 is (30, 784) = (n2, n1) in the engine, but the text says " \
           "(n1, n2) = (784, 30)" in result.output
    assert "1 problem in the lessons" in result.output


def test_check_of_a_malformed_file_is_one_line_with_file_and_line(tmp_path):
    path = tmp_path / "demo.md"
    path.write_text(LESSON.replace("trace: digits", "trace: nowhere"), encoding="utf-8")
    result = runner.invoke(app, ["lessons", "check", str(path)])
    assert result.exit_code == 2
    assert f"{path}:11: unknown trace 'nowhere'" in result.output
    assert "Traceback" not in result.output


def test_check_of_a_missing_file(tmp_path):
    result = runner.invoke(app, ["lessons", "check", str(tmp_path / "gone.md")])
    assert result.exit_code == 2 and "no such lesson file" in result.output


def test_list_names_every_lesson():
    result = runner.invoke(app, ["lessons", "list"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == [x.id for x in load_lessons()]


@pytest.mark.slow
def test_every_lesson_is_checked_at_ten_other_dims_extremes_included():
    extremes = {"T": 1, "m": 1, "n2": 1}
    for lesson in load_lessons():
        sets = lesson.check_dims
        assert len(sets) >= 10, lesson.id
        for name, low in extremes.items():
            if name in lesson.default_dims:
                assert any(s.get(name) == low for s in sets), (lesson.id, name)
        if "nh" in lesson.default_dims:
            assert any(s["nh"] == s["C"] and s["nh"] > 1 for s in sets), lesson.id  # hs = 1
    # the whole run at every set, for the transformer-backward lesson (the others: kqv lessons check)
    result = runner.invoke(app, ["lessons", "check", str(LESSONS_DIR / "backward.md")])
    assert result.exit_code == 0, result.output
    assert "at 11 sets of dims: ok" in result.output


def test_check_sets_limits_the_dims_sets():
    result = runner.invoke(app, ["lessons", "check", str(LESSONS_DIR / "backward.md"), "--sets", "0"])
    assert result.exit_code == 0 and "at 1 set of dims: ok" in result.output
