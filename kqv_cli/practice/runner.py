"""Run a learner's file in a child process (:mod:`kqv_cli.practice.harness`) and read back what it made.

The parent writes the job (``job.json``) and the input arrays (``inputs.npz``) into a fresh
temporary folder, starts ``python -I harness.py FOLDER`` in its own process group with BLAS
limited to one thread, waits at most ``timeout`` seconds, and reads ``result.json`` and
``results.npz`` (``allow_pickle=False``), every byte of them as untrusted. Every end (a timeout,
an exit, Ctrl-C) kills the whole group and any process that left it carrying the job's marker;
a crash or a kill by a resource limit becomes one line. Nothing here raises for what the
learner's code did.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.files.reading import read_bounded
from lessons.practice import Case
from lessons.practice.exercise import GradCheck, Seeded

HARNESS = Path(__file__).resolve().with_name("harness.py")
TIMEOUT = 10.0  # seconds per check, child start included
MEMORY_MB = 1024
JOB_MARKER = "KQV_PRACTICE_JOB"  # in the child's environment: finds a grandchild that left the group
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
    fd: list[dict[str, np.ndarray]] = field(default_factory=list)  # per case: finite-difference gradients


def run_learner(file: Path, cases: list[Case], feed: bool = True, timeout: float = TIMEOUT,
                memory_mb: int = MEMORY_MB, gradcheck: GradCheck | None = None) -> ChildResult:
    """Call the learner's functions in ``file`` on every case, in a child process.

    With ``feed``, ``show(name, ...)`` gives the learner's code the engine's value of each
    graded variable, so a slip in one variable does not carry into the next.
    """
    with tempfile.TemporaryDirectory(prefix="kqv-practice-") as tmp:
        job_dir = Path(tmp)
        _write_job(job_dir, file, cases, feed, timeout, memory_mb, gradcheck)
        env = {**os.environ, **ONE_THREAD, JOB_MARKER: str(job_dir)}
        with open(job_dir / "child.out", "wb") as out:
            child = subprocess.Popen([sys.executable, "-I", str(HARNESS), str(job_dir)],
                                     stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     cwd=file.parent, env=env, start_new_session=True)
            code = None
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            finally:  # every end, a timeout, a normal exit or Ctrl-C: nothing the check started lives on
                _end_everything(child, str(job_dir))
            if code is None:
                return ChildResult("timeout", f"your code ran longer than {timeout:g} s and was stopped "
                                              "(an endless loop?)")
        return _read_results(job_dir, code, len(cases), memory_mb)


def _write_job(job_dir: Path, file: Path, cases: list[Case], feed: bool, timeout: float,
               memory_mb: int, gradcheck: GradCheck | None = None) -> None:
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
    job = {"file": str(file.resolve()), "cases": job_cases, "timeout": timeout, "memory_mb": memory_mb,
           "gradcheck": None if gradcheck is None else {
               "forward": gradcheck.forward, "grads": [list(g) for g in gradcheck.grads],
               "upstream": gradcheck.upstream, "output": gradcheck.output}}
    (job_dir / "job.json").write_text(json.dumps(job), encoding="utf-8")


def _end_everything(child: subprocess.Popen, job: str) -> None:
    """Kill the child's process group, then any process that left it but carries the job's marker.

    The child leads its own group (``start_new_session``), so a fork of the learner's code is in
    it and ``killpg`` ends it even when the child itself has exited. A daemon's double fork with
    ``setsid`` leaves the group; its environment still names the job (``KQV_PRACTICE_JOB``), which
    Linux shows in ``/proc/PID/environ``. Code that also clears its environment before it
    daemonises would escape this; nothing short of a container catches that.
    """
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    child.wait()
    for pid in _marked_processes(f"{JOB_MARKER}={job}".encode()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _marked_processes(marker: bytes) -> list[int]:
    """The pids whose environment holds ``marker`` (Linux's /proc; elsewhere none are found)."""
    found = []
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdecimal()]
    except OSError:
        return found
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:  # gone already, or another user's
            continue
    return found


class _Untrusted(ValueError):
    """What the child left is not what the harness writes."""


