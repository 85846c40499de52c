"""Reading what the learner typed, forgivingly.

A shape may come as ``(4, 8, 8)``, ``4x8x8``, ``4 8 8``, ``[4,8,8]``, ``4,8,8`` or ``4×8×8``; a
symbolic shape as ``(B, nh, T, hs)`` with any spacing and case, ``3C`` being ``3*C``; a count
as ``23860`` or ``23,860``; "will this work" as ``no`` or ``yes (8, 96)``.

Anything that cannot be read raises :class:`Malformed`, whose message says how to write the
answer. The session asks again instead of marking it wrong: a typo is not a wrong idea.
:func:`check` holds a learner's text against a card's :class:`~lessons.cards.question.Question`.
"""

from __future__ import annotations

import math
import re

import numpy as np

from engine.trace import eval_dim
from lessons.cards.question import NO, Question


class Malformed(ValueError):
    """The answer could not be read; the message is a hint on the format."""


_BRACKETS = str.maketrans("", "", "()[]{}")
_NUMERIC_SEPARATORS = re.compile(r"[\s,;x×X*]+")
_NAME_OR_NUMBER = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+")
# a word counts only when it ends there or a space/punctuation follows: "n2, m" is not "n"
_YES_RE = re.compile(r"(yes|yep|y|it works|works|sure)(?=$|[\s,:;.!\-–—(\[])", re.IGNORECASE)
_NO_RE = re.compile(r"(no|nope|n|it fails|fails|error|it doesn't|it does not|doesn't work|does not work)"
                    r"(?=$|[\s,:;.!\-–—])", re.IGNORECASE)


# The longest right answer is a few dozen characters; a longer one is a paste gone wrong, and
# reading it could cost more than it is worth (a product of 3,000 letters nests 3,000 deep).
MAX_ANSWER = 200


def check_length(text: str) -> None:
    """Refuse an answer far longer than any answer could be, before reading it."""
    if len(text) > MAX_ANSWER:
        raise Malformed(f"that answer is {len(text):,} characters long; a shape or a count fits in "
                        f"a few dozen (at most {MAX_ANSWER})")


# ASCII digits only ("²".isdigit() is True, but int() refuses it), and at most 18 of them: far
# past any dimension or parameter count, and far below Python's 4,300-digit limit for int().
_WHOLE = re.compile(r"[0-9]{1,18}")


def is_whole(part: str) -> bool:
    """Whether ``part`` is a whole number this module will turn into an int."""
    return _WHOLE.fullmatch(part) is not None


def parse_shape(text: str) -> tuple[int, ...]:
    """``"(4, 8, 8)"``, ``"4x8x8"``, ``"4 8 8"``, ``"[4,8,8]"``, ``"4×8×8"`` -> ``(4, 8, 8)``."""
    body = text.strip().translate(_BRACKETS).strip(" ,")
    parts = [p for p in _NUMERIC_SEPARATORS.split(body) if p]
    # no number at all ("x", "()", ",") is as unreadable as "hello": a shape has at least one size
    if not parts or not all(is_whole(p) for p in parts):
        raise Malformed(f"could not read {text.strip()!r} as a shape: use numbers, e.g. (4, 8, 8) or 4x8x8")
    return tuple(int(p) for p in parts)


def parse_symbolic(text: str, letters: tuple[str, ...]) -> tuple[str, ...]:
    """Read a shape in letters. Returns each dimension as an expression over ``letters``.

    Names are matched case-insensitively (``NH`` is ``nh``); ``3C`` and ``3 * C`` both mean
    ``3*C``. Dimensions are split at commas, or at spaces and ``×`` when there are no commas.
    """
    canonical = {name.lower(): name for name in letters}
    body = text.strip().translate(_BRACKETS).strip(" ,")
    usage = f"use the letters {', '.join(letters)}, e.g. ({', '.join(letters[:2])})"
    unreadable = f"could not read {text.strip()!r} as a shape in letters"
    if not body:
        raise Malformed(f"{unreadable}: {usage}")
    body = body.replace("×", ",")
    if "," in body:
        raw = [p for p in body.split(",") if p.strip()]
    else:
        # "B nh T hs" or "B T 3 * C": a new dimension starts where two operands meet
        raw, current, expect_operand = [], "", True
        for tok in re.findall(r"//|[*/+\-]|[A-Za-z_0-9]+|\S", body):
            is_operator = tok in ("*", "/", "//", "+", "-")
            if not is_operator and not expect_operand:
                raw.append(current)
                current = ""
            current += tok
            expect_operand = is_operator
        raw.append(current)
    dims = []
    for part in raw:
        part = re.sub(r"(?<![A-Za-z_0-9])(\d+)\s*(?=[A-Za-z_])", r"\1*", part.strip())  # 3C -> 3*C
        if not re.fullmatch(r"[A-Za-z_0-9\s*/+\-]+", part):
            raise Malformed(f"{unreadable}: {usage}")

        def name(match: re.Match) -> str:
            word = match.group(0)
            if word.isdigit():
                return word
            if word.lower() not in canonical:
                raise Malformed(f"{unreadable}: {word!r} is not one of this question's letters; {usage}")
            return canonical[word.lower()]

        expr = _NAME_OR_NUMBER.sub(name, part).replace(" ", "")
        try:
            eval_dim(expr, {n: 2 for n in letters})
        except (ValueError, KeyError, SyntaxError, ZeroDivisionError):
            raise Malformed(f"{unreadable}: {usage}") from None
        dims.append(expr)
    if not any(re.search(r"[A-Za-z]", d) for d in dims):  # numbers only: the question asked for letters
        raise Malformed(f"{unreadable}: answer in letters, not numbers; {usage}")
    return tuple(dims)


