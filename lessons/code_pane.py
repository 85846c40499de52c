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
    tree = ast.parse(path.read_text(encoding="utf-8"))
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
    """The innermost function around each record's source line, lines marked, in first-seen order."""
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
        spans.setdefault((path, first, last), set()).add(line)
    return [CodeSpan(p, a, b, lines) for (p, a, b), lines in spans.items()]


def named_span(ref: str) -> CodeSpan:
    file, _, qualname = ref.partition(":")
    first, last = find_function(file, qualname)
    return CodeSpan(_source_path(file), first, last, set())
