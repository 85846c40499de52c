"""Run a learner's file in a child process (:mod:`kqv_cli.practice.harness`) and read back what it made.

The parent writes the job (``job.json``) and the input arrays (``inputs.npz``) into a fresh
temporary folder, starts ``python -I harness.py FOLDER`` in its own process group with BLAS
limited to one thread, waits at most ``timeout`` seconds, and reads ``result.json`` and
``results.npz`` (``allow_pickle=False``). A timeout kills the whole group; a crash or a kill by
a resource limit becomes one line. Nothing here raises for what the learner's code did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lessons.practice import Case
from lessons.practice.exercise import Seeded

HARNESS = Path(__file__).resolve().with_name("harness.py")
TIMEOUT = 10.0  # seconds per check, child start included
MEMORY_MB = 1024
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass
class ChildResult:
    """What the child reported. ``status`` is ``ok`` or what went wrong (see the harness)."""

    status: str
    message: str = ""
    detail: dict = field(default_factory=dict)  # line, code, operands, function, kind
    returned: list[dict[str, np.ndarray]] = field(default_factory=list)  # per case: name -> array
    shown: list[dict[str, np.ndarray]] = field(default_factory=list)
    output: str = ""  # what the learner's code printed (at most 64 KB)


def run_learner(file: Path, cases: list[Case], feed: bool = True, timeout: float = TIMEOUT,
                memory_mb: int = MEMORY_MB) -> ChildResult:
    """Call the learner's functions in ``file`` on every case, in a child process.

    With ``feed``, ``show(name, ...)`` gives the learner's code the engine's value of each
    graded variable, so a slip in one variable does not carry into the next.
    """
    with tempfile.TemporaryDirectory(prefix="kqv-practice-") as tmp:
        job_dir = Path(tmp)
        _write_job(job_dir, file, cases, feed, timeout, memory_mb)
        env = {**os.environ, **ONE_THREAD}
        with open(job_dir / "child.out", "wb") as out:
            child = subprocess.Popen([sys.executable, "-I", str(HARNESS), str(job_dir)],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd=file.parent, env=env, start_new_session=True)
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(child)
                return ChildResult("timeout", f"your code ran longer than {timeout:g} s and was stopped "
                                              "(an endless loop?)")
        return _read_results(job_dir, code, len(cases), memory_mb)


def _write_job(job_dir: Path, file: Path, cases: list[Case], feed: bool, timeout: float,
               memory_mb: int) -> None:
    arrays: dict[str, np.ndarray] = {}
    job_cases = []
    for c, case in enumerate(cases):
        calls = []
        for k, call in enumerate(case.calls):
            args = []
            for name, value in call.args.items():
                key = f"{c}/{k}/{name}"
                if isinstance(value, Seeded):
                    args.append({"name": name, "kind": "rng", "seed": value.seed})
                elif isinstance(value, (list, tuple)):
                    args.append({"name": name, "kind": "list", "length": len(value)})
                    arrays.update({f"{key}/{i}": np.asarray(v) for i, v in enumerate(value)})
                else:
                    args.append({"name": name, "kind": "scalar" if np.ndim(value) == 0 else "array"})
                    arrays[key] = np.asarray(value)
            calls.append({"function": call.function, "args": args, "returns": call.returns})
        fed = [r.name for r in case.expected] if feed else []
        arrays.update({f"{c}/feed/{r.name}": r.value for r in case.expected if r.name in fed})
        job_cases.append({"calls": calls, "feed": fed})
    np.savez(job_dir / "inputs.npz", **arrays)
    job = {"file": str(file.resolve()), "cases": job_cases, "timeout": timeout, "memory_mb": memory_mb}
    (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()


def _read_results(job_dir: Path, code: int, n_cases: int, memory_mb: int) -> ChildResult:
    result_file = job_dir / "result.json"
    if not result_file.is_file():
        printed = (job_dir / "child.out").read_bytes()[-2000:].decode("utf-8", "replace").strip()
        return ChildResult("crash", _crash_line(code, memory_mb), output=printed)
    report = json.loads(result_file.read_text(encoding="utf-8"))
    returned: list[dict[str, np.ndarray]] = [{} for _ in range(n_cases)]
    shown: list[dict[str, np.ndarray]] = [{} for _ in range(n_cases)]
    with np.load(job_dir / "results.npz", allow_pickle=False) as npz:
        for key in npz.files:
            c, kind, name = key.split("/", 2)
            (returned if kind == "return" else shown)[int(c)][name] = npz[key]
    status = report.pop("status")
    message = report.pop("message", "")
    output = report.pop("output", "")
    return ChildResult(status, message, report, returned, shown, output)


def _crash_line(code: int, memory_mb: int) -> str:
    if code < 0:
        sig = signal.Signals(-code)
        if sig == signal.SIGXFSZ:
            return "your code wrote too much output and was stopped"
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return "your code used too much CPU time and was stopped (an endless loop?)"
        if sig == signal.SIGSEGV:
            return f"your code crashed the Python process ({sig.name}; over {memory_mb} MB of memory?)"
        return f"your code crashed the Python process ({sig.name})"
    return f"the check's process ended with exit code {code} before it could report"
