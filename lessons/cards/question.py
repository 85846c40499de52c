"""What a quiz card asks, and the small shape helpers the card builders share.

A card (one per concept, in ``lessons/cards/<topic>.py``) is a builder: it draws dimensions,
runs the engine with a tracer and returns a :class:`Question`, which carries everything a
front end needs: the text to show, the answer (read from the traced run, never typed in by
hand), two hints, the derivation shown after the answer and the trace lines that prove it.
Reading what the learner typed is the quiz's job: :func:`kqv_cli.quiz.answers.check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.trace import Record, format_shape, format_symbolic

NO = "no"  # the answer of a "will it work?" question whose operation numpy refuses


@dataclass(frozen=True)
class Question:
    card_id: str  # the concept, e.g. "attention.scores_shape"
    topic: str  # a topic of lessons.curriculum: backprop, attention, ...
    level: int
    setting: str  # the model and its dimensions, one or two sentences
    ask: str  # the question itself
    convention: str  # the layout convention the question uses (weights (out, in), ...)
    kind: str  # shape | symbolic | count | works | number
    answer: Any  # tuple of ints, tuple of letter expressions, int, or NO / a shape
    letters: tuple[str, ...]  # the dimension names the question may be answered in
    hints: tuple[str, str]  # 1: the operation, 2: the operand shapes
    derivation: tuple[str, ...]  # step by step, shown after the answer
    proof: tuple[str, ...]  # the trace lines that show numpy produced it
    dims: dict[str, int] = field(default_factory=dict)
    derived: dict[str, str] = field(default_factory=dict)  # {"C": "nh*hs"}: letters defined by others
    subject: str = ""  # the traced variable asked about (for tests and the screen)
    in_letters: bool = False  # answered in letters: a "symbolic" question, or "works" in letters mode
    # what the answer was read from, so anyone can check it: {"record": Record} for a shape,
    # {"op": "@", "a": Operand, "b": Operand} for "will it work", {"arrays": {name: array}} for a count
    evidence: dict = field(default_factory=dict, repr=False, compare=False)
    tolerance: float = 0.0  # a "number" answer is right within ± this (the question says how close)

    @property
    def prompt(self) -> str:
        return f"{self.setting}\n{self.ask}"

    @property
    def symbolic(self) -> bool:
        return self.kind == "symbolic" or self.in_letters

    def format_help(self) -> str:
        """What to type, shown under the question."""
        if self.kind == "count":
            return "a whole number, e.g. 23,860"
        if self.kind == "number":
            return "a number, e.g. 4.17"
        if self.kind == "works":
            example = f"({', '.join(self.letters[:2])})" if self.symbolic else "(8, 96)"
            return f"no, or the shape that comes out, e.g. yes {example}"
        if self.kind == "symbolic":
            return f"a shape in letters ({', '.join(self.letters)}), e.g. ({', '.join(self.letters[:2])})"
        return "a shape in numbers, e.g. (4, 8, 8) or 4x8x8"

    def answer_text(self) -> str:
        if self.kind == "count":
            return f"{self.answer:,}"
        if self.kind == "number":
            return f"{self.answer:.3f}"
        if self.kind == "works":
            if self.answer == NO:
                return "no, it fails"
            return "yes, " + show(self.answer)
        return show(self.answer)


def _is_symbolic(value) -> bool:
    return isinstance(value, tuple) and any(isinstance(v, str) for v in value)


# -- showing shapes ------------------------------------------------------------------------


def show(shape) -> str:
    """A numeric or symbolic shape as the learner writes it."""
    if _is_symbolic(shape):
        return format_symbolic(tuple(shape))
    return format_shape(tuple(shape))


def both(symbolic: tuple[str, ...], shape: tuple[int, ...]) -> str:
    """``(n2, m) = (30, 10)``: the letters with the numbers they stand for."""
    if not symbolic:
        return show(shape)
    return f"{format_symbolic(tuple(symbolic))} = {format_shape(tuple(shape))}"


def proof_line(record: Record) -> str:
    """One trace record as evidence: where numpy computed it, what it made, and how."""
    return f"{record.source}  {record.name} {format_shape(record.shape)}  ← {record.formula}"


def transpose_sym(symbolic: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(symbolic[:-2]) + (symbolic[-1], symbolic[-2])


def broadcast_sym(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...] | None:
    """numpy's broadcasting rule on letters: align from the right; equal, or one side is 1."""
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else "1"
        y = b[-i] if i <= len(b) else "1"
        if x == y or y == "1":
            out.append(x)
        elif x == "1":
            out.append(y)
        else:
            return None
    return tuple(reversed(out))


