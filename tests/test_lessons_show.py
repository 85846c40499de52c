"""`kqv lessons show`: a lesson step as plain text, as the lesson screen shows it.

The later tests of this file hold sentences of the lessons as a learner reads them here (the
text with the run's numbers filled in, and the notes the run measured).
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.app import app
from kqv_cli.step_plain import step_as_text
from lessons import LessonSession, load_lessons

runner = CliRunner()
TINY = Path(__file__).parent / "data" / "gpt2-tiny"
LESSONS = {lesson.id: lesson for lesson in load_lessons()}


def show(*args: str) -> str:
    result = runner.invoke(app, ["lessons", "show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def step_text(lesson: str, step: str, model: Path | None = None, **dims) -> str:
    """One step as `kqv lessons show` prints it, without the CLI around it."""
    session = LessonSession(LESSONS[lesson], dims or None, model=None if model is None else str(model))
    return step_as_text(LESSONS[lesson], session.run(LESSONS[lesson].step_index(step)))


def test_a_step_by_number_or_id_prints_its_text_notes_and_variables_with_shapes():
    by_number = show("attention", "--step", "9")
    assert by_number == show("attention", "--step", "softmax")
    lines = by_number.splitlines()
    assert lines[0] == "attention 9/19: Softmax: each row becomes weights that sum to 1  (step id: softmax)"
    assert "Softmax turns each row of scores" in by_number
    # placeholders filled for the run's dims, as on screen
    assert "att is (B, nh, T, T) = (2, 4, 12, 12)." in by_number and "{" not in by_number
    assert any(line.startswith("note: untrained one-block model") for line in lines)
    assert "figure (f in the app): heatmap, att[0, 0]: batch 0, head 0" in lines
    table = lines[lines.index("variables (● = new in this step):") + 1:]
    assert table[0].split() == ["name", "shape", "dtype", "min", "mean", "max"]
    att = next(line for line in table if line.split()[1:2] == ["h0.att"])
    assert att.split()[0] == "●" and "(2, 4, 12, 12) = (B, nh, T, T)" in att
    scores = next(line for line in table if " h0.att_scores " in line)
    assert not scores.lstrip().startswith("●")  # recorded by an earlier step


def test_dims_and_width_follow_the_options():
    text = show("attention", "--step", "softmax", "--dims", "C=16, nh=2", "--width", "60")
    assert "dims: B=2 T=12 C=16 nh=2 hs=8" in text
    explanation = text.split("\n\n")[1]
    assert max(len(line) for line in explanation.splitlines()) <= 60


def test_without_step_every_step_prints_in_order():
    text = show("backprop")
    titles = [line for line in text.splitlines() if line.startswith("backprop ")]
    n = len(LESSONS["backprop"].steps)
    assert [t.split()[1] for t in titles] == [f"{i}/{n}:" for i in range(1, n + 1)]


def test_model_runs_the_attention_steps_on_gpt2():
    text = show("attention", "--step", "tokens", "--model", str(TINY))
    assert "byte-pair encoding" in text and "V=320" in text and "GPT-2 from" in text


def test_bad_input_is_one_line_and_exit_2():
    for args, words in ((["nope"], "no lesson named 'nope'"),
                        (["attention", "--step", "99"], "attention has steps 1..19, not 99"),
                        (["attention", "--step", "zz"], "attention has no step 'zz'"),
                        (["backprop", "--model", str(TINY)], "--model runs the attention lesson"),
                        (["attention", "--model", str(TINY.parent)], ""),
                        (["attention", "--dims", "C=7"], "not divisible"),
                        (["attention", "--dims", "C"], "dims are 'name=number")):
        result = runner.invoke(app, ["lessons", "show", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output and words in result.output, (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
