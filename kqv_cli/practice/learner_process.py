"""The learner's functions, called from kqv's engine but run in the check's sandbox.

:class:`LearnerProcess` starts :mod:`kqv_cli.practice.run_child` in its own process group, with
the check's limits (a memory cap, one BLAS thread, kqv's own packages refused, 64 KB of
output), and lets the engine call a function of a learner's file as if it were local::

    with LearnerProcess({"layernorm": ws / "layernorm.py"}) as learner:
        out, xhat, rstd = learner.call("layernorm", "layernorm_forward", x, w, b, 1e-5)

Each call is bounded in time; anything the learner's code does wrong (an exception, a timeout,
too much output, a reply that is not arrays of numbers, the process dying) ends the run with
:class:`LearnerCodeFailed`, whose message is one line naming the function and, where it can,
the learner's line. Every end (a normal one, an error, Ctrl-C) kills the whole process group,
as the check's runner does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kqv_cli.practice.run_child import BrokenMessage, TooSlow, pack, receive, send, unpack
from kqv_cli.practice.runner import JOB_MARKER, MEMORY_MB, ONE_THREAD, _crash_line, _end_everything

CHILD = Path(__file__).resolve().with_name("run_child.py")
CALL_TIMEOUT = 10.0  # seconds one call of the learner's function may take (the check's limit)
START_TIMEOUT = 20.0  # loading numpy and the learner's files
CPU_SECONDS = 3600  # a backstop behind the per-call timeout, for the whole run


class LearnerCodeFailed(Exception):
    """The learner's code failed during a run; ``str()`` is the one line that says how."""


class LearnerProcess:
    """The child process holding the learner's files, one per exercise."""

    def __init__(self, files: dict[str, Path], timeout: float = CALL_TIMEOUT, memory_mb: int = MEMORY_MB):
        self.files = {name: Path(path).resolve() for name, path in files.items()}
        self.timeout, self.memory_mb = timeout, memory_mb
        self.calls = 0
        self._child: subprocess.Popen | None = None

    def __enter__(self) -> LearnerProcess:
        self._tmp = tempfile.TemporaryDirectory(prefix="kqv-practice-run-")
        job_dir = Path(self._tmp.name)
        job = {"files": {n: str(p) for n, p in self.files.items()}, "memory_mb": self.memory_mb,
               "cpu_seconds": CPU_SECONDS}
        (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")
        request_r, self._request = os.pipe()
        self._reply, reply_w = os.pipe()
        env = {**os.environ, **ONE_THREAD, JOB_MARKER: str(job_dir)}
        folder = next(iter(self.files.values())).parent if self.files else Path.cwd()
        try:
            with open(job_dir / "child.out", "wb") as out:
                self._child = subprocess.Popen(
                    [sys.executable, "-I", str(CHILD), str(job_dir), str(request_r), str(reply_w)],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=folder, env=env,
                    start_new_session=True, pass_fds=(request_r, reply_w))
        finally:
            os.close(request_r)
            os.close(reply_w)
        try:
            header, _ = self._reply_within(START_TIMEOUT, "loading your files")
            if header.get("status") != "ready":
                name = header.get("exercise", "")
                raise LearnerCodeFailed(self._said(header, f"{name}.py" if name else "your file", None))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the child and everything it started; remove the job folder."""
        if self._child is not None:
            _end_everything(self._child, self._tmp.name)
            self._child = None
            for fd in (self._request, self._reply):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._tmp.cleanup()

    def call(self, exercise: str, function: str, *args, want: tuple[str, ...] = ()):
        """``function(*args)`` from the learner's ``exercise`` file: what it returned (arrays,
        and lists where it returned tuples or lists), and with ``want`` also a dict of the
        values it showed under those names."""
        arrays: list[np.ndarray] = []
        specs = []
        for a in args:
            if isinstance(a, (int, float)) and not isinstance(a, bool):
                specs.append({"value": a})
            else:
                structure, packed = pack(a, np)
                specs.append(_shifted(structure, len(arrays)))
                arrays += packed
        try:
            send(self._request, {"op": "call", "exercise": exercise, "function": function, "args": specs,
                                 "want": list(want)}, arrays)
        except (BrokenPipeError, OSError):
            raise LearnerCodeFailed(self._gone(function)) from None
        header, values = self._reply_within(self.timeout, function)
        self.calls += 1
        if header.get("status") != "ok":
            raise LearnerCodeFailed(self._said(header, f"your {function}", exercise))
        try:
            returned = unpack(header.get("returns"), values)
            shown = {name: values[i] for name, i in header.get("shown", {}).items()
                     if type(i) is int and 0 <= i < len(values)}
        except (BrokenMessage, AttributeError, TypeError):
            raise LearnerCodeFailed(f"your {function}'s process sent back what kqv cannot read") from None
        if want:
            missing = [n for n in want if n not in shown]
            if missing:
                raise LearnerCodeFailed(f"your {function} did not show {', '.join(missing)}, which the "
                                        f"engine needs from it; `kqv practice check {exercise}` says what "
                                        "to hand in")
            return returned, shown
        return returned

    def _reply_within(self, seconds: float, what: str):
        try:
            return receive(self._reply, time.monotonic() + seconds)
        except TooSlow:
            raise LearnerCodeFailed(f"your {what} ran longer than {seconds:g} s on one call and was stopped "
                                    "(an endless loop?)") from None
        except (BrokenMessage, OSError, ValueError):
            raise LearnerCodeFailed(self._gone(what)) from None

    def _gone(self, what: str) -> str:
        """Why the child stopped answering: a crash (memory, a signal) or a garbled reply."""
        code = self._child.poll() if self._child is not None else None
        if code is None:
            try:
                code = self._child.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                return f"your code's process sent back something kqv cannot read during {what}"
        return f"during {what}: {_crash_line(code, self.memory_mb)}"

    def _said(self, header: dict, who: str, exercise: str | None) -> str:
        """One line for a reply that is not ``ok``, in the check's words."""
        status = header.get("status")
        message = str(header.get("message", ""))[:300]
        line, code = header.get("line"), str(header.get("code", ""))[:120]
        where = f" (line {line}: {code})" if isinstance(line, int) and line and code else (
            f" (line {line})" if isinstance(line, int) and line else "")
        again = f"; `kqv practice check {exercise}` runs it on its own" if exercise else ""
        if status == "error":
            return f"{who} raised {header.get('kind', 'an error')}: {message}{where}{again}"
        if status == "not_written":
            return f"{who} is not written yet ({message}){again}"
        if status == "syntax":
            return f"{who} has a syntax error{where or ''}: {message}"
        return f"{who}: {message or status}{again}"


def _shifted(structure, offset: int):
    """A packed structure with its array indices moved by ``offset``."""
    if isinstance(structure, list):
        return [_shifted(s, offset) for s in structure]
    return structure + offset