def matmul_sym(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...] | None:
    """``A @ B`` on letters: inner sizes equal, leading (batch) dimensions broadcast."""
    if len(a) < 2 or len(b) < 2 or a[-1] != b[-2]:
        return None
    batch = broadcast_sym(a[:-2], b[:-2])
    return None if batch is None else batch + (a[-2], b[-1])


@dataclass(frozen=True)
class Operand:
    """One side of an operation a question shows: a label, its value and its letters."""

    label: str  # "w3ᵀ", "k", "the causal mask"
    value: np.ndarray
    symbolic: tuple[str, ...]
    record: Record | None = None  # the trace record it came from, for the proof

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    def described(self) -> str:
        return f"{self.label} is {both(self.symbolic, self.shape)}"

    @classmethod
    def of(cls, record: Record, label: str | None = None, transposed: bool = False) -> Operand:
        if transposed:
            return cls(label or record.name + "ᵀ", np.swapaxes(record.value, -1, -2),
                       transpose_sym(record.symbolic), record)
        return cls(label or record.name, record.value, record.symbolic, record)


def apply(op: str, a: Operand, b: Operand) -> tuple[tuple[int, ...] | None, str]:
    """Run ``a @ b`` or ``a + b`` in numpy: the result's shape, or None and numpy's complaint."""
    try:
        out = a.value @ b.value if op == "@" else a.value + b.value
    except ValueError as exc:
        return None, str(exc).splitlines()[0]
    return tuple(out.shape), ""


def _why_numbers_fit(op: str, a: Operand, b: Operand) -> list[str]:
    """Why numpy ran an operation whose letters do not fit: a size-1 axis, or equal numbers."""
    if op == "@":
        return [f"it works only because {a.symbolic[-1]} and {b.symbolic[-2]} are both {a.shape[-1]} here; "
                "with other dimensions it would fail"]
    lines = []
    for i in range(1, max(len(a.shape), len(b.shape)) + 1):
        x = a.symbolic[-i] if i <= len(a.shape) else None
        y = b.symbolic[-i] if i <= len(b.shape) else None
        nx, ny = (a.shape[-i] if x else 1), (b.shape[-i] if y else 1)
        # a literal size 1 in the letters (a row vector's ``("1", "n2")``) always stretches:
        # nothing to explain there, and "1 is 1 here" would say nothing
        if x is None or y is None or x == y or x.isdigit() or y.isdigit():
            continue
        if nx == 1 or ny == 1:
            one, big = (x, ny) if nx == 1 else (y, nx)
            lines.append(f"{one} is 1 here, and numpy stretches a size-1 axis to the other side's "
                         f"{big} (it repeats the one entry); with {one} above 1 it would fail")
        else:
            lines.append(f"{x} and {y} are both {nx} here, so numpy lines them up; with other dimensions "
                         "it would fail")
    return lines


def matmul_line(a: Operand, b: Operand) -> str:
    """A derivation line for ``a @ b``: letters, then the numbers numpy gave."""
    out_sym = matmul_sym(a.symbolic, b.symbolic)
    out_shape, _ = apply("@", a, b)
    return (f"{a.label} @ {b.label}: {show(a.symbolic)} @ {show(b.symbolic)} → {show(out_sym)}"
            f"   = {format_shape(a.shape)} @ {format_shape(b.shape)} → {format_shape(out_shape)}")


@dataclass
class Draw:
    """What a question builder gets: randomness, the learner's level and the answer mode.

    ``fixed`` pins some dimensions (``{"sizes": (784, 30, 10), "m": 10}``) for tests and for
    the book's own example; everything else is drawn from ``rng``.
    """

    rng: np.random.Generator
    level: int = 0
    symbolic: bool = False
    fixed: dict = field(default_factory=dict)

    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


