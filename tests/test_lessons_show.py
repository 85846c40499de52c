"""`kqv lessons show`: a lesson step as plain text, as the lesson screen shows it.

The later tests of this file hold sentences of the lessons as a learner reads them here (the
text with the run's numbers filled in, and the notes the run measured).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
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
    by_number = show("attention", "--step", "10")
    assert by_number == show("attention", "--step", "softmax")
    lines = by_number.splitlines()
    assert lines[0] == "attention 10/20: Softmax: each row becomes weights that sum to 1  (step id: softmax)"
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
                        (["attention", "--step", "99"], "attention has steps 1..20, not 99"),
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
    assert "perplexity" in text and "1.82" in text and "e^1.82 ≈ 6.2" in flat(text)
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


def _notes(text: str) -> list[str]:
    return [line[len("note: "):] for line in text.splitlines() if line.startswith("note: ")]


def _explanation(text: str) -> str:
    """The step's own words (between the dims line and the first note), on one line."""
    body = text.split("\n", 2)[2]
    return flat(body.split("\nnote: ")[0])


def flat(text: str) -> str:
    """The text with every run of spaces and line breaks as one space: phrases wrap anywhere."""
    return " ".join(text.split())


def test_it_step_on_gpt2_has_gpt2_text_and_on_its_own_model_reads_the_trained_model():
    text = step_text("attention", "it", model=TINY)
    words = _explanation(text)
    assert '"<|endoftext|>The pizza came out of the oven and it"' in words
    assert "What it does not prove" in words and "attention sink" in words
    assert "untrained" not in words and "press g" not in words and "Row 8" not in words
    assert any("' it' sits at position 9" in n for n in _notes(text))
    lesson = LESSONS["attention"]
    own = LessonSession(lesson).run(lesson.step_index("it"))
    assert own.dims["block_size"] == 32  # the training lesson's model, not the block run's
    query, tokens, weights = own.extra["attends"]
    np.testing.assert_allclose(weights, own.record("h0.att").value[0, :, 8, :])
    assert weights.max() > 2 / 9  # trained: no longer the untrained ~1/9 per word
    notes = "\n".join(own.notes)
    assert "untrained → trained" in notes and "trained 150 iterations" in notes
    own_words = _explanation(step_text("attention", "it"))
    assert "training lesson trains" in own_words and len(own_words.split()) < 300


def test_dropout_logits_and_loss_steps_say_what_is_true_of_gpt2():
    dropout = flat(step_text("attention", "dropout", model=TINY))
    assert "GPT-2 runs without dropout" in dropout and "lesson's own small model" in dropout
    assert "dims: B=2 T=12 C=32" in dropout  # the small model, as the text says
    assert "the same block run once" not in dropout
    logits = flat(step_text("attention", "logits", model=TINY))
    assert "one per token of GPT-2's vocabulary" in logits
    assert "one per word" not in logits
    loss = flat(step_text("attention", "loss", model=TINY))
    assert "ln 50,257 ≈ 10.8" in loss and "perplexity" in loss and "untrained model guesses" not in loss
    measured = float(loss.split("GPT-2's loss on this sentence: ")[1].split(";")[0])
    perplexity = float(loss.split("perplexity e^loss = ")[1].split(" ")[0])
    assert abs(perplexity - np.exp(measured)) < 1e-3 * perplexity  # e^loss of the loss it states
    assert "'<|endoftext|>'→'The'" in loss  # −ln p at every position


def test_positions_are_split_and_the_scale_step_measures_what_it_says():
    positions = flat(step_text("attention", "positions"))
    assert "PE(pos, 2i)" in positions and "Scale matters" not in positions
    for C in (32, 128):
        text = step_text("attention", "position-scale", C=C)
        assert "several times shorter" in flat(text) and "0.997" not in _explanation(text)
        lengths = next(n for n in _notes(text) if n.startswith("mean length of a row"))
        assert float(lengths.split("a token row is ")[1].split(" times")[0]) > 2
        cosines = next(n for n in _notes(text) if "after LayerNorm: cosine" in n)
        without, with_ = (float(x.split(" ")[0]) for x in cosines.split("cosine ")[1].split(", ")[:1]
                          + [cosines.split("factor, ")[1]])
        assert without > with_  # the factor helps, a little
    real = step_text("attention", "position-scale", model=TINY)
    assert "no √C factor" in flat(real) and "wpe" in "".join(_notes(real))


