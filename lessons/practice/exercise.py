"""What a practice exercise is: the learner writes one of the engine's functions, kqv grades it.

Each exercise is a folder ``lessons/practice/<name>/`` with three files:

* ``starter.py``: what ``kqv practice init`` copies into the learner's workspace, one function
  with the engine's signature, a docstring with every shape in letters, and a body that says it
  is not written yet;
* ``solution.py``: the reference solution ``kqv practice solution`` shows; the test suite proves
  it passes the grader and that each mistake below, written into it, is recognised by name;
* ``spec.py``: ``EXERCISE = Exercise(...)``, the fields below.

The expected values are never written down: :attr:`Exercise.cases` runs the *engine* with a
:class:`~engine.trace.Tracer` on inputs whose dimensions are odd and pairwise different
(n1=7, n2=5, n3=3, m=4), and returns the traced records to grade, in grading order. A shape then
names its dimensions without doubt: a (4, 5) where (5, 4) = (n2, m) belongs is a transpose.

lessons/practice/AUTHORING.md walks through adding one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.trace import Record

# A return layout names what the function returns: "a3" is one array, ["nabla_b2", "nabla_b3"]
# a list (or tuple) of two arrays, [["nabla_b2"], ["nabla_w2"]] a pair of lists.
Layout = str | list


@dataclass(frozen=True)
class Call:
    """One call of a learner's function: its name, its arguments in order, what it returns.

    An argument is an array, a number, a list of arrays (``weights``) or a :class:`Seeded`
    random generator. ``returns`` is a
    :data:`Layout` of graded names.
    """

    function: str
    args: dict[str, Any]
    returns: Layout


@dataclass(frozen=True)
class Seeded:
    """An argument that is ``np.random.default_rng(seed)``, made fresh in the learner's process
    (a Generator cannot travel in an .npz): their draws come from the stream the engine's did."""

    seed: int


@dataclass
class Case:
    """One input set: the calls to make, and the engine's records to grade them against."""

    dims: dict[str, int]  # {"n1": 7, "n2": 5, "n3": 3, "m": 4}: reads shapes as letters
    calls: list[Call]
    expected: list[Record]  # the graded variables, in grading order, from the engine's trace
    values: dict[str, np.ndarray] = field(default_factory=dict)  # every engine value a mistake may read

    def value(self, name: str) -> np.ndarray:
        for r in self.expected:
            if r.name == name:
                return r.value
        return self.values[name]


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer, recognised by its value.

    ``wrong(case)`` computes the wrong values from the engine's own ones, keyed by the graded
    variables the mistake makes wrong first (``{"delta3": case.value("a3") - case.value("y")}``).
    ``mutation`` is ``(old, new)``: replacing ``old`` (found exactly once) by ``new`` in
    ``solution.py`` writes the mistake as code; the tests check the grader names it.
    """

    name: str  # "no σ′", "transposed"
    hint: str  # what to look at, in one or two sentences
    wrong: Callable[[Case], dict[str, np.ndarray]]
    mutation: tuple[str, str]


@dataclass(frozen=True)
class GradCheck:
    """Check the learner's backward against finite differences of *their own* forward.

    An oracle that is not the engine (minitorch's tests do the same): with the loss
    L = Σ upstream ⊙ forward(...)[output] (or the forward's scalar itself when ``upstream`` is
    empty), each input in ``grads`` is nudged entry by entry, ±h in float64, and the slope is
    compared with the gradient the learner's backward returned under the graded name.
    """

    forward: str  # the learner's forward function ("softmax_forward")
    grads: tuple[tuple[str, str], ...]  # (forward argument, graded gradient): (("x", "dx"),)
    upstream: str = ""  # the backward call's argument that is dL/d(output) ("dp"); "" for a scalar loss
    output: int | None = None  # which returned value is the output, when the forward returns several


@dataclass(frozen=True)
class Rung:
    """The derive level's hints for one graded variable (or a few worked out together).

    ``steps`` go from a nudge (what the variable depends on in the forward) to the formula, one
    step per hint: the learner asks for the next one only while that variable is still the first
    wrong one, so a step is spent where the learner is stuck and nowhere else.
    """

    names: tuple[str, ...]  # the graded variables it helps with: ("dx",), or the forward's ("mean", "var")
    steps: tuple[str, ...]  # nudge first, the formula last


@dataclass(frozen=True)
class Derive:
    """The derive level: the starter ``derive.py`` states the forward computation and the shapes
    only, and the backward is worked out from it (Karpathy's "backprop ninja"). The hint shown
    next is a step of the rung of the variable that is failing now."""

    text: str  # what to write at this level: the forward and the shapes, no backward formula
    rungs: tuple[Rung, ...]  # every graded variable on one rung, in grading order
    # when a name's part depends on the input set ("delta3" is the output layer's δ in a 3-layer
    # net, a hidden one's in a 4-layer net): (name, that set's dims) -> the name the rungs use
    role: Callable[[str, dict[str, int]], str] | None = None

    def rung(self, name: str | None, dims: dict[str, int] | None = None) -> Rung | None:
        """The rung that helps with the graded variable ``name`` on the input set of ``dims``
        (None: no rung names it)."""
        if name is not None and self.role is not None and dims is not None:
            name = self.role(name, dims)
        return next((r for r in self.rungs if name in r.names), None)


@dataclass(frozen=True)
class Exercise:
    name: str  # the workspace file is <name>.py; `kqv practice check <name>`
    title: str
    step: str  # the id of the step it follows ("layer2"); lessons.curriculum names the lesson
    function: str  # the function the learner writes (the last of the calls)
    phase: str  # "forward" or "backward": the order the variables are graded in
    text: str  # what to write, in our words, with shapes in letters
    hints: tuple[str, str, str]  # shape -> formula -> near-code
    mistakes: tuple[Mistake, ...]
    cases: Callable[[], list[Case]]  # runs the engine; the first case is the one shown in full
    rtol: float = 1e-6  # largest max relative error that counts as equal
    # (graded name, what to say) when that variable's values are wrong and no mistake matches;
    # {yours} and {engine} are filled in with the two values when it is one number
    notes: tuple[tuple[str, str], ...] = ()
    gradcheck: GradCheck | None = None  # backward exercises: finite differences of the learner's forward
    lesson: str = ""  # the lesson it follows, filled in from lessons.curriculum when it is loaded
    derive: Derive | None = None  # the derive level: work the backward out from the forward alone

    @property
    def levels(self) -> tuple[str, ...]:
        """The levels the exercise can be done at: "guided" always, "derive" when it has one."""
        return ("guided", "derive") if self.derive is not None else ("guided",)

    def mistake(self, name: str) -> Mistake:
        return next(m for m in self.mistakes if m.name == name)
