"""The code pane's spans: which lines of which engine function recorded a step's variables.

A :class:`CodeSpan` is a run of lines of an engine file, with the lines that recorded this
step's variables marked. :func:`code_spans` finds the innermost function around each record's
source line; :func:`named_span` is a function a lesson step names itself (``code:`` in the
lesson file), and :func:`find_function` is the finder both use (the lesson loader checks those
names with it too). Files are parsed once per version (their mtime is in the cache key).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.syntax import parse
from engine.trace import Record

REPO_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class CodeSpan:
    """Lines ``start..end`` (1-based, inclusive) of an engine file; ``current`` are marked."""

    path: Path  # absolute path of the engine source file
    start: int
    end: int
    current: set[int] = field(default_factory=set)

    @property
    def name(self) -> str:
        """``engine/digits/network.py`` as the learner reads it."""
        try:
            return self.path.relative_to(REPO_DIR).as_posix()
        except ValueError:
            return self.path.name

    def lines(self) -> list[str]:
        return list(_source_lines(self.path, self.path.stat().st_mtime)[self.start - 1 : self.end])


@lru_cache(maxsize=16)
def _source_lines(path: Path, mtime: float) -> tuple[str, ...]:
    """An engine file's lines, read once per version of the file (the code pane asks at every step;
    ``mtime`` in the key makes an edited file read again, as the span finder does)."""
    return tuple(path.read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=32)
def _functions(path: Path, mtime: float) -> list[tuple[int, int, str]]:
    """Every function of a source file as (first line, last line, qualified name)."""
    tree = parse(path.read_text(encoding="utf-8"))  # from the worker: engine.syntax
    out = []

    def walk(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    out.append((first, child.end_lineno, name))
                walk(child, name + ".")

    walk(tree, "")
    return out


def _is_record(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "record" and len(node.args) >= 2)


def _writes(stmt: ast.stmt, name: str) -> bool:
    """Whether a simple statement computes ``name``: assigns it (or into it), or hands it to a
    call as the array to fill (``np.copyto(att, ...)``, ``out=att``)."""
    def named(target) -> bool:
        if isinstance(target, ast.Name):
            return target.id == name
        if isinstance(target, ast.Tuple | ast.List):
            return any(named(t) for t in target.elts)
        if isinstance(target, ast.Subscript | ast.Starred):
            return named(target.value)
        return False

    if isinstance(stmt, ast.Assign):
        return any(named(t) for t in stmt.targets)
    if isinstance(stmt, ast.AugAssign | ast.AnnAssign):
        return stmt.value is not None and named(stmt.target)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and not _is_record(stmt.value):
        call = stmt.value
        return bool((call.args and named(call.args[0]))
                    or any(k.arg == "out" and named(k.value) for k in call.keywords))
    return False


@lru_cache(maxsize=32)
def _computing_lines(path: Path, mtime: float) -> dict[int, tuple[int, ...]]:
    """Each line of a ``tracer.record(name, value, ...)`` call -> the lines of the statements
    that computed ``value``: the learner looks for the line that masks, not the one that records.

    Those are the statements that write the recorded variable since the last record of the
    same variable in the function (``np.copyto(att, -np.inf, ...)`` between the records of
    att_scores and att_masked), else since the function's previous record (``tok_emb = wte[idx]``
    and ``tok_emb *= scale``), else the last one before it (an initial ``a = x`` before a loop is
    not what computed the loop's ``a``). A value written inline (``tracer.
    record("loss", float(...), ...)``) is computed on the record line itself: it is left out.
    """
    tree = parse(path.read_text(encoding="utf-8"))  # from the worker: engine.syntax
    out: dict[int, tuple[int, ...]] = {}
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        stmts = sorted((n for n in ast.walk(func) if isinstance(n, ast.Assign | ast.AugAssign
                        | ast.AnnAssign | ast.Expr)), key=lambda n: n.lineno)
        calls = sorted((n for n in ast.walk(func) if _is_record(n)), key=lambda n: n.lineno)
        for i, call in enumerate(calls):
            value = call.args[1]
            if not isinstance(value, ast.Name):
                continue
            since = max((c.lineno for c in calls[:i] if isinstance(c.args[1], ast.Name)
                         and c.args[1].id == value.id), default=None)
            if since is None and i:  # first record of it: what was written since the last record
                since = calls[i - 1].end_lineno
            before = [s for s in stmts if s.lineno < call.lineno and _writes(s, value.id)]
            lines = tuple(s.lineno for s in (before[-1:] if since is None else before)
                          if since is None or s.lineno > since)
            if lines:
                for line in range(call.lineno, call.end_lineno + 1):
                    out.setdefault(line, lines)
    return out


def _source_path(file: str) -> Path:
    return (REPO_DIR / file).resolve()


def find_function(file: str, qualname: str) -> tuple[int, int]:
    """Lines of ``Class.method`` in an engine file (``KeyError`` if there is none)."""
    path = _source_path(file)
    for first, last, name in _functions(path, path.stat().st_mtime):
        if name == qualname:
            return first, last
    raise KeyError(qualname)


def code_spans(records: list[Record]) -> list[CodeSpan]:
    """The innermost function around each record's source line, the lines that computed each
    record's value marked, in first-seen order."""
    spans: dict[tuple, set[int]] = {}
    for r in records:
        path = _source_path(r.source_file)
        try:
            funcs = _functions(path, path.stat().st_mtime)
        except (OSError, SyntaxError):
            continue
        line = r.source_line
        around = [(a, b) for a, b, _ in funcs if a <= line <= b]
        first, last = min(around, key=lambda ab: ab[1] - ab[0]) if around else (line, line)
        # the statements that computed the value, inside the function (else the record line)
        marked = [n for n in _computing_lines(path, path.stat().st_mtime).get(line, ())
                  if first <= n <= last] or [line]
        spans.setdefault((path, first, last), set()).update(marked)
    return [CodeSpan(p, a, b, lines) for (p, a, b), lines in spans.items()]


def named_span(ref: str) -> CodeSpan:
    file, _, qualname = ref.partition(":")
    first, last = find_function(file, qualname)
    return CodeSpan(_source_path(file), first, last, set())
