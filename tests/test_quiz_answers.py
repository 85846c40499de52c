"""Forgiving answer parsing: every way a learner writes a shape, a count or a yes/no."""

import pytest

from kqv_cli.quiz.answers import (
    NO,
    Malformed,
    check,
    parse_count,
    parse_shape,
    parse_symbolic,
    parse_works,
    symbolic_equal,
)
from lessons.cards.question import Question

ATT = ("B", "T", "C", "nh", "hs", "V")


@pytest.mark.parametrize("text", ["(4, 8, 8)", "4x8x8", "4 8 8", "[4,8,8]", "4,8,8", "4×8×8",
                                  " ( 4 ,8, 8 ) ", "4 X 8 X 8", "4*8*8", "{4; 8; 8}", "(4, 8, 8,)"])
def test_numeric_shapes(text):
    assert parse_shape(text) == (4, 8, 8)


@pytest.mark.parametrize("text, shape", [("(10,)", (10,)), ("10", (10,)), ("(784, 1)", (784, 1)),
                                         ("1x1", (1, 1))])
def test_numeric_shapes_of_other_lengths(text, shape):
    assert parse_shape(text) == shape


@pytest.mark.parametrize("text", ["", "   ", "()", "four by eight", "(4, 8.5)", "(B, T)", "4-8"])
def test_malformed_numeric_shapes_say_how_to_write_one(text):
    with pytest.raises(Malformed, match=r"e\.g\. \(4, 8, 8\)"):
        parse_shape(text)


@pytest.mark.parametrize("text", ["(B, nh, T, hs)", "b,NH,t,HS", "B nh T hs", "[B,nh,T,hs]", "B×nh×T×hs",
                                  "  ( b ,  nh ,T,hs )"])
def test_symbolic_any_case_and_spacing(text):
    assert parse_symbolic(text, ATT) == ("B", "nh", "T", "hs")


@pytest.mark.parametrize("text, expected", [
    ("(B, T, 3C)", ("B", "T", "3*C")),
    ("B T 3*C", ("B", "T", "3*C")),
    ("B, T, 3 * c", ("B", "T", "3*C")),
    ("(B*T, V)", ("B*T", "V")),
    ("(C, 4C)", ("C", "4*C")),
])
def test_symbolic_expressions(text, expected):
    assert parse_symbolic(text, ATT) == expected


@pytest.mark.parametrize("given, expected, same", [
    (("B", "T", "3*C"), ("B", "T", "3*C"), True),
    (("B", "T", "C*3"), ("B", "T", "3*C"), True),
    (("B", "T", "nh*hs"), ("B", "T", "C"), True),  # C is defined as nh·hs
    (("B", "T", "C"), ("B", "T", "T"), False),
    (("B", "nh", "T", "T"), ("B", "T", "T"), False),  # the classic slip: forgetting the heads
    (("B", "T", "C"), ("B", "C", "T"), False),
])
def test_symbolic_equality_is_by_meaning_not_by_numbers(given, expected, same):
    assert symbolic_equal(given, expected, ATT, {"C": "nh*hs"}) is same


@pytest.mark.parametrize("text", ["(B, X)", "(B, T) + ", "B, T, $"])
def test_symbolic_unknown_letters_are_malformed_not_wrong(text):
    with pytest.raises(Malformed, match="letters"):
        parse_symbolic(text, ATT)


@pytest.mark.parametrize("text", ["23860", "23,860", "23 860", "23_860", " 23,860 "])
def test_counts(text):
    assert parse_count(text) == 23860


@pytest.mark.parametrize("text", ["", "lots", "23.8k", "-5"])
def test_malformed_counts(text):
    with pytest.raises(Malformed, match="23,860"):
        parse_count(text)


@pytest.mark.parametrize("text", ["no", "No", "n", "nope", "no, it fails", "it fails", "error", "NO."])
def test_works_no(text):
    assert parse_works(text) == NO


@pytest.mark.parametrize("text", ["yes (8, 96)", "yes, 8x96", "y 8 96", "(8, 96)", "8x96", "Yes: [8, 96]"])
def test_works_yes_with_shape(text):
    assert parse_works(text) == (8, 96)


def test_works_in_letters():
    assert parse_works("yes (T, 3C)", ATT) == ("T", "3*C")
    assert parse_works("no", ATT) == NO


@pytest.mark.parametrize("text", ["yes", "maybe", "yes please"])
def test_works_needs_the_shape_or_a_no(text):
    with pytest.raises(Malformed, match="no"):
        parse_works(text)


def _question(kind, answer, letters=("n1", "n2", "m"), in_letters=None):
    if in_letters is None:
        in_letters = kind == "symbolic" or (isinstance(answer, tuple) and isinstance(answer[0], str))
    return Question(card_id="t.x", topic="backprop", level=0, setting="", ask="", convention="", kind=kind,
                    answer=answer, letters=letters, hints=("", ""), derivation=(), proof=(),
                    in_letters=in_letters)


@pytest.mark.parametrize("kind, answer, text, right", [
    ("shape", (30, 10), "30x10", True),
    ("shape", (30, 10), "(10, 30)", False),
    ("symbolic", ("n2", "m"), "N2, M", True),
    ("symbolic", ("n2", "m"), "(n1, m)", False),
    ("count", 23860, "23,860", True),
    ("count", 23860, "23,850", False),
    ("works", NO, "no", True),
    ("works", NO, "yes (3, 4)", False),
    ("works", (3, 4), "yes (3, 4)", True),
    ("works", (3, 4), "no", False),
    ("works", ("n2", "m"), "yes (n2, m)", True),
])
def test_question_check(kind, answer, text, right):
    assert check(_question(kind, answer), text) is right
    assert check(_question(kind, answer), _question(kind, answer).answer_text()) is True


def test_in_letters_a_wrong_yes_is_wrong_not_unreadable():
    """When the operation fails, "yes (n2, m)" must be marked wrong, not bounced as malformed."""
    q = _question("works", NO, in_letters=True)
    assert check(q, "yes (n2, m)") is False
    assert check(q, "no") is True
    with pytest.raises(Malformed, match=r"yes \(n1, n2\)"):
        check(q, "yes (4, 8)")  # numbers where letters are asked: a format hint, for right or wrong alike


@pytest.mark.parametrize("text", ["x", "X", "xx", "()", ",", "hello", "@@", "x, x"])
@pytest.mark.parametrize("read", [parse_shape, parse_works, parse_count,
                                  lambda text: parse_symbolic(text, ATT),
                                  lambda text: parse_works(text, ATT)])
def test_whatever_is_not_an_answer_gets_the_same_could_not_read(text, read):
    """"x" is no more a shape than "hello": both are asked again with one message, never marked."""
    with pytest.raises(Malformed, match=r"^could not read "):
        read(text)