def symbolic_equal(given: tuple[str, ...], expected: tuple[str, ...], letters: tuple[str, ...],
                   derived: dict[str, str] | None = None) -> bool:
    """True when two symbolic shapes agree for every choice of the letters.

    Checked by evaluating both with a few random, large, distinct values per letter, so
    ``3*C`` equals ``C*3`` and ``3C`` but ``C`` does not equal ``T`` even when the question's
    numbers happen to coincide. ``derived`` names letters defined by others (``{"C": "nh*hs"}``),
    so ``(B, T, nh*hs)`` is ``(B, T, C)``.
    """
    if len(given) != len(expected):
        return False
    derived = derived or {}
    free = [name for name in letters if name not in derived]
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = rng.choice(np.arange(1000, 100_000), size=len(free), replace=False)
        dims = {name: int(v) for name, v in zip(free, values, strict=True)}
        try:
            for name, expr in derived.items():
                dims[name] = eval_dim(expr, dims)
            if any(eval_dim(g, dims) != eval_dim(e, dims) for g, e in zip(given, expected, strict=True)):
                return False
        except (KeyError, ValueError, ZeroDivisionError):
            return False
    return True


def parse_count(text: str) -> int:
    """``"23860"``, ``"23,860"``, ``"23 860"``, ``"23_860"`` -> ``23860``."""
    body = re.sub(r"[\s,_'’]", "", text.strip())
    if not is_whole(body):
        raise Malformed(f"could not read {text.strip()!r} as a count: type a whole number, e.g. 23,860")
    return int(body)


def parse_number(text: str) -> float:
    """``"4.17"``, ``"4,17"`` (a decimal comma), ``"≈ 4.17"`` -> ``4.17``."""
    body = text.strip().lstrip("≈~").strip().replace(",", ".")
    try:
        value = float(body)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise Malformed(f"could not read {text.strip()!r} as a number: type it with a decimal point, "
                        "e.g. 4.17")
    return value


def parse_works(text: str, letters: tuple[str, ...] | None = None):
    """Will this operation work? ``"no"`` -> :data:`NO`; ``"yes (8, 96)"`` or ``"(8, 96)"`` -> the shape.

    With ``letters`` the shape is read in letters (symbolic mode). A bare ``yes`` is not
    enough: the learner is asked for the shape that comes out too.
    """
    text = text.strip()
    example = f"yes ({', '.join(letters[:2])})" if letters else "yes (8, 96)"
    if _NO_RE.match(text):
        return NO
    yes = _YES_RE.match(text)
    rest = text[yes.end():].strip(" ,:;-–—") if yes else text
    if yes and not rest:
        raise Malformed(f"if it works, say what comes out too, e.g. {example}; or answer no")
    try:
        return parse_symbolic(rest, letters) if letters else parse_shape(rest)
    except Malformed:
        raise Malformed(f"could not read {text!r}: answer no, or the shape that comes out, "
                        f"e.g. {example}") from None


def check(question: Question, text: str) -> bool:
    """Is ``text`` the answer to ``question``? Raises :class:`Malformed` when it cannot be read."""
    check_length(text)
    q = question
    if q.kind == "count":
        return parse_count(text) == q.answer
    if q.kind == "number":
        return abs(parse_number(text) - q.answer) <= q.tolerance
    if q.kind == "shape":
        return parse_shape(text) == tuple(q.answer)
    if q.kind == "symbolic":
        return symbolic_equal(parse_symbolic(text, q.letters), tuple(q.answer), q.letters, q.derived)
    given = parse_works(text, q.letters if q.symbolic else None)  # NO, or the shape that comes out
    if given == NO or q.answer == NO:
        return given == q.answer
    if q.symbolic:
        return symbolic_equal(given, tuple(q.answer), q.letters, q.derived)
    return tuple(given) == tuple(q.answer)
