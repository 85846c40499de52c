"""Only the TUI imports Textual: the engine, lessons, progress and quiz code, and the commands
that must start fast (``kqv train``, ``kqv trace``), never pull it in. Each check runs in a fresh
interpreter, because this test process has usually imported Textual already."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO

REPORT = "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'textual'); print(bad); assert not bad"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_core_packages_do_not_import_textual():
    modules = ["engine", "engine.digits.network", "engine.trace", "lessons", "kqv_cli.lesson_progress",
               "kqv_cli.store", "lessons.practice", "kqv_cli.practice.grader", "kqv_cli.practice.workspace",
               "kqv_cli.practice.practice_progress", "kqv_cli.practice.watch", "kqv_cli.quiz"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in modules)
    # running a lesson step must not need Textual either
    code += "s = lessons.LessonSession(lessons.load_lessons()[0]); s.run(0)\n"
    # nor does grading a practice exercise (it loads every exercise and runs the engine)
    code += "[e.cases() for e in lessons.practice.load_exercises()]\n" + REPORT
    result = run_python(code)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("argv", [["train", "--help"], ["trace", "--help"], ["learn", "--help"],
                                  ["practice", "list"]])
def test_fast_commands_do_not_import_textual(argv):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "import kqv_cli.main\n"
        "from kqv_cli.cli import app\n"
        f"r = CliRunner().invoke(app, {argv!r})\n"
        "assert r.exit_code == 0, r.output\n" + REPORT
    )
    result = run_python(code)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_tui_does_import_textual():
    """The check above can fail: importing the app really loads Textual."""
    result = run_python("import sys\nimport kqv_cli.tui.app\n" + REPORT)
    assert result.returncode != 0 and "textual" in result.stdout


# -- no import circles ----------------------------------------------------------------------------

PACKAGES = ("engine", "lessons", "kqv_cli")


def _imports_of_kqv() -> dict[str, set[str]]:
    """Module -> the kqv modules it imports, at the top or inside a function (a lazy import
    still ties the two: change one and the other may break). Package ``__init__`` modules only
    hand names on, so they are left out, as are imports of them."""
    import ast

    files = {".".join(p.relative_to(REPO).with_suffix("").parts): p
             for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}
    modules = {name for name in files if not name.endswith(".__init__")}
    graph: dict[str, set[str]] = {}
    for name in modules:
        targets = set()
        for node in ast.walk(ast.parse(files[name].read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    circles = _circles(_imports_of_kqv())
    assert not circles, f"modules that import each other: {[sorted(c) for c in circles]}"


def test_the_circle_finder_finds_one():
    """The check above can fail: a loop of three is one circle, a module off it is not in it."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == {frozenset({"a", "b", "c"})}


def test_kqv_version_imports_neither_numpy_nor_the_cli_libraries():
    """``kqv --version`` answers from a constant: no numpy, typer, rich or engine (0.64 s before)."""
    code = ("import sys, atexit\n"
            "sys.argv = ['kqv', '--version']\n"
            "atexit.register(lambda: print(sorted(m for m in ('numpy', 'typer', 'rich', 'engine') "
            "if m in sys.modules)))\n"
            "from kqv_cli.last_resort import main\n"
            "main()\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["kqv 0.1.0", "[]"]


def test_the_engine_imports_numba_only_when_a_fused_kernel_is_first_asked_for():
    """numba takes ~0.5 s to import: building and tracing a model never pays it."""
    code = ("import sys\n"
            "import numpy as np\n"
            "from engine.gpt.model import GPT, GPTConfig\n"
            "from engine.trace import Tracer\n"
            "m = GPT(GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_head=1, n_embd=4))\n"
            "m.forward(np.zeros((1, 4), dtype=int), np.zeros((1, 4), dtype=int), tracer=Tracer())\n"
            "print('numba' in sys.modules)\n")
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
