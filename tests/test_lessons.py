"""Every step of every lesson runs, and the shapes its text claims are the ones numpy produced."""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from conftest import MNIST_DIR, needs_mnist
from engine.errors import KqvError
from engine.trace import eval_dim
from lessons import (
    LessonError,
    LessonSession,
    StepView,
    check_lesson,
    curriculum,
    load_lessons,
)
from lessons.loader import load_lesson, parse_lesson
from lessons.session import _written_names, first_named, updated_name
from lessons.steps import word_model

LESSONS = load_lessons()
def _lesson(lesson_id):
    return next(lesson for lesson in LESSONS if lesson.id == lesson_id)


def test_built_in_lessons_load_in_order():
    ids = [lesson.id for lesson in LESSONS]
    assert ids[0] == "backprop"
    assert ids == list(curriculum.LESSONS)
    for lesson in LESSONS:
        assert lesson.steps and lesson.title and lesson.summary
        for f in lesson.dim_fields:
            assert f.minimum <= lesson.default_dims[f.name] <= f.maximum


def _assert_view_matches_text(view: StepView):
    shown = {r.name: r for r in view.records}
    for name, symbolic in view.step.expects.items():
        assert name in shown, f"{view.step.id}: {name} missing from the trace"
        wanted = tuple(eval_dim(d, view.dims) for d in symbolic)
        assert wanted == np.shape(shown[name].value), (view.step.id, name, wanted)
    assert not view.problems, view.problems


# issue 24: the values pane opened on ln_2 at the GELU step, on ln_f at the logits step, on wte
# at the parameter count; these steps' subjects, as the lesson files now name them (select:)
SUBJECTS = {("attention", "mlp"): "h0.gelu", ("attention", "logits"): "logits",
            ("bridge", "param-count"): "h0.attn.c_attn.w", ("training", "adamw"): "m"}


def _assert_selects_its_subject(lesson_id: str, view) -> None:
    """The variable a step opens on is one it shows and computes; one its title names when the
    title names any (\"...: logits\" opens on logits, not ln_f)."""
    step, chosen = view.step, view.select
    base = chosen.rstrip("′")  # an update's row, b3′, is b3's
    assert base in step.show, (step.id, chosen, step.show)
    assert chosen in view.changed, (step.id, chosen, "is not computed in this step")
    titled = [name for name in step.show
              if any(re.search(rf"(?<![\w.]){re.escape(form)}(?![\w])", step.title)
                     for form in _written_names(name))]
    assert not titled or base in titled, (step.id, chosen, "the title names", titled)
    if (lesson_id, step.id) in SUBJECTS:
        assert chosen == SUBJECTS[lesson_id, step.id], (lesson_id, step.id, chosen)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_every_step_runs_and_every_shape_is_the_texts(lesson):
    session = LessonSession(lesson)
    for i, step in enumerate(lesson.steps):
        view = session.run(i)
        assert view.step.id == step.id
        _assert_view_matches_text(view)
        assert view.changed, f"{step.id} highlights nothing"
        assert view.changed <= {r.name for r in view.records}
        _assert_selects_its_subject(lesson.id, view)
        assert "{" not in view.step.markdown.replace("{{", ""), "a placeholder was left unfilled"
        for span in view.code:  # real engine lines, and the marked ones inside the span
            assert span.name.startswith("engine/") and span.path.is_file()
            assert all(span.start <= line <= span.end for line in span.current)
            assert span.lines()


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_every_shape_follows_a_change_of_dims(lesson):
    changed = lesson.check_dims[0]
    # every dim moves, so a number hard-coded where a symbol belongs cannot pass
    assert set(changed) == set(lesson.default_dims)
    assert all(changed[k] != lesson.default_dims[k] for k in changed)
    session = LessonSession(lesson, dims=changed, seed=3)
    assert session.check() == []
    # traces that keep their own sizes on purpose: the tiny net; sentences that fix B, S and T
    own_sizes = {"tiny", *getattr(session.script, "OWN_SIZES", ())}
    for i in range(len(lesson.steps)):
        view = session.run(i)
        if view.step.trace in own_sizes:
            continue
        for name in view.step.expects:  # a dims change reaches every shown shape
            wanted = tuple(eval_dim(d, view.dims) for d in view.step.expects[name])
            assert view.record(name).shape == wanted
        for name, value in changed.items():
            assert view.dims[name] == value
        _assert_view_matches_text(view)


