"""What a lesson is, and the plain-text format it is written in.

A lesson is one Markdown file in ``lessons/`` (``backprop.md``, ``attention.md``,
``bridge.md``) plus one small step script in ``lessons/steps/`` that builds the engine objects
with the chosen dimensions and runs them with a :class:`~engine.trace.Tracer`. The Markdown
holds everything a contributor edits: the words, and for each step which variables to show and
the shape the words claim for each. ``kqv lessons check`` (and the test suite) run every step
and fail when a variable is missing from the trace or its shape differs from the text.

The format
==========

The file starts with a header between two ``---`` lines::

    ---
    id: backprop                      # the name on the command line: kqv learn backprop
    title: How a network learns
    summary: One line for the home screen.
    script: backprop                  # lessons/steps/backprop.py drives the engine
    dims: n2=30, m=10                 # the sizes the learner may change, and their defaults
    dim: n2 | hidden neurons | 1 | 200      # name | label | minimum | maximum
    dim: m | images per mini-batch | 1 | 64
    check-dims: n2=7, m=3             # optional, any number of lines: kqv lessons check also
    check-dims: n2=1, m=1             # runs every step at each of these sets of dims
    ---

Then one ``## Title`` per step. The lines right under the title, up to the first blank line,
are the step's header; everything after it is the step's text, shown as Markdown::

    ## Feedforward into layer 2
    step: layer2                      # an id, unique in the lesson
    trace: digits                     # which engine run of the step script this step reads
    show: w2 (n2, n1), b2 (n2, 1), z2 (n2, m), a2 (n2, m)
    select: z2                        # optional: the variable selected first (one of show:)
    extra: accuracy                   # optional: a special view the step script provides
    code: engine/digits/network.py:Network.SGD     # optional: one more engine function to show

    Every neuron of layer 2 has one weight per pixel: w² is (n2, n1) = ({n2}, {n1}) ...

Which variable the screen selects first: the one ``select:`` names, else the first the step's
first paragraph names (``z²`` or ``z2``; a sentence "Select x" anywhere wins), else the first
the step recorded. Name it with ``select:`` when the text opens on a formula that names none
(``w ← w − (η/m)·nabla_w``) and the first new row would be a poor start (a 30 × 784 matrix).

``show`` lists the variables the step highlights, each with the symbolic shape the text claims
for it (``C ()`` for a scalar). Shapes are small expressions over the lesson's dimensions
(``B*T``, ``3*C``, ``C//nh``), the same language as :func:`engine.trace.eval_dim`. Several
``show:`` lines add up. The text itself must state each shown shape too, written the same way
(``(n2, n1)``; ``·`` may stand for ``*`` in prose, where Markdown would read ``*`` as emphasis):
the check reports a shape the text never states.

A step whose trace can also run on a real GPT-2 (``kqv learn attention --model``) may carry a
second text for it, after a line ``### On GPT-2``: the learner sees the part before that line
with the lesson's own model and the part after it with GPT-2, never both, so each can say what
is true of its model (characters or words against BPE, sine waves against a learned table).
``kqv lessons check`` holds each part to the shapes of the run it goes with. A step whose trace
runs the lesson's own model even then (the dropout step: GPT-2 has no dropout at inference) may
carry a GPT-2 text too, to say so while GPT-2 is loaded. The translation lesson's real model is
MarianMT (``kqv learn translation --model opus-mt-en-fr``); its second texts follow ``### On MarianMT``.

In the text, ``{expr}`` is replaced by its value for the dimensions the learner chose
(``{n1*n2 + n2*n3}`` reads ``23,820`` at the defaults), so numbers in the prose follow a
change of dims; write ``{{`` and ``}}`` for literal braces. Lines before the first ``##`` (after
the header) are ignored, so a file can open with a comment for contributors.

How a step picks its variables: the steps of one trace walk it in order. A step's shown
variables are looked up from where the previous step of that trace ended, and the step ends
after the last of them; the learner then sees every variable recorded so far (the latest value
of each name), with the ones recorded during this step highlighted and their engine lines
marked in the code pane. (When a step is the first of its trace but not of the lesson, only
its shown variables are highlighted: the run-up was seen in the other trace.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

# A {expr} in a step's text (group 1), or an escaped {{ / }}: the loader checks the expressions,
# the session fills them in for the learner's dims.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}")
# the line that starts a step's second text, the one shown when the lesson runs on its real model:
# GPT-2 for the attention lesson, MarianMT for the translation lesson
REAL_MODEL_HEADING = "### On GPT-2"
REAL_MODEL_HEADINGS = (REAL_MODEL_HEADING, "### On MarianMT")


@dataclass(frozen=True)
class DimField:
    """One size the learner may change with ``d``: ``DimField("n2", "hidden neurons", 1, 200)``."""

    name: str
    label: str
    minimum: int
    maximum: int


@dataclass(frozen=True)
class Step:
    """One screen of a lesson."""

    id: str
    title: str
    markdown: str  # the text; in a StepView its {expr} are filled in for the chosen dims
    show: list[str]  # variables to highlight, in the order written
    expects: dict[str, tuple[str, ...]]  # name -> symbolic shape the text claims
    trace: str = ""  # which engine run of the step script this step reads
    extras: tuple[str, ...] = ()  # names of special views the step script provides
    code: tuple[str, ...] = ()  # extra engine functions to show: "engine/digits/network.py:Network.SGD"
    select: str = ""  # the shown variable the screen selects first ("" : the first the text names)
    line: int = 0  # where the step starts in its file, for error messages
    real_markdown: str = ""  # the text after '### On GPT-2', shown instead on a real model


@dataclass
class Lesson:
    """A lesson as loaded from its Markdown file."""

    id: str
    title: str
    summary: str
    steps: list[Step]
    default_dims: dict[str, int]
    dim_fields: list[DimField]
    script: str = ""  # module name under lessons.steps
    path: str = ""  # the file it came from, as shown in errors ("lessons/backprop.md")
    check_dims: list[dict[str, int]] = field(default_factory=list)  # other dims `lessons check` runs
    extras_known: set[str] = field(default_factory=set)

    def step_index(self, step_id: str) -> int:
        for i, s in enumerate(self.steps):
            if s.id == step_id:
                return i
        raise KeyError(step_id)


class Extra(TypedDict, total=False):
    """One special view a step script offers (a value of :attr:`TraceRun.extras`).

    A step that asks for it (``extra: name``) gets its figure in ``StepView.extra`` and its
    notes under the text; :mod:`lessons.session` lists the figures the TUI draws.
    """

    notes: list[str]  # lines shown under the steps that ask for this extra (and only those)
    # (title, 2-D array, row label, column label[, row names, column names])
    heatmap: tuple[Any, ...]
    series: tuple[str, list[tuple[float, float]], str, str]  # (title, [(x, y)], x label, y label)
    attends: tuple[str, list[str], Any]  # (query token, [tokens], weights (nh, T))
    side_by_side: tuple[tuple[str, list[Any]], tuple[str, list[Any]]]  # (title, [Record | None]) x 2


@dataclass
class TraceRun:
    """One engine run a step script made: what the steps of one ``trace:`` read.

    ``tracer`` holds the records; ``dims`` every dimension their symbolic shapes use (the
    learner's choices plus fixed and derived ones such as n1 = 784 or hs = C // nh);
    ``notes`` are lines shown under the step ("synthetic digits, not MNIST");
    ``extras`` maps an ``extra:`` name of the lesson file to a special view, e.g.
    ``{"pe_heatmap": {"heatmap": ("PE", array, "positions", "dimensions")}}``; an extra's
    ``"notes"`` list is shown only on the steps that ask for it. ``tokens`` are the words (or
    BPE pieces) of each batch row of a GPT run: the screen labels the query rows and key
    columns of the attention matrices with them.
    """

    tracer: object  # engine.trace.Tracer
    dims: dict[str, int]
    notes: list[str] = field(default_factory=list)
    extras: dict[str, Extra | Callable[[], Extra]] = field(default_factory=dict)  # a function: made on demand
    tokens: list[list[str]] = field(default_factory=list)  # (B, T) words, one list per batch row
    # an encoder-decoder's (B, S) source pieces: they label the S axes of its attention matrices
    source_tokens: list[list[str]] = field(default_factory=list)


# what a step script's runs are: run(dims, seed), and a real-model run(model, seed)
TraceFn = Callable[[dict[str, int], int], TraceRun]
RealTraceFn = Callable[[str, int], TraceRun]


class StepScript(Protocol):
    """The contract of a step script, ``lessons/steps/<script>.py`` (a module that has these).

    ``TRACES`` maps each ``trace:`` name of the lesson file to the run the steps of that trace
    read; ``EXTRAS`` names the special views (:class:`Extra`) its runs may offer;
    :meth:`full_dims` adds the fixed and derived dims to the learner's (``n1 = 784``,
    ``hs = C // nh``) and raises :class:`~engine.errors.KqvError` for sizes that cannot be
    built. A script whose traces also run on a real GPT-2 adds ``REAL_MODEL_TRACES:
    Mapping[str, RealTraceFn]`` (optional, so not a member here: read it with ``getattr``).
    """

    TRACES: Mapping[str, TraceFn]
    EXTRAS: Collection[str]

    def full_dims(self, dims: dict[str, int]) -> dict[str, int]: ...