def test_scores_step_measures_the_variance_argument():
    text = step_text("attention", "scores")
    note = next(n for n in _notes(text) if n.startswith("2,048 random q, k"))
    unscaled = float(note.split("var(q·k) = ")[1].split(" ")[0])
    scaled = float(note.split("var(q·k / √hs) = ")[1].split(" ")[0])
    assert abs(unscaled - 8) < 1.5 and abs(scaled - 1) < 0.2  # hs = 8 at the default dims


def test_softmax_step_connects_the_untrained_att_to_the_running_average():
    text = step_text("attention", "softmax")
    note = next(n for n in _notes(text) if n.startswith("the plain average"))
    assert float(note.split("at most ")[1].split(" ")[0]) < 0.01
    assert any("averaging trick" in n for n in _notes(text))


def test_gradient_check_says_the_disagreement_is_rounding_and_measures_it_over_h():
    text = step_text("backward", "gradcheck")
    words = _explanation(text)
    assert "a smaller h makes it worse" in words and "ε·|f|/h" in words
    assert "The error of this central difference shrinks like h², so" not in words
    sweep = next(n for n in _notes(text) if "the same entry with other steps h" in n)
    errors = {float(part.split("h ")[1].split(":")[0]): float(part.split("error ")[1])
              for part in sweep.split("steps h: ")[1].split("; ")}
    # what the text says, measured: from h = 1e-6 down, the error grows as h shrinks
    assert errors[1e-9] > errors[1e-8] > errors[1e-6] and min(errors.values()) < errors[1e-6]


def test_backprop_trains_on_training_images_and_names_bp1_to_bp4():
    from lessons.steps.digit_images import lesson_digits

    lesson = LESSONS["backprop"]
    view = LessonSession(lesson).run(lesson.step_index("input"))
    m = view.dims["m"]
    np.testing.assert_array_equal(view.record("x").value, lesson_digits(m, 0, "train").x.T)
    assert "test split" not in " ".join(view.notes)
    for step, names in (("tiny-backward", ("BP1", "BP2", "BP3", "BP4")), ("output-error", ("(BP1)",)),
                        ("grad3", ("(BP3)", "(BP4)")), ("backpropagate", ("(BP2)",)),
                        ("grad2", ("BP3 and BP4",))):
        words = _explanation(step_text("backprop", step))
        assert all(name in words for name in names), (step, names)


def test_practice_starters_write_the_output_error_per_image():
    from lessons.practice import PRACTICE_DIR

    for name in ("cross_entropy_cost", "quadratic_cost"):
        starter = (PRACTICE_DIR / name / "starter.py").read_text(encoding="utf-8")
        assert "δᴸ = ∂Cₓ/∂zᴸ" in starter and "δᴸ = ∂C/∂zᴸ" not in starter, name


def test_kv_cache_card_says_what_is_cached_and_what_is_new():
    from kqv_cli.quiz.questions import generate

    for seed in range(5):
        q = generate("training.kv_cache", seed, 0, False)
        t = q.dims.get("t") or int(q.setting.split("holds t=")[1].split(" ")[0])
        assert f"has read a prompt of {t - 1} characters" in q.setting
        assert "one new character per sequence goes in (T=1)" in q.setting
        assert "of T=1 characters" not in q.setting


def test_weight_decay_step_links_nielsens_l2_and_the_bigram_is_defined_where_named():
    decay = _explanation(step_text("training", "adamw-bias"))
    assert "w ← (1 − ηλ/n)·w − (η/m)·nabla_w" in decay and "--lmbda" in decay
    mask = _explanation(step_text("attention", "mask"))
    assert "a bigram model, the simplest model of text" in mask
    bigram = _explanation(step_text("training", "bigram"))
    assert "overfitting" in bigram and "validation" in bigram and "counts (V, V) = (48, 48)" in bigram