def test_backprop_shapes_are_the_digit_net_ones():
    session = LessonSession(_lesson("backprop"), dims={"n2": 12, "m": 5})
    view = session.run(_lesson("backprop").step_index("update"))
    assert view.record("w2").shape == (12, 784)  # stored (out, in)
    assert view.record("w3").shape == (10, 12)
    assert view.record("nabla_w2").shape == (12, 784)
    assert view.record("x").shape == (784, 5)
    assert view.changed == {"w2′", "b2′", "w3′", "b3′"}  # the updated parameters, in rows of their own
    assert view.select == "b3′"  # the lesson file selects b3: a (10, 1), not the (n2, 784) w2′
    assert "(12, 784)" in view.step.markdown  # {n2}, {n1} in the text follow the dims


def test_steps_walk_the_trace_in_order():
    lesson = _lesson("backprop")
    session = LessonSession(lesson)
    before = session.run(lesson.step_index("layer2"))
    after = session.run(lesson.step_index("layer3"))
    assert before.changed == {"w2", "b2", "z2", "a2"}
    assert "z3" not in {r.name for r in before.records}
    assert after.changed == {"w3", "b3", "z3", "a3"}
    # the update step shows the new w2 in a row of its own, beside the one the forward pass used
    update = session.run(lesson.step_index("update"))
    assert np.array_equal(update.record("w2").value, before.record("w2").value)
    assert not np.array_equal(update.record("w2′").value, before.record("w2").value)
    assert update.record("w2′").formula.startswith("w2 ← w2")


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_a_step_that_shows_an_update_shows_every_parameter_the_engine_updated(lesson):
    """The tiny net's backward step names w2 and w3 only; b2 and b3 moved too and must show,
    updated, next to their values before (they once stayed unmarked, looking unmoved)."""
    session = LessonSession(lesson)
    for i in range(len(lesson.steps)):
        view = session.run(i)
        updated = {r.name for r in view.records if r.phase == "update"}
        if not any(n.endswith("′") for n in updated & view.changed):
            continue  # no update of a variable recorded before (AdamW's m and v are new variables)
        run, _ = session._run_and_plans(view.step.trace)
        section = _update_section_of(run.tracer.records, updated)
        assert {updated_name(r.name) for r in section} <= updated & view.changed, view.step.id
        for r in section:
            before, after = view.record(r.name), view.record(updated_name(r.name))
            assert before.phase != "update" and after.shape == before.shape
            assert np.array_equal(after.value, r.value)


def _update_section_of(records, shown: set[str]):
    """The run of consecutive update records holding the first one shown."""
    idx = next(i for i, r in enumerate(records) if r.phase == "update" and updated_name(r.name) in shown)
    start = idx
    while start > 0 and records[start - 1].phase == "update":
        start -= 1
    end = idx
    while end + 1 < len(records) and records[end + 1].phase == "update":
        end += 1
    return records[start:end + 1]


def test_tiny_net_backward_step_updates_b3():
    lesson = _lesson("backprop")
    view = LessonSession(lesson).run(lesson.step_index("tiny-backward"))
    assert {"w2′", "b2′", "w3′", "b3′"} <= view.changed
    assert not np.allclose(view.record("b3′").value, view.record("b3").value)


def test_training_step_shows_accuracy_rising():
    lesson = _lesson("backprop")
    view = LessonSession(lesson).run(lesson.step_index("train"))
    _, series, _, _ = view.extra["series"]
    first, last = series[0][1], series[-1][1]
    assert first < 30 and last > first + 30, series
    assert any("not MNIST" in n or "MNIST" in n for n in view.notes)


def test_invalid_dims_are_refused_in_one_line():
    session = LessonSession(_lesson("backprop"))
    with pytest.raises(KqvError, match="between 1 and 200"):
        session.set_dims({"n2": 0})
    with pytest.raises(KqvError, match="whole number"):
        session.set_dims({"m": "ten"})
    with pytest.raises(KqvError, match="no dimension"):
        session.set_dims({"T": 4})
    assert session.dims == _lesson("backprop").default_dims  # nothing changed


