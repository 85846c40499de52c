"""The bigram baseline (engine/gpt/bigram.py) and the training lesson's step that measures it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.gpt.bigram import bigram_fit, bigram_loss
from engine.trace import Tracer

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_counts_and_probabilities_follow_the_text():
    ids = np.array([0, 1, 0, 1, 2, 0])  # pairs: 0→1, 1→0, 0→1, 1→2, 2→0
    tracer = Tracer(dims={"V": 3})
    P = bigram_fit(ids, 3, alpha=0.0, tracer=tracer)
    np.testing.assert_array_equal(tracer["counts"].value, [[0, 2, 0], [1, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(P, [[0, 1, 0], [0.5, 0, 0.5], [1, 0, 0]])
    smoothed = bigram_fit(ids, 3, alpha=1.0)
    np.testing.assert_allclose(smoothed.sum(axis=1), 1.0)
    np.testing.assert_allclose(smoothed[0], [1 / 5, 3 / 5, 1 / 5])  # (N + 1) / (2 + 3)
    loss = bigram_loss(smoothed, ids[:-1], ids[1:])
    pairs = [(0, 1), (1, 0), (0, 1), (1, 2), (2, 0)]
    assert loss == pytest.approx(-np.mean([np.log(smoothed[a, b]) for a, b in pairs]))


def test_counting_is_the_best_table_for_the_training_text():
    """With α = 0 the counted table has the lowest training loss of any table: moving
    probability within a row raises it."""
    ids = np.random.default_rng(0).integers(0, 5, size=400)
    P = bigram_fit(ids, 5, alpha=0.0)
    best = bigram_loss(P, ids[:-1], ids[1:])
    for shift in (0.01, -0.01):
        Q = P.copy()
        Q[2, 1] += shift
        Q[2, 3] -= shift
        assert bigram_loss(Q, ids[:-1], ids[1:]) > best


def test_the_training_lessons_bigram_step_sits_between_the_two_gpts():
    from lessons import LessonSession, load_lessons

    lesson = next(lesson for lesson in load_lessons() if lesson.id == "training")
    view = LessonSession(lesson).run(lesson.step_index("bigram"))
    line = next(n for n in view.notes if n.startswith("on this batch:"))
    untrained, bigram, trained = (float(line.split(name + " ")[1].split(" ")[0].rstrip(","))
                                  for name in (": untrained GPT", ", bigram", ", trained GPT"))
    assert untrained > bigram > trained
    assert f"{float(view.record('loss').value):.3f}" == f"{bigram:.3f}"  # the note states the traced loss
    assert view.record("P").shape == (view.dims["V"], view.dims["V"])


def test_on_tiny_shakespeare_the_bigram_scores_about_2_5(monkeypatch):
    if not (SHARED / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip("Tiny Shakespeare is not in ../shared/data (kqv data shakespeare)")
    from lessons.steps import training

    monkeypatch.setenv("KQV_DATA_DIR", str(SHARED))
    training._shakespeare_bigram.cache_clear()
    try:
        V, n, train, val = training._shakespeare_bigram()
        note = training.shakespeare_bigram_notes()[0]
    finally:
        training._shakespeare_bigram.cache_clear()
    assert V == 65 and n == 1_003_854
    assert 2.3 < train < val < 2.7  # between ln 65 = 4.17 and the GPT's 1.82
    assert f"{val:.3f} on the last 10%" in note


def test_l2_shrinks_every_weight_by_one_minus_eta_lambda_over_n():
    """The training lesson's w ← (1 − ηλ/n)·w − (η/m)·nabla_w, on the digit net's own update."""
    from engine.digits.network import Network

    rng = np.random.default_rng(0)
    x, y = rng.random((784, 4)).astype(np.float32), np.eye(10, dtype=np.float32)[:, :4]
    plain, l2 = Network([784, 8, 10], seed=0), Network([784, 8, 10], seed=0)
    start = plain.weights[0].copy()
    plain.update_mini_batch(x, y, 3.0)
    l2.update_mini_batch(x, y, 3.0, lmbda=5.0, n=1000)
    np.testing.assert_allclose(l2.weights[0] - plain.weights[0], -(3.0 * 5.0 / 1000) * start, atol=1e-6)
