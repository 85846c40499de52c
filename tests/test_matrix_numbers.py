"""One format per matrix (issue 24, item 9): every entry of a matrix written the same way."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kqv_cli.matrix_numbers import CELL, matrix_format

FIXED = re.compile(r"-?\d+(\.(\d+))?")


def decimals_of(text: str) -> int:
    match = FIXED.fullmatch(text)
    assert match, f"{text!r} is not a plain number"
    return len(match.group(2) or "")


def random_matrices(count: int, seed: int = 0):
    """Matrices of every scale a lesson meets: weights (0.02), scores (1), gradients (1e-5),
    logits, counts, token ids; with and without negatives, exact zeros and -inf."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        shape = tuple(rng.integers(1, 12, size=2))
        kind = rng.integers(5)
        if kind == 0:  # token ids
            yield rng.integers(0, rng.choice([10, 65, 50257]), size=shape)
        elif kind == 1:  # whole counts held in floats
            yield rng.integers(-999, 999, size=shape).astype(np.float32)
        else:
            scale = 10.0 ** rng.uniform(-7, 7)
            m = rng.standard_normal(shape) * scale
            if kind == 2:
                m = np.abs(m)  # probabilities, pixel values: nothing negative
            if kind == 3 and m.size > 1:  # a causal mask: -inf above, zeros here and there
                m[np.triu_indices(shape[0], 1, shape[1])] = -np.inf
                m.flat[rng.integers(m.size)] = 0.0
            yield m.astype(rng.choice([np.float32, np.float64]))


@pytest.mark.parametrize("cell", [CELL, CELL - 1])  # CELL - 1: the values pane making room for row words
def test_every_entry_of_a_matrix_shares_one_format_that_fits_its_cell(cell):
    for m in random_matrices(600):
        form = matrix_format(m, cell)
        texts = [form.text(x) for x in m.ravel().tolist()]
        assert max(len(t) for t in texts) <= form.width <= cell, (m, texts)
        finite = [t for x, t in zip(m.ravel().tolist(), texts, strict=True) if np.isfinite(x) and x != 0]
        assert len({decimals_of(t) for t in finite}) <= 1, texts  # never -4e-3 beside 0.002
        assert all(t in ("−inf", "0") for x, t in zip(m.ravel().tolist(), texts, strict=True)
                   if not (np.isfinite(x) and x != 0))
        for x, t in zip(m.ravel().tolist(), texts, strict=True):
            if np.isfinite(x) and x != 0:  # each number reads back to its entry, to the last digit shown
                step = 10.0 ** (form.exponent - (form.decimals or 0))
                error = abs(float(t) * 10.0**form.exponent - x)
                assert error <= step / 2 * 1.001 + 1e-12 * abs(x), (x, t, form)
        top = float(np.abs(m[np.isfinite(m)]).max()) if np.isfinite(m).any() else 0.0
        if top and form.decimals is not None:  # the largest entry keeps two significant digits
            assert float(form.text(top).lstrip("-")) >= 9.5 * 10.0 ** -form.decimals


def test_the_formats_a_learner_sees():
    small = np.array([[-0.004, 0.002], [0.0013, 0.0]])  # the matrix: was -4e-3 beside 0.002
    form = matrix_format(small)
    assert [form.text(x) for x in small.ravel()] == ["-4.00", "2.00", "1.30", "0"] and form.scale == "×1e-3"
    weights = np.array([[0.52, -0.031], [0.0049, 1.0]])
    assert [matrix_format(weights).text(x) for x in weights.ravel()] == ["0.52", "-0.03", "0.00", "1.00"]
    probs = np.array([0.094, 0.5, 0.406])
    assert [matrix_format(probs).text(x) for x in probs] == ["0.094", "0.500", "0.406"]
    ids = np.array([[50256, 464, 3290]])
    form = matrix_format(ids)
    assert [form.text(x) for x in ids.ravel()] == ["50256", "464", "3290"] and form.width == 5
    assert matrix_format(np.array([[2.0, 398.0]])).text(398.0) == "398"  # never 4e+02
    assert matrix_format(np.array([0, 1, 1], dtype=np.int64)).width == 1  # narrow ids, narrow cells
    big = np.array([-123456.0, 7.0])
    form = matrix_format(big)
    assert form.scale == "×1e5" and form.text(-123456.0) == "-1.23"
    assert matrix_format(np.array([np.nan, -np.inf])).text(-np.inf) == "−inf"
    assert matrix_format(np.array([9.996e-3, -0.001])).text(9.996e-3) == "1.00"  # not 10.00 (too wide)