def test_reseed_gives_a_new_input():
    session = LessonSession(_lesson("backprop"))
    step = _lesson("backprop").step_index("input")
    x0 = session.run(step).record("x").value
    session.reseed()
    assert not np.array_equal(session.run(step).record("x").value, x0)


# -- malformed lesson files ----------------------------------------------------------------

GOOD = """\
---
id: demo
title: Demo
summary: A demo.
script: backprop
dims: n2=30, m=10
dim: n2 | hidden | 1 | 200
---

## One
step: one
trace: digits
show: x (n1, m)

x is (n1, m): text with {n1} pixels.
"""


def _error_of(text: str) -> str:
    with pytest.raises(LessonError) as info:
        parse_lesson(textwrap.dedent(text), "lessons/demo.md")
    return str(info.value)


def test_the_minimal_lesson_parses():
    lesson = parse_lesson(GOOD, "lessons/demo.md")
    assert lesson.steps[0].expects == {"x": ("n1", "m")}
    assert check_lesson(lesson) == []


@pytest.mark.parametrize(
    "old, new, where, message",
    [
        ("script: backprop", "script: nope", 5, "no step script"),
        ("trace: digits", "trace: nowhere", 12, "unknown trace"),
        ("show: x (n1, m)", "show: x (n1, q)", 13, "dimension the lesson does not have"),
        ("show: x (n1, m)", "show: x n1, m", 13, "expected 'name (shape)'"),
        ("step: one\n", "", 10, "no 'step:' line"),
        ("{n1} pixels", "{n9} pixels", 15, "in {...}"),
        ("dim: n2 | hidden | 1 | 200", "dim: n2 | hidden | 40 | 200", 7, "outside 40..200"),
        ("title: Demo\n", "", 1, "no 'title:' line"),
        ("show: x (n1, m)\n", "show: x (n1, m)\nwhat: ever\n", 14, "expected a step header line"),
        ("show: x (n1, m)\n", "show: x (n1, m)\nextra: nope\n", 14, "unknown extra 'nope'"),
        ("show: x (n1, m)\n", "show: x (n1, m)\ncode: engine/digits/network.py:Nope.f\n", 14,
         "not a function of the engine"),
        ("x is (n1, m): text with", "## Two\nstep: one\ntrace: digits\n\nText with", 15,
         "already used on line 10"),
        ("---\n\n## One", "bogus: 1\n---\n\n## One", 8, "unknown header key 'bogus'"),
        ("show: x (n1, m)\n", "show: x (n1, m)\nselect: w2\n", 14, "select: names 'w2', which this step"),
    ],
)
def test_malformed_lessons_name_file_and_line(old, new, where, message):
    assert old in GOOD
    error = _error_of(GOOD.replace(old, new))
    assert error.startswith(f"lessons/demo.md:{where}:"), error
    assert message in error


def test_select_names_the_variable_a_step_opens_on():
    """Without select: the first variable the text names (z2 here), with it the one it names,
    as the row it shows in (an update's b3 is the row b3′)."""
    text = GOOD.replace("show: x (n1, m)", "show: x (n1, m), z2 (n2, m)").replace(
        "x is (n1, m): text", "z² = w² x + b², z2 is (n2, m), x is (n1, m): text")
    assert LessonSession(parse_lesson(text, "lessons/demo.md")).run(0).select == "z2"
    chosen = parse_lesson(text.replace("step: one\n", "step: one\nselect: x\n"), "lessons/demo.md")
    assert chosen.steps[0].select == "x" and LessonSession(chosen).run(0).select == "x"
    backprop = _lesson("backprop")
    update = LessonSession(backprop).run(backprop.step_index("update"))
    assert update.select == updated_name("b3") and update.record(update.select).shape == (10, 1)


def test_a_wrong_shape_is_reported_with_file_and_line():
    lesson = parse_lesson(GOOD.replace("(n1, m)", "(n2, m)"), "lessons/demo.md")
    problems = check_lesson(lesson)
    assert len(problems) == 1
    assert problems[0].startswith("lessons/demo.md:10:") and "x is (784, 10)" in problems[0]