# -- the two question shapes every topic uses ---------------------------------------------
#
# ``run`` is a traced engine run (DigitRun, GPTRun): it has ``setting()``, ``letters``,
# ``dims`` and ``derived``.


def shape_question(card_id: str, topic: str, convention: str, draw: Draw, run, record: Record,
                   ask: str, hints: tuple[str, str], derivation: list[str], proof: list) -> Question:
    """"What is the shape of <record>?": the answer is the traced shape (or its letters)."""
    if draw.symbolic:
        kind, answer = "symbolic", tuple(record.symbolic)
        ask += f" Answer in letters ({', '.join(run.letters)})."
    else:
        kind, answer = "shape", record.shape
    return Question(
        card_id=card_id, topic=topic, level=draw.level, setting=run.setting(), ask=ask,
        convention=convention, kind=kind, answer=answer, letters=run.letters, hints=hints,
        derivation=tuple(derivation),
        proof=tuple(dict.fromkeys(proof_line(r) for r in [*proof, record] if r is not None)),
        dims=run.dims, derived=dict(run.derived), subject=record.name, evidence={"record": record},
        in_letters=draw.symbolic,
    )


def works_question(card_id: str, topic: str, convention: str, draw: Draw, run, op: str, a: Operand,
                   b: Operand, ask: str, proof: list, notes: tuple[str, ...] = ()) -> Question:
    """"Will a @ b (or a + b) work, and what comes out?": numpy runs it, its outcome is the answer.

    ``notes`` are lines the card adds after the derivation (what the result means)."""
    shape, complaint = apply(op, a, b)
    out_sym = matmul_sym(a.symbolic, b.symbolic) if op == "@" else broadcast_sym(a.symbolic, b.symbolic)
    if draw.symbolic:
        answer = NO if shape is None else out_sym
        ask += f" Answer no, or the shape in letters ({', '.join(run.letters)})."
    else:
        answer = NO if shape is None else shape
        ask += " Answer no, or the shape."
    if op == "@":
        hints = ("A @ B works when A's last size equals B's second-to-last (the sizes summed over); "
                 "the result keeps A's rows and B's columns, and any leading sizes broadcast.",
                 f"{a.described()}; {b.described()}.")
        inner = (f"inner sizes: {a.label}'s last is {a.symbolic[-1]} = {a.shape[-1]}, "
                 f"{b.label}'s second-to-last is {b.symbolic[-2]} = {b.shape[-2]}")
    else:
        hints = ("numpy broadcasting: line the shapes up from the right; each pair of sizes must be "
                 "equal, or one of them 1 (which is stretched); missing sizes count as 1.",
                 f"{a.described()}; {b.described()}.")
        inner = f"line up from the right: {show(a.shape)} and {show(b.shape)}"
    if shape is None:
        derivation = [f"{a.label} {op} {b.label}: {show(a.symbolic)} {op} {show(b.symbolic)}"
                      f"   = {format_shape(a.shape)} {op} {format_shape(b.shape)}",
                      inner + " — they do not fit", f"numpy refuses: {complaint}"]
    else:
        derivation = [f"{a.label} {op} {b.label}: {show(a.symbolic)} {op} {show(b.symbolic)} → "
                      f"{show(out_sym) if out_sym else '?'}   = {format_shape(a.shape)} {op} "
                      f"{format_shape(b.shape)} → {format_shape(shape)}", inner]
        if out_sym is None:
            derivation += _why_numbers_fit(op, a, b)
    derivation += notes
    records = [*proof, *(o.record for o in (a, b))]
    return Question(
        card_id=card_id, topic=topic, level=draw.level, setting=run.setting(), ask=ask,
        convention=convention, kind="works", answer=answer, letters=run.letters, hints=hints,
        derivation=tuple(derivation),
        proof=tuple(dict.fromkeys(proof_line(r) for r in records if r is not None)),
        dims=run.dims, derived=dict(run.derived), subject=f"{a.label} {op} {b.label}",
        evidence={"op": op, "a": a, "b": b}, in_letters=draw.symbolic,
    )
