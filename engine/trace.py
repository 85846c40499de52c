"""The trace: a record of every named variable a model computes.

A model calls ``tracer.record(...)`` right after it computes a variable the learner should see
(``z2``, ``delta3``, ``att``...). A :class:`Tracer` keeps a copy of the value together with its
name, its numeric shape, its symbolic shape (``("B", "nh", "T", "T")``), the formula that made
it, the phase (forward, backward or update) and the engine source line that computed it.

Training runs pass :data:`NO_TRACE` instead, whose ``record`` returns at once, so the hot path
pays one attribute look-up and one call per variable, nothing more. Lessons, quizzes and
``kqv trace`` all read the same records, so a shape shown to the learner is always the shape
numpy really produced.

Symbolic shapes are tuples of small expressions over the model's named dimensions: ``"B"``,
``"3*C"``, ``"B*T"``. :func:`eval_dim` turns one into a number, so any record can be checked
against the dimensions the model was built with (:meth:`Record.symbolic_matches`).
"""

from __future__ import annotations

import ast
import operator
import re
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from engine.syntax import parse

# "generate": the forward passes of generation with a KV cache, one new position each
PHASES = ("forward", "backward", "update", "generate")

_ENGINE_DIR = Path(__file__).resolve().parent
_REPO_DIR = _ENGINE_DIR.parent


@dataclass(frozen=True)
class Record:
    """One traced variable, as the learner sees it."""

    name: str  # as in the formula: "z2", "delta3", "nabla_w2", "att"
    value: np.ndarray  # a copy, taken when the variable was computed
    symbolic: tuple[str, ...]  # ("n2", "m") or ("B", "nh", "T", "T")
    formula: str  # "w2 @ a1 + b2"
    phase: str  # forward | backward | update
    source: str  # "engine/digits/network.py:120"
    note: str = ""  # one line of why, shown beside the formula

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def dtype(self) -> str:
        return str(self.value.dtype)

    def symbolic_matches(self, dims: dict[str, int]) -> bool:
        """True when the symbolic shape, evaluated with ``dims``, is the numeric shape."""
        if len(self.symbolic) != len(self.shape):
            return False
        return all(eval_dim(s, dims) == n for s, n in zip(self.symbolic, self.shape, strict=True))

    @property
    def source_file(self) -> str:
        return self.source.rsplit(":", 1)[0]

    @property
    def source_line(self) -> int:
        return int(self.source.rsplit(":", 1)[1])


class NoTrace:
    """The tracer for training: records nothing and costs (almost) nothing."""

    enabled = False

    def record(self, name, value, formula, phase, symbolic=(), note="") -> None:
        return None

    def section(self, title: str) -> None:
        return None

    def phase(self, name: str):
        return nullcontext()


NO_TRACE = NoTrace()