def test_a_shape_the_text_never_states_is_reported():
    lesson = parse_lesson(GOOD.replace("show: x (n1, m)", "show: x (n1, m), y (n3, m)"), "lessons/demo.md")
    assert check_lesson(lesson) == ["lessons/demo.md:10: step 'one': the text never states y's shape (n3, m)"]
    lesson = parse_lesson(GOOD.replace("show: x (n1, m)", "show: x (n1, m), y (n3, m)")
                          .replace("x is (n1, m)", "x is (n1, m), y is (n3, m)"), "lessons/demo.md")
    assert check_lesson(lesson) == []


def test_prose_writes_products_with_a_dot_not_a_markdown_star():
    import re

    for lesson in LESSONS:
        for step in lesson.steps:
            for text in (step.markdown, step.real_markdown):
                prose = re.sub(r"\{[^{}]*\}|`[^`]*`", "", text)  # placeholders and code may use *
                assert not re.search(r"[\w)]\*[\w(]", prose), (lesson.id, step.id)


def test_prose_never_says_seed_for_the_source_blog_post():
    # issue 24: "the seed post", "the seed's question" are the authors' word for the blog post the
    # course grew from; a newcomer reads "seed" as a random seed. Lessons and lab verdicts say what
    # is meant.
    from kqv_cli.lab import translation_verdicts, verdicts

    jargon = re.compile(r"\bseed post\b|\bseed's\b", re.IGNORECASE)
    for lesson in LESSONS:
        for step in lesson.steps:
            for text in (step.markdown, step.real_markdown):
                assert not jargon.search(text or ""), (lesson.id, step.id)
    for module in (verdicts, translation_verdicts):
        assert not jargon.search(open(module.__file__, encoding="utf-8").read())


def test_gpt2_text_is_only_for_a_lesson_that_runs_on_a_real_model():
    assert "never runs on a real model" in _error_of(GOOD + "\n### On GPT-2\n\nGPT-2's text.\n")


def test_a_missing_variable_is_reported():
    lesson = parse_lesson(GOOD.replace("x (n1, m)", "x (n1, m), z9 (n1, m)"), "lessons/demo.md")
    problems = check_lesson(lesson)
    assert any("z9 is not in the 'digits' trace" in p for p in problems), problems


def test_a_missing_file_is_a_lesson_error(tmp_path):
    with pytest.raises(LessonError, match="no such lesson file"):
        load_lesson(tmp_path / "gone.md")


# -- the attention and bridge lessons' special views ------------------------------------------


def test_attention_mask_and_softmax_steps_show_what_the_text_says():
    lesson = _lesson("attention")
    session = LessonSession(lesson)
    masked = session.run(lesson.step_index("mask")).record("h0.att_masked").value
    T = masked.shape[-1]
    upper = np.triu(np.ones((T, T), dtype=bool), k=1)
    assert np.all(np.isneginf(masked[..., upper])) and np.all(np.isfinite(masked[..., ~upper]))
    soft = session.run(lesson.step_index("softmax"))
    att = soft.record("h0.att").value
    np.testing.assert_allclose(att.sum(axis=-1), 1.0, rtol=1e-5)
    assert np.all(att[..., upper] == 0)
    title, heat, rows, cols, row_names, col_names = soft.extra["heatmap"]
    np.testing.assert_array_equal(heat, att[0, 0])
    assert (rows, cols) == ("query", "key") and row_names == col_names == soft.tokens[0]
    # in training mode dropout breaks the rows' sums, as the dropout step says
    dropped = session.run(lesson.step_index("dropout")).record("h0.att").value
    assert not np.allclose(dropped.sum(axis=-1), 1.0)
    assert session.run(lesson.step_index("dropout")).changed == {"h0.att"}