STATUSES = {"ok", "flood", "syntax", "error", "missing", "not_written", "bad_return", "bad_show", "exit",
            "refused_import", "signature"}
MAX_RESULT_BYTES = 4 * 2**20  # the harness's own file-size limit (RLIMIT_FSIZE) for each file
_DETAIL = {"line": int, "code": str, "function": str, "kind": str, "where": str, "unwritten": str,
           "operands": dict, "case": int, "stopped": str, "name": str}


def _read_results(job_dir: Path, code: int, n_cases: int, memory_mb: int) -> ChildResult:
    """The child's report and arrays, or a ``crash`` saying the child left something else.

    The learner's code runs in that child and can write anything into the job folder before it
    exits: another ``result.json``, an object array in ``results.npz``, a FIFO, a link to
    ``/dev/zero``. So every byte is read as untrusted: bounded (:mod:`engine.files.reading`),
    each field checked for its type, each array for its name and dtype.
    """
    result_file = job_dir / "result.json"
    if not os.path.lexists(result_file):
        printed = _printed(job_dir)
        return ChildResult("crash", _crash_line(code, memory_mb), output=printed)
    try:
        report = _report(result_file)
        returned, shown, fd = _arrays(job_dir / "results.npz", n_cases)
    except (_Untrusted, OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile,
            RecursionError, UnicodeDecodeError) as exc:
        return ChildResult("crash", f"the check could not read what your code's process left behind "
                                    f"({str(exc)[:200]}); did your code write into the check's folder?",
                           output=_printed(job_dir))
    status = report.pop("status")
    message = report.pop("message", "")
    output = report.pop("output", "")
    return ChildResult(status, message, report, returned, shown, output, fd)


def _printed(job_dir: Path) -> str:
    try:
        printed = read_bounded(job_dir / "child.out", MAX_RESULT_BYTES)[-2000:]
    except OSError:
        return ""
    return printed.decode("utf-8", "replace").strip()


def _report(path: Path) -> dict:
    report = json.loads(read_bounded(path, MAX_RESULT_BYTES).decode("utf-8"))
    if not isinstance(report, dict) or not isinstance(report.get("status"), str) \
            or report["status"] not in STATUSES:
        raise _Untrusted("result.json is not a report of the harness")
    for key in ("message", "output"):
        if not isinstance(report.get(key, ""), str):
            raise _Untrusted(f"result.json: {key} is not text")
    for key, value in report.items():
        want = _DETAIL.get(key)
        if want is not None and (not isinstance(value, want) or isinstance(value, bool)):
            if not (key == "unwritten" and value is None):
                raise _Untrusted(f"result.json: {key} is not a {want.__name__}")
    for name, shape in report.get("operands", {}).items():
        # a shape, [2, 3], or a list's shapes, [[2, 3], [3]]
        shapes = shape if isinstance(shape, list) and shape and isinstance(shape[0], list) else [shape]
        if not all(isinstance(s, list) and all(type(n) is int for n in s) for s in shapes):
            raise _Untrusted(f"result.json: the shape of {name[:40]} is not a list of whole numbers")
    return report


def _arrays(path: Path, n_cases: int) -> tuple[list[dict[str, np.ndarray]], ...]:
    """Per case: the returned, the shown and the finite-difference arrays, by name."""
    kinds: dict[str, list[dict[str, np.ndarray]]] = {
        kind: [{} for _ in range(n_cases)] for kind in ("return", "show", "fd")}
    with np.load(io.BytesIO(read_bounded(path, MAX_RESULT_BYTES)), allow_pickle=False) as npz:
        for key in npz.files:
            c, kind, name = (key.split("/", 2) + ["", ""])[:3]
            if not (c.isdecimal() and int(c) < n_cases and kind in kinds and name):
                raise _Untrusted(f"results.npz holds {key[:60]!r}, not a variable of an input set")
            array = npz[key]  # an object array raises ValueError here (allow_pickle=False)
            if array.dtype.kind not in "biufc":
                raise _Untrusted(f"results.npz: {name[:40]} holds {array.dtype}, not numbers")
            kinds[kind][int(c)][name] = array
    return kinds["return"], kinds["show"], kinds["fd"]


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
