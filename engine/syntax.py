"""Parsing Python source while other threads may parse too.

CPython 3.11's AST constructor counts its recursion per interpreter, not per thread, so two
threads inside ``ast.parse`` at once can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905, fixed in later versions). The lesson screen parses engine files
and dimension expressions in its worker threads while Textual parses key actions on the event
loop. kqv's own parses go through :func:`parse`: one at a time, and once more when a parse in
a thread kqv does not control (Textual's) got in the way.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(source, mode=mode)``, safe to call from any thread."""
    with _LOCK:
        try:
            return ast.parse(source, mode=mode)
        except SystemError:  # another thread's parse ran inside this one: the source is fine
            return ast.parse(source, mode=mode)