def test_it_attends_view_and_its_absence_when_T_is_short():
    lesson = _lesson("attention")
    session = LessonSession(lesson, dims={"nh": 2, "C": 16})
    view = session.run(lesson.step_index("it"))
    word, tokens, weights = view.extra["attends"]
    assert word == "it" and tokens[8] == "it" and tokens[1] == "pizza"
    assert weights.shape == (2, view.dims["T"])
    np.testing.assert_allclose(weights, view.record("h0.att").value[0, :, 8, :])
    assert any("untrained" in n for n in view.notes)
    assert "untrained" in view.step.markdown
    session.set_dims({"T": 5})
    short = session.run(lesson.step_index("it"))
    assert "attends" not in short.extra
    assert any("at least 9" in n for n in short.notes)


def test_positional_encoding_heatmap_is_the_engines_sinusoidal_code():
    lesson = _lesson("attention")
    view = LessonSession(lesson).run(lesson.step_index("positions"))
    _, pe, rows, cols = view.extra["heatmap"]
    assert (rows, cols) == ("position", "dimension")
    np.testing.assert_allclose(pe[: view.dims["T"]], view.record("pos_emb").value, atol=1e-6)
    assert np.allclose(pe[:, 0], np.sin(np.arange(len(pe))), atol=1e-6)  # sin on even dims
    assert np.allclose(pe[:, 1], np.cos(np.arange(len(pe))), atol=1e-6)


def test_attention_dims_that_cannot_be_built_are_refused():
    session = LessonSession(_lesson("attention"))
    with pytest.raises(KqvError, match="not divisible") as exc:
        session.set_dims({"C": 30, "nh": 4})
    # in the words of the dims dialog, every head count the dialog accepts, in order
    assert str(exc.value) == ("channels per token (C) = 30 is not divisible by attention heads (nh) = 4: "
                              "each head takes C/nh channels; with C = 30, nh can be 1, 2, 3, 5, 6, 10, 15")
    with pytest.raises(KqvError, match="nh can be 1, 2, 4, 8, 16$"):
        session.set_dims({"C": 128, "nh": 3})
    for lesson in load_lessons():  # the list stops where the lessons' nh field stops
        assert all(f.maximum == word_model.MAX_HEADS for f in lesson.dim_fields if f.name == "nh")
    with pytest.raises(KqvError, match="between 1 and 16"):
        session.set_dims({"T": 17})
    assert session.dims == _lesson("attention").default_dims


def test_bridge_side_by_side_holds_both_traces():
    lesson = _lesson("bridge")
    view = LessonSession(lesson).run(lesson.step_index("side-by-side"))
    (left_title, left), (right_title, right) = view.extra["side_by_side"]
    assert "(out, in)" in left_title and "(in, out)" in right_title
    pairs = {(a.name if a else None, b.name if b else None) for a, b in zip(left, right, strict=True)}
    # rows pair analogues, not indexes: the digit net's hidden layer beside the MLP's first layer
    assert {("w2", "h0.mlp.c_fc.w"), ("z2", "h0.fc"), ("a2", "h0.gelu"), ("delta2", "h0.dfc"),
            ("nabla_w2", "h0.mlp.c_fc.dw"), ("C", "loss"), ("delta3", "dlogits"), (None, "h0.att")} <= pairs
    assert not {b for a, b in pairs if a is not None} & {"h0.qkv", "h0.dqkv", "h0.attn.c_attn.dw"}
    for a, b in zip(left, right, strict=True):  # each pair: the same kind of variable, shaped alike
        if a is not None and b is not None and a.name not in ("x", "C", "w3"):
            assert len(a.shape) == 2 and a.phase == b.phase, (a.name, b.name)
    w2 = left[[b.name if b else None for b in right].index("h0.mlp.c_fc.w")]
    assert w2.name == "w2" and w2.phase == "forward"  # the weight before the update, like c_fc.w
    text = view.markdown
    assert "z2 with fc" in text and "delta2 with dfc" in text and "qkv" not in text