@dataclass
class Tracer:
    """Keeps every recorded variable in order.

    ``dims`` names the dimensions the model was built with (``{"B": 4, "T": 8, ...}``) so a
    record's symbolic shape can be read as numbers. ``sections`` marks where each part of a run
    starts (the index of its first record), e.g. ``"layer 0 attention"``.
    """

    dims: dict[str, int] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    sections: list[tuple[int, str]] = field(default_factory=list)
    enabled: bool = True
    filed_under: str | None = None  # set by phase(): every record goes to this phase
    # False: keep each variable's shape and dtype only (a broadcast zero, no memory), for a
    # trace of a real-size model, where copying every weight would take a gigabyte
    keep_values: bool = True
    # values with more elements than this are kept as read-only views, not copies: at GPT-2's
    # size those are the weights (wte alone is 150 MB), which a forward pass never changes
    copy_limit: int | None = None

    def record(self, name, value, formula, phase, symbolic=(), note="") -> None:
        phase = self.filed_under or phase
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {phase!r}")
        frame = sys._getframe(1)
        self.records.append(
            Record(
                name=name,
                value=self._kept(value),
                symbolic=tuple(symbolic),
                formula=formula,
                phase=phase,
                source=f"{_relative(frame.f_code.co_filename)}:{frame.f_lineno}",
                note=note,
            )
        )

    def section(self, title: str) -> None:
        self.sections.append((len(self.records), title))

    def _kept(self, value) -> np.ndarray:
        if not self.keep_values:
            return _shape_only(value)
        value = np.asarray(value)
        if self.copy_limit is not None and value.size > self.copy_limit:
            view = value.view()
            view.flags.writeable = False
            return view
        return np.array(value, copy=True)

    @contextmanager
    def phase(self, name: str):
        """File every record made inside under phase ``name``: the layers say "forward", but a
        forward pass that extends a KV cache by one token is the "generate" phase."""
        if name not in PHASES:
            raise ValueError(f"phase must be one of {PHASES}, not {name!r}")
        before, self.filed_under = self.filed_under, name
        try:
            yield self
        finally:
            self.filed_under = before

    # -- reading the trace -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __contains__(self, name: str) -> bool:
        return any(r.name == name for r in self.records)

    def __getitem__(self, name: str) -> Record:
        """The last record with this name (a variable recomputed later wins)."""
        for r in reversed(self.records):
            if r.name == name:
                return r
        raise KeyError(f"no variable named {name!r} in the trace")

    def names(self) -> list[str]:
        return [r.name for r in self.records]

    def mismatches(self) -> list[str]:
        """Records whose symbolic shape disagrees with their numeric shape (should be none)."""
        return [
            f"{r.name}: {r.shape} is not {format_symbolic(r.symbolic)} with {self.dims}"
            for r in self.records
            if r.symbolic and not r.symbolic_matches(self.dims)
        ]


def _shape_only(value) -> np.ndarray:
    value = np.asarray(value)
    return np.broadcast_to(np.zeros((), dtype=value.dtype), value.shape)


def _relative(filename: str) -> str:
    path = Path(filename).resolve()
    try:
        return path.relative_to(_REPO_DIR).as_posix()
    except ValueError:
        return path.name


# -- symbolic shapes -----------------------------------------------------------------------

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.floordiv,
}


@lru_cache(maxsize=1024)
def _expression(text: str) -> ast.Expression:
    """The parsed expression, kept: the lessons evaluate the same few hundred at every step,
    from worker threads (engine.syntax says why fewer parses there is better)."""
    return parse(text, mode="eval")


def eval_dim(expr: str, dims: dict[str, int]) -> int:
    """Evaluate a dimension expression such as ``"B*T"``, ``"3*C"`` or ``"C//nh"``.

    Only names, whole numbers, ``+ - * //`` and parentheses are allowed, so lesson files can
    carry these expressions safely. ``"4C"`` is read as ``4*C``.
    """
    text = _implicit_multiplication(expr.strip())
    try:
        tree = _expression(text)
    except SyntaxError as exc:
        raise ValueError(f"not a dimension expression: {expr!r}") from exc

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in dims:
                raise KeyError(f"unknown dimension {node.id!r} in {expr!r}")
            return int(dims[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"not a dimension expression: {expr!r}")

    return walk(tree)


def _implicit_multiplication(text: str) -> str:
    """``"4C"`` -> ``"4*C"``; names themselves may hold digits (``n1``) and stay as they are."""
    return re.sub(r"(?<![A-Za-z_0-9])(\d+)(?=[A-Za-z_])", r"\1*", text)


def format_shape(shape: tuple[int, ...]) -> str:
    """``(4, 8, 8)``; a 1-tuple keeps its comma as numpy prints it: ``(10,)``."""
    return str(tuple(int(n) for n in shape))


def format_symbolic(symbolic: tuple[str, ...]) -> str:
    if len(symbolic) == 1:
        return f"({symbolic[0]},)"
    return "(" + ", ".join(symbolic) + ")"
