"""`kqv lessons show`: a lesson step as plain text, as the lesson screen shows it.

The later tests of this file hold sentences of the lessons as a learner reads them here (the
text with the run's numbers filled in, and the notes the run measured).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# -- issue 22: the statements a careful learner corrected, held on the text as it reads ----------


def test_bridge_says_the_digit_nets_product_is_m_times_the_mean_costs_gradient():
    text = step_text("bridge", "digit-gradients")
    assert "nabla_w² = δ² (a¹)ᵀ" in text and "nabla_w² = m·∂C/∂w²" in text
    assert "∂C/∂w² = δ² (a¹)ᵀ" not in text


def test_training_reads_the_loss_as_a_perplexity_from_the_learners_own_run():
    text = step_text("training", "loss-trained")
    assert "perplexity" in text and "1.82" in text and "e^1.82 ≈ 6.2" in text
    assert "ends near 1.5 on Tiny" not in text
    loss = float(text.split("the loss on this batch is ")[1].split(":")[0])
    note = next(line for line in text.splitlines() if "perplexity e^" in line)
    assert f"= {np.exp(loss):.1f}" in note  # the number the note states is e^loss of this run


def test_init_step_uses_one_convention_and_says_the_stream_does_not_grow():
    text = step_text("training", "scale")
    assert "N(0," not in text and "std 1/√n_in" in text and "std 0.02" in text
    assert "activations stay near 1" not in text and "does not grow" in text
    note = next(line for line in text.splitlines() if "12-block GPT" in line)
    sizes = [float(x) for x in note.split("stream std ")[1].replace(" at the input,", ",").split(" after")[0]
             .split(", ")]
    assert len(sizes) == 5 and max(sizes) < 1.2 * sizes[0]  # what the text claims, measured


def test_clipping_step_explains_what_the_notes_count():
    text = step_text("training", "schedule")
    assert "typical ‖g‖ (the median)" in text and "the largest:" in text
    assert "leaves its step unchanged" in text


def test_adamw_step_is_unchanged_when_every_gradient_is_scaled_alike():
    """What the clipping step says: clipping every step by the same factor changes no AdamW step."""
    from engine.optim import adamw_update

    p0 = np.random.default_rng(0).standard_normal(50)
    steps = []
    for factor in (1.0, 0.25):
        p, m, v = p0.copy(), np.zeros(50), np.zeros(50)
        for t in range(1, 6):
            adamw_update(p, factor * np.sin(np.arange(50) + t),
                         m, v, t, 1e-2, 0.9, 0.99, 1e-12, 0.1)
        steps.append(p - p0)
    np.testing.assert_allclose(steps[0], steps[1], rtol=1e-6)