@pytest.mark.slow
def test_lesson_code_never_imports_textual_rich_typer_or_the_hub_downloader():
    import subprocess
    import sys

    code = ("import sys, lessons, kqv_cli.lesson_progress; from lessons import load_lessons, LessonSession\n"
            "for l in load_lessons(): LessonSession(l).run(0)\n"
            # nor huggingface_hub's downloader (a quarter of a second), which no first step needs
            "bad = [m for m in ('textual', 'rich', 'typer', 'huggingface_hub.file_download') "
            "if m in sys.modules]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.fixture
def fresh_digit_pools():
    """The lessons' digit pools forgotten before and after: each test loads them its own way."""
    from lessons.steps import digit_images

    def forget():
        digit_images._pool.cache_clear()
        digit_images._mnist_subset.cache_clear()

    forget()
    yield forget
    forget()


def test_lessons_keep_an_mnist_subset_and_later_read_only_that(fake_mnist, isolated_dirs, monkeypatch,
                                                               fresh_digit_pools):
    """Opening a digit step must not read all of MNIST each time (half a second): the first
    process keeps a subset in the cache, the next ones read it and never touch the IDX files."""
    from engine.data import mnist
    from lessons.steps import digit_images

    monkeypatch.setenv("KQV_DATA_DIR", str(fake_mnist))
    first = digit_images.lesson_digits(5, seed=1, split="test")
    assert first.x.dtype == np.float32 and first.x.shape == (5, 784) and not first.real
    np.testing.assert_allclose(first.x[:, 0], first.labels * 25 / 255, rtol=1e-6)  # the fake's pixels
    assert (isolated_dirs / "cache" / "lesson-digits.npz").is_file()

    fresh_digit_pools()  # as a new process would start

    def no_full_read(*args, **kwargs):
        raise AssertionError("read all of MNIST although its subset is in the cache")

    monkeypatch.setattr(mnist, "load_mnist", no_full_read)
    again = digit_images.lesson_digits(5, seed=1, split="test")
    np.testing.assert_array_equal(again.x, first.x)
    np.testing.assert_array_equal(again.labels, first.labels)
    assert again.source == first.source and "not the standard MNIST" in again.source
    # the subset is tied to the files it came from: a file replaced in the folder makes a new one
    stamp = digit_images._stamp(fake_mnist)
    assert digit_images._read_subset(stamp) is not None
    changed = {**stamp, "files": {**stamp["files"], "t10k-labels-idx1-ubyte": ["x.gz", 1, 2]}}
    assert digit_images._read_subset(changed) is None


@pytest.mark.slow
@needs_mnist
def test_lessons_read_real_mnist_and_keep_a_quick_subset(isolated_dirs, monkeypatch):
    from lessons.steps import digit_images

    monkeypatch.setenv("KQV_DATA_DIR", str(MNIST_DIR))
    digit_images._pool.cache_clear()
    digit_images._mnist_subset.cache_clear()
    try:
        first = digit_images.lesson_digits(5, seed=1, split="test")
        assert first.real and first.source.startswith("MNIST")
        cached = isolated_dirs / "cache" / "lesson-digits.npz"
        assert cached.is_file()
        cached.write_bytes(b"damaged")  # a bad cache file is rebuilt, never trusted
        digit_images._pool.cache_clear()
        digit_images._mnist_subset.cache_clear()
        again = digit_images.lesson_digits(5, seed=1, split="test")
        np.testing.assert_array_equal(first.x, again.x)
        digit_images._pool.cache_clear()
        digit_images._mnist_subset.cache_clear()
        from_cache = digit_images.lesson_digits(5, seed=1, split="test")  # the rebuilt subset
        np.testing.assert_allclose(from_cache.x, first.x, atol=1e-6)
        assert from_cache.source == first.source
    finally:
        digit_images._pool.cache_clear()
        digit_images._mnist_subset.cache_clear()


@pytest.mark.parametrize("C, nh", [(8, 2), (24, 3), (32, 4)])
def test_bridge_parameter_count_is_what_the_block_holds(C, nh):
    """The lesson's 12·C² + 13·C per block, checked against the engine's own arrays."""
    lesson = _lesson("bridge")
    view = LessonSession(lesson, {"C": C, "nh": nh}).run(lesson.step_index("param-count"))
    counted = next(n for n in view.notes if n.startswith("counted in this model's arrays"))
    held, formula = re.search(r"holds ([\d,]+) numbers; .* = ([\d,]+)$", counted).groups()
    assert held == formula == f"{12 * C * C + 13 * C:,}"
    assert f"= {12 * C * C + 13 * C:,} at C = {C}" in view.markdown
    assert "124,439,808" in view.markdown and any("124,439,808 = wte" in n for n in view.notes)


def test_sinusoidal_mode_scales_the_token_rows_by_sqrt_C():
    """Without the √C the words drown in the position code (cosine 0.997 after ln_1)."""
    lesson = _lesson("attention")
    view = LessonSession(lesson).run(lesson.step_index("layernorm"))
    C = view.dims["C"]
    tok, wte, idx = view.record("tok_emb"), view.record("wte"), view.record("idx")
    np.testing.assert_allclose(tok.value, wte.value[idx.value] * np.sqrt(C), rtol=1e-6)
    assert "√C" in tok.formula
    words = view.notes[0].split(": ", 1)[1].split()
    assert words[1] == "pizza"
    ln1 = view.record("h0.ln_1").value  # row 1 starts "the cat": same position as "pizza"
    a, b = ln1[0, 1], ln1[1, 1]
    assert a @ b / np.linalg.norm(a) / np.linalg.norm(b) < 0.95


def test_a_step_selects_the_variable_its_text_names_first():
    """backprop's layer-3 step opens on z3 (its text starts "z³ = w³ a² + b³"), not on w3; the
    bridge's digit layer on z2, not on the (784, 10) input; "Select h0.att_masked" is obeyed."""
    for lesson_id, step_id, wanted in [("backprop", "layer3", "z3"), ("bridge", "digit-layer", "z2"),
                                       ("attention", "mask", "h0.att_masked")]:
        lesson = _lesson(lesson_id)
        assert LessonSession(lesson).run(lesson.step_index(step_id)).select == wanted, step_id
    assert first_named("Recall: z² = w² a¹ + b², then δ³.", ["x", "w2", "delta3", "z2"]) == [
        "z2", "w2", "delta3", "x"]


@pytest.mark.parametrize("model, part", [(None, "SinusoidalPositions"), ("gpt2-tiny", "LearnedPositions")])
def test_positions_step_marks_the_position_code_that_ran(model, part):
    """The lesson's own model adds the sinusoidal code, GPT-2 its learned wpe: the code pane's
    marked pos_emb line sits in that part's forward, not in another position code's."""
    from conftest import REPO

    lesson = _lesson("attention")
    folder = str(REPO / "tests" / "data" / model) if model else None
    view = LessonSession(lesson, model=folder).run(lesson.step_index("positions"))
    span = next(s for s in view.code if s.name == "engine/gpt/blocks.py" and any(
        "pos_emb" in line.split(",")[0] for line in s.lines()))
    lines = span.lines()
    marked = [n for n in sorted(span.current) if "pos_emb" in lines[n - span.start].split(",")[0]]
    assert len(marked) == 1
    source = (REPO / "engine" / "gpt" / "blocks.py").read_text(encoding="utf-8").splitlines()
    classes = [line for line in source[: marked[0]] if line.startswith("class ")]
    assert classes[-1].startswith(f"class {part}(")
    assert span.lines()[0].strip().startswith("def forward(")


def test_every_step_with_an_attention_matrix_has_the_tokens_that_label_it():
    """Each step showing a (B, ..., T, T) variable gets the words of every batch row, and they
    are the words of idx (the token ids the model read), so the labels name the right rows."""
    for lesson in LESSONS:
        session = LessonSession(lesson)
        for i, step in enumerate(lesson.steps):
            view = session.run(i)
            square = [r for r in view.records if len(r.symbolic) >= 3 and r.symbolic[0] == "B"
                      and tuple(r.symbolic[-2:]) == ("T", "T")]
            if not square:
                continue
            B, T = square[0].shape[0], square[0].shape[-1]
            assert len(view.tokens) == B and all(len(row) == T for row in view.tokens), (lesson.id, step.id)
            idx = next((r.value for r in view.records if r.name == "idx"), None)
            if idx is not None and idx.shape == (B, T):
                words = [[word_model.VOCAB[j] for j in row] for row in idx]
                assert view.tokens == words, (lesson.id, step.id)