def test_no_step_is_too_long_for_the_pane():
    """Issue 22 item 25: the "it" step was 378 words and the positions step mixed four ideas."""
    for lesson in LESSONS.values():
        for step in lesson.steps:
            for text in (step.markdown, step.real_markdown):
                assert len(text.split()) <= 300, (lesson.id, step.id)
    attention = LESSONS["attention"]
    for step_id in ("it", "positions"):
        step = attention.steps[attention.step_index(step_id)]
        assert max(len(step.markdown.split()), len(step.real_markdown.split())) <= 260, step_id


def test_layernorm_step_shows_the_stream_with_and_without_it_in_numbers():
    text = step_text("attention", "layernorm")
    assert "Why normalise at all?" in _explanation(text)

    def trained(name):
        line = next(n for n in _notes(text) if n.startswith(name + ":"))
        return [float(v) for v in line.split("trained ")[-1].split(";")[0].split(" → ")]

    with_ln, without = trained("with LayerNorm"), trained("without")
    assert len(with_ln) == len(without) == 5  # the input and 4 blocks
    # what the text says the notes show: without LayerNorm the stream grows block after block
    assert all(b > a for a, b in zip(without, without[1:], strict=False))
    assert without[-1] / without[1] > with_ln[-1] / with_ln[1]


def test_backward_and_training_have_the_new_quiz_cards_and_number_answers_read_loosely():
    from kqv_cli.quiz.answers import Malformed, check
    from kqv_cli.quiz.questions import cards_for, generate

    backward = {c.card_id for c in cards_for("backward")}
    training = {c.card_id for c in cards_for("training")}
    assert {"backward.dlogits", "backward.layernorm_grads", "backward.dwpe_rows"} <= backward
    assert {"training.kv_cache_numbers", "training.topk", "training.loss_at_init",
            "training.bias_correction"} <= training
    q = generate("training.loss_at_init", 0, 0, False)
    ln_v = np.log(int(q.ask.split("V=")[1].split(" ")[0]))
    assert check(q, f"{ln_v:.2f}") and check(q, f"≈ {ln_v:.2f}".replace(".", ","))
    assert not check(q, f"{ln_v + 0.05:.2f}")
    try:
        check(q, "about four")
    except Malformed as exc:
        assert "decimal point" in str(exc)
    else:
        raise AssertionError("a word is not a number")


def test_backward_lesson_says_datt_scores_is_the_gradient_at_att_scores():
    softmax = _explanation(step_text("backward", "softmax"))
    assert "finds datt_scores itself" in softmax and "then multiplied by 1/√hs" not in softmax
    dq = _explanation(step_text("backward", "dq-dk"))
    assert "dq = (datt_scores · 1/√hs) @ k" in dq and "dk = (datt_scores · 1/√hs)ᵀ @ q" in dq


def test_the_selected_variable_prints_as_the_values_pane_writes_it_one_format_per_matrix():
    """Issue 24: the values of the variable a step is about, with the app's own formatter: the
    masked scores with a word on each row, every number with the same decimals (one shared power
    of ten at most), and a matrix too wide for numbers said to be so, not printed cell by cell."""
    import re

    text = step_text("attention", "mask")
    lines = text.splitlines()
    start = lines.index("values of h0.att_masked (as the app's values pane shows it):")
    assert "(2, 4, 12, 12) = (B, nh, T, T)" in lines[start + 1] and "batch 0/2 · head 0/4" in lines[start + 1]
    rows = lines[start + 3:start + 15]
    attention = LESSONS["attention"]
    words = [w.strip() for w in LessonSession(attention).run(attention.step_index("mask")).tokens[0]]
    assert [row.split()[1] for row in rows] == words
    cells = [c for row in rows for c in row.split()[2:] if c != "−inf"]
    assert len(cells) == 78 and {len(c.split(".")[1]) for c in cells if re.fullmatch(r"-?\d+\.\d+", c)} == {2}
    wide = step_text("attention", "embedding")
    assert "values of wte: (48, 32) is too wide for numbers in 98 columns" in wide
