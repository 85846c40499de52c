"""The value pane's renderings: numbers when they fit, colour blocks when they do not."""

from __future__ import annotations

import numpy as np

from kqv_cli.tui.widgets.figures import (
    CELL,
    MAX_CELLS,
    array_view,
    attends,
    cell_text,
    heatmap,
    series,
    shows_numbers,
)
from kqv_cli.variable_rows import short_dtype, value_range


def test_small_matrix_shows_its_numbers():
    text = array_view(np.array([[1.5, -2.0], [0.25, 4.0]]), "(T, T)", width=40, height=10).plain
    assert "(2, 2) = (T, T)" in text
    for number in ("1.5", "-2", "0.25", "4"):
        assert number in text


def test_masked_scores_keep_their_minus_infinity():
    att = np.triu(np.full((4, 4), -np.inf), 1) + np.tril(np.ones((4, 4)))
    assert "−inf" in array_view(att, "", width=40, height=10).plain  # as numbers
    big = np.triu(np.full((40, 40), -np.inf), 1)
    text = heatmap(big, "att", width=80, height=12).plain
    assert "-inf/nan" in text  # named in the legend, not passed off as a colour


def test_large_matrix_becomes_blocks_that_fit():
    w = np.random.default_rng(0).standard_normal((30, 784))
    text = array_view(w, "(n2, n1)", width=60, height=8).plain
    lines = text.splitlines()
    assert "(30, 784) = (n2, n1)" in lines[0] and "1 col in 14" in lines[0]
    assert "█" in lines[1]  # a narrow pane puts the colour legend on its own line
    assert len(lines) <= 8
    assert all(len(line) <= 60 for line in lines)
    assert set("".join(lines[2:])) == {"▀"}


def test_4d_arrays_show_one_matrix_and_say_which():
    att = np.arange(2 * 4 * 3 * 3, dtype=float).reshape(2, 4, 3, 3)
    axes = ("B", "nh", "T", "T")
    text = array_view(att, "(B, nh, T, T)", width=80, height=10, axes=axes).plain
    assert "batch 0/2 · head 0/4 · [ ] switch" in text
    text = array_view(att, "(B, nh, T, T)", width=80, height=10, k=5, axes=axes).plain
    assert "batch 1/2 · head 1/4" in text
    lines = text.splitlines()
    assert lines[1].split() == ["0", "1", "2"]  # column indices
    assert lines[2].split() == ["0"] + [f"{x:g}" for x in att[1, 1, 0]]  # row 0, after its index


def test_numbers_have_a_fixed_width_and_are_never_cut():
    assert [cell_text(x) for x in (0.0, -0.000139, 0.0664, -0.0538, 12345.0, 784, -np.inf)] == [
        "0", "-1e-4", "0.066", "-0.05", "1.2e4", "784", "−inf"]
    assert all(len(cell_text(x)) <= CELL for x in np.random.default_rng(1).standard_normal(200) * 1e3)


def test_mask_as_numbers_in_an_80_column_pane_with_its_legend_over_the_full_range():
    att = np.random.default_rng(0).standard_normal((12, 12))
    att[np.triu_indices(12, 1)] = -np.inf
    text = array_view(att, "(T, T)", width=78, height=6).plain  # 12 columns fit in 78
    assert text.count("−inf") == 66 and "▀" not in text
    assert shows_numbers(att, 78) and not shows_numbers(att, 40)
    blocks = array_view(att, "(T, T)", width=40, height=6).plain  # rows sampled, legend over all
    finite = att[np.isfinite(att)]
    assert f"{cell_text(finite.min())} " in blocks and f" {cell_text(finite.max())}" in blocks
    assert array_view(att, "(T, T)", width=78, height=6, mode="blocks").plain.count("−inf") == 0


def test_numbers_of_a_huge_matrix_stop_at_a_budget_and_say_how_many_rows_are_left():
    rows, cols = 50_257, 24  # a vocabulary-sized table, forced to numbers with the v key
    text = array_view(np.ones((rows, cols), np.float32), "(V, C)", 200, 30, mode="numbers").plain
    lines = text.splitlines()
    drawn = MAX_CELLS // cols
    assert lines[-1] == f"… {rows - drawn} more rows not drawn as numbers; v shows them all as colour blocks"
    assert len(lines) == 2 + drawn + 1  # caption, column labels, the rows drawn, the note
    assert lines[-2].split()[0] == str(drawn - 1)


def test_attention_matrices_name_their_rows_and_columns_by_token():
    """(B, nh, T, T): a query row and a key column per token of the batch row shown; the
    numbers keep their full cells however the labels are cut; other matrices keep indices."""
    words = [["the", "pizza", "tasted", "good"], ["she", "cut", "the", "pizza"]]
    att = np.random.default_rng(2).standard_normal((2, 3, 4, 4))
    att[..., np.triu_indices(4, 1)[0], np.triu_indices(4, 1)[1]] = -np.inf
    axes = ("B", "nh", "T", "T")
    wide = array_view(att, "", width=80, height=10, axes=axes, tokens=words).plain.splitlines()
    assert wide[1].split() == ["q↓", "k→", "the", "pizza", "tasted", "good"]
    assert wide[3].split()[:3] == ["1", "pizza", cell_text(att[0, 0, 1, 0])]
    second = array_view(att, "", width=80, height=10, k=3, axes=axes, tokens=words).plain.splitlines()
    assert "batch 1/2" in second[0] and second[1].split()[-4:] == ["she", "cut", "the", "pizza"]
    # a pane just wide enough for the numbers: names cut with an ellipsis, never the numbers
    narrow = array_view(att, "", width=28, height=10, axes=axes, tokens=words).plain.splitlines()
    assert all(len(line) <= 28 for line in narrow[1:])
    assert narrow[1].split() == ["the", "pizza", "tast…", "good"]
    assert narrow[3].split()[:2] == ["piz…", cell_text(att[0, 0, 1, 0])]
    # no room for even three letters: indices, not "p…"
    tight = array_view(att, "", width=26, height=10, axes=axes, tokens=words).plain.splitlines()
    assert [line.split()[0] for line in tight[2:]] == ["0", "1", "2", "3"]
    # the same values as (B, nh, T, hs), or without tokens: indices
    other = array_view(att, "", width=80, height=10, axes=("B", "nh", "T", "hs"), tokens=words).plain
    assert other.splitlines()[1].split() == ["0", "1", "2", "3"] and "pizza" not in other
    assert "pizza" not in array_view(att, "", width=80, height=10, axes=axes).plain


def test_series_and_attends():
    text = series([(0, 10.0), (100, 80.0)], "mini-batches", "accuracy %", width=40).plain
    assert "80" in text and "█" in text
    weights = np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    text = attends("it", ["the", "pizza", "it"], weights).plain
    assert "pizza" in text and "0.35" in text  # mean over the two heads


def test_table_cells():
    assert short_dtype("float32") == "f32" and short_dtype("int64") == "i64"
    assert value_range(np.array([-np.inf, 1.0, 3.0])) == ("-inf", "-inf", "3")
    # issue 24: a narrow table keeps 1 digit; a whole number is written out, 398 not 4e+02
    assert value_range(np.array([2.0, 398.0]), 1) == ("2", "200", "398")
    assert value_range(np.array([-12345.0, 0.002]), 1)[0] == "-12345"
