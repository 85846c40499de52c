"""The value pane's renderings: numbers when they fit, colour blocks when they do not."""

from __future__ import annotations

import numpy as np

from kqv_cli.matrix_numbers import matrix_format
from kqv_cli.tui.widgets.figures import (
    MAX_CELLS,
    array_view,
    attends,
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
    # thinned evenly to what fits: 60 columns of the 784, 12 rows of the 30 on the 6 lines left
    assert "(30, 784) = (n2, n1)" in lines[0] and "(12 of 30 rows, 60 of 784 cols)" in lines[0]
    assert "█" in lines[1]  # a narrow pane puts the colour legend on its own line
    assert len(lines) == 8
    assert all(len(line) <= 60 for line in lines)
    assert set("".join(lines[2:])) == {"▀"}


def test_4d_arrays_show_one_matrix_and_say_which():
    att = np.arange(2 * 4 * 3 * 3, dtype=float).reshape(2, 4, 3, 3)
    axes = ("B", "nh", "T", "T")
    text = array_view(att, "(B, nh, T, T)", width=80, height=10, axes=axes).plain
    assert "batch 0/2 · head 0/4 · rows T, cols T · [ ] switch" in text
    text = array_view(att, "(B, nh, T, T)", width=80, height=10, k=5, axes=axes).plain
    assert "batch 1/2 · head 1/4" in text
    lines = text.splitlines()
    assert lines[1].split() == ["0", "1", "2"]  # column indices
    assert lines[2].split() == ["0"] + [f"{x:g}" for x in att[1, 1, 0]]  # row 0, after its index


def cell_text(matrix, x) -> str:
    return matrix_format(matrix).text(x)


def test_mask_as_numbers_in_an_80_column_pane_with_its_legend_over_the_full_range():
    att = np.random.default_rng(0).standard_normal((12, 12))
    att[np.triu_indices(12, 1)] = -np.inf
    text = array_view(att, "(T, T)", width=78, height=6).plain  # 12 columns fit in 78
    assert text.count("−inf") == 66 and "▀" not in text
    assert shows_numbers(att, 78) and not shows_numbers(att, 40)
    blocks = array_view(att, "(T, T)", width=40, height=6).plain  # rows sampled, legend over all
    finite = att[np.isfinite(att)]
    ends = matrix_format(np.array([finite.min(), finite.max()]))
    assert f"{ends.text(finite.min())} " in blocks and f" {ends.text(finite.max())}" in blocks
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
    assert wide[3].split()[:3] == ["1", "pizza", cell_text(att[0, 0], att[0, 0, 1, 0])]
    second = array_view(att, "", width=80, height=10, k=3, axes=axes, tokens=words).plain.splitlines()
    assert "batch 1/2" in second[0] and second[1].split()[-4:] == ["she", "cut", "the", "pizza"]
    # a pane just wide enough for the numbers: the row words keep their room (each number one
    # decimal shorter, all in one format), the column names are cut with an ellipsis
    narrow = array_view(att, "", width=28, height=10, axes=axes, tokens=words).plain.splitlines()
    assert all(len(line) <= 28 for line in narrow[1:])
    assert narrow[1].split() == ["q↓", "k→", "the", "piz…", "tas…", "good"]
    pizza = att[0, 0, 1]
    assert narrow[3].split() == ["1", "pizza", f"{pizza[0]:.1f}", f"{pizza[1]:.1f}", "−inf", "−inf"]
    tight = array_view(att, "", width=26, height=10, axes=axes, tokens=words).plain.splitlines()
    assert [line.split()[0] for line in tight[2:]] == words[0]  # the words without their indices
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


def test_whitespace_tokens_get_a_visible_label_everywhere_tokens_name_rows():
    from kqv_cli.tui.widgets.figures import label_text

    assert [label_text(t) for t in (" the", " ", "   ", "\n", "\t", "\n\n", "a\x15", "▁came")] == [
        "the", "␣", "␣␣␣", "\\n", "\\t", "\\n\\n", "a\\x15", "▁came"]
    chars = [["T", "o", " ", "b", "e", "\n"]]  # a character-level model's row: a space and a newline
    att = np.tril(np.ones((1, 1, 6, 6))) / np.arange(1, 7)[:, None]
    lines = array_view(att, "", 80, 12, axes=("B", "nh", "T", "T"), tokens=chars).plain.splitlines()
    assert lines[1].split()[-6:] == ["T", "o", "␣", "b", "e", "\\n"]
    assert [line.split()[1] for line in lines[2:]] == ["T", "o", "␣", "b", "e", "\\n"]
    assert "␣" in attends(" ", [" ", "\n"], np.array([[0.5, 0.5]])).plain
    named = array_view(np.eye(2), "", 80, 12, names=([" ", "\t"], None)).plain.splitlines()
    assert [line.split()[1] for line in named[2:]] == ["␣", "\\t"]


def test_token_ids_are_numbers_never_colour_blocks():
    ids = np.random.default_rng(0).integers(0, 50257, size=(4, 64))  # (B, T): far wider than the pane
    text = array_view(ids, "(B, T)", width=60, height=8).plain
    assert "▀" not in text and str(ids[0, 0]) in text.splitlines()[2]
    assert shows_numbers(ids, 60, mode="blocks")  # v does not make them a heatmap either
    small = array_view(np.array([[3, 1, 4]]), "", width=60, height=8).plain.splitlines()
    assert small[2].split() == ["0", "3", "1", "4"]  # one-digit ids, one-digit cells


def test_a_b_t_c_heatmap_says_which_axis_runs_down_and_which_across():
    x = np.random.default_rng(0).standard_normal((2, 12, 32))
    text = array_view(x, "(B, T, C)", width=40, height=8, axes=("B", "T", "C")).plain
    assert "▀" in text and "batch 0/2 · rows T, cols C · [ ] switch" in text.splitlines()[0]
    text = array_view(x, "", width=40, height=8, k=1).plain
    assert "axis 0 1/2 · rows axis 1, cols axis 2" in text


def test_the_table_rows_give_way_in_shape_then_name_never_in_the_range():
    from kqv_cli.tui.widgets.variables_table import PADDING, elide, fit_rows

    rows = [("dec.h0.cross.att_scores", "(3, 4, 14, 8) = (B, nh, S, hs)", "f32", "-0.36", "-5.7e-10", "0.45")]
    assert fit_rows(rows, 200) == rows
    compact = fit_rows(rows, 80)
    assert compact[0][1] == "(3,4,14,8) = (B,nh,S,hs)" and compact[0][0] == rows[0][0]
    tight = fit_rows(rows, 70)
    name = tight[0][0]
    assert name.startswith("dec.h") and name.endswith("t_scores") and "…" in name
    assert tight[0][3:] == rows[0][3:]
    assert sum(len(cell) + pad for cell, pad in zip(tight[0], PADDING, strict=True)) <= 70
    assert elide("abc", 8) == "abc" and len(elide("a" * 30, 12)) == 12
    assert value_range(np.array([-6.8e-9, 1.0]), 2)[0] == "-6.8e-9"  # no padding zero in the exponent


def test_a_figure_keeps_its_aspect_thinned_or_whole():
    """Issue 24: a 28 x 28 digit was thinned to 3 lines of 28 columns. A figure (keep_aspect)
    loses rows and columns alike, one column per entry, two rows per line; at its natural
    height (None) every row shows: 28 rows in 14 lines."""
    digit = np.zeros((28, 28))
    digit[4:24, 13:15] = 1.0  # a "1": a bar down the middle
    whole = heatmap(digit, "(28, 28)", width=78, height=None, keep_aspect=True).plain.splitlines()
    pixels = [line for line in whole if set(line) == {"▀"}]
    assert len(pixels) == 14 and {len(line) for line in pixels} == {28}
    caption = "(28, 28)  rows: row, cols: column"  # the backprop step's: the legend goes below it
    thinned = heatmap(digit, caption, width=78, height=15, keep_aspect=True).plain.splitlines()
    pixels = [line for line in thinned if set(line) == {"▀"}]
    assert len(thinned) == 15 and len(pixels) == 13  # the pane's height used, two caption lines
    assert {len(line) for line in pixels} == {26}  # 26 of 28 rows, 26 of 28 columns
    assert "(26 of 28 rows, 26 of 28 cols)" in thinned[0]
    # a figure too small for its pane is enlarged alike in rows and columns
    small = heatmap(np.eye(6), "(6, 6)", width=78, height=15, keep_aspect=True).plain.splitlines()
    pixels = [line for line in small if set(line) == {"▀"}]
    assert len(pixels) == 12 and {len(line) for line in pixels} == {24}  # each entry 4 x 4 half cells


def test_a_variable_is_thinned_only_along_the_axis_that_needs_it():
    x = np.random.default_rng(0).random((784, 10))  # (n1, m): ten columns of 784 pixels
    lines = heatmap(x, "(784, 10)", width=78, height=12).plain.splitlines()
    assert "(22 of 784 rows)" in lines[0] and len(lines) == 12
    assert {len(line) for line in lines[1:]} == {20}  # every column, two cells wide
