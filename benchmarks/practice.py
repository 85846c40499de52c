"""How fast `kqv practice check` answers, and how soon watch mode shows a result after a save.

Usage::

    python benchmarks/practice.py                     # prints the medians
    python benchmarks/practice.py --json              # the same figures as one JSON object
    python benchmarks/practice.py --exercise backprop --runs 7

Figures (issue 10 targets: both under 1 s):

* ``check_s``: wall-clock time of ``kqv practice check NAME`` end to end, a fresh interpreter per
  run (``python -m kqv_cli practice check NAME --dir WS``): kqv's start-up, the engine's traced
  run for the expected values, the child process that runs the learner's file (its interpreter
  and numpy import included), grading, the table printed and the progress saved. The file
  checked is the reference solution, so every variable is compared on every input set.
* ``grade_s``: the same check inside one process (``check_file``): engine + child + grading,
  without kqv's own start-up. ``check_s − grade_s`` is roughly what starting kqv costs.
* ``watch_s``: ``kqv practice check NAME --watch`` is started once and left running; the file is
  saved (alternately a wrong and the right version), and the figure is the time from the write
  to the line that ends the new result appearing on the watcher's stdout.

Each figure is measured twice: with the environment as it is (this machine sets
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``) and in children started without those two.
State and workspace go to a temporary folder. The machine may be shared: the spread (min, max)
is printed next to each median.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from children import KERNEL_VARS  # noqa: E402

from kqv_cli.practice.grader import check_file  # noqa: E402
from kqv_cli.practice.workspace import init_workspace  # noqa: E402
from lessons.practice import find_exercise, solution_file  # noqa: E402

KQV = (sys.executable, "-m", "kqv_cli")


def child_env(state: Path, blas_set: bool) -> dict[str, str]:
    env = {**os.environ, "KQV_STATE_DIR": str(state), "PYTHONPATH": str(REPO)}
    if not blas_set:
        for name in KERNEL_VARS:
            env.pop(name, None)
    return env


def time_check(name: str, folder: Path, env: dict, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([*KQV, "practice", "check", name, "--dir", str(folder)],
                              env=env, capture_output=True, text=True, cwd=REPO)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"the check failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return times


def time_grade(name: str, folder: Path, runs: int) -> list[float]:
    exercise = find_exercise(name)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        report = check_file(exercise, folder / f"{name}.py")
        times.append(time.perf_counter() - start)
        assert report.passed, report.story
    return times


def read_until(proc: subprocess.Popen, marker: str, seconds: float) -> float:
    """Read the watcher's stdout until a line containing ``marker``; the time it appeared."""
    deadline = time.monotonic() + seconds
    buffer = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536).decode("utf-8", "replace")
            if not chunk:
                raise SystemExit("the watcher ended early:\n" + buffer)
            buffer += chunk
            if marker in buffer:
                return time.perf_counter()
    raise SystemExit(f"no {marker!r} from the watcher within {seconds} s:\n{buffer}")


def time_watch(name: str, folder: Path, env: dict, runs: int) -> list[float]:
    right = solution_file(find_exercise(name)).read_text(encoding="utf-8")
    wrong = right + '\nraise NotImplementedError("not written yet")\n'  # any exercise: fails, checked
    file = folder / f"{name}.py"
    file.write_text(right, encoding="utf-8")
    proc = subprocess.Popen([*KQV, "practice", "check", name, "--watch", "--dir", str(folder)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO)
    times = []
    try:
        read_until(proc, "watching", 30)
        time.sleep(0.5)  # the watcher is set up right after it says so
        for i in range(runs):
            text, marker = (wrong, "stuck?") if i % 2 == 0 else (right, "passed:")
            start = time.perf_counter()
            file.write_text(text, encoding="utf-8")
            times.append(read_until(proc, marker, 30) - start)
            time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
        file.write_text(right, encoding="utf-8")
    return times


def summary(times: list[float]) -> dict:
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3),
            "max": round(max(times), 3), "runs": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exercise", default="feedforward")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    results: dict = {"exercise": args.exercise, "cpus": os.cpu_count(),
                     "blas_env": {name: os.environ.get(name) for name in KERNEL_VARS}}
    with tempfile.TemporaryDirectory(prefix="kqv-bench-practice-") as tmp:
        tmp = Path(tmp)
        folder = init_workspace(tmp / "ws").folder
        (folder / f"{args.exercise}.py").write_text(
            solution_file(find_exercise(args.exercise)).read_text(encoding="utf-8"), encoding="utf-8")
        results["grade_s"] = summary(time_grade(args.exercise, folder, args.runs))
        for label, blas_set in (("blas_env_set", True), ("blas_env_unset", False)):
            env = child_env(tmp / f"state-{label}", blas_set)
            results[label] = {"check_s": summary(time_check(args.exercise, folder, env, args.runs)),
                              "watch_s": summary(time_watch(args.exercise, folder, env, args.runs))}
    if args.json:
        print(json.dumps(results))
        return
    print(f"kqv practice check {args.exercise}: medians of {args.runs} runs (min-max), "
          f"{results['cpus']} CPUs, shared machine")
    g = results["grade_s"]
    print(f"  grade in-process (engine + child + compare): {g['median']:.3f} s  "
          f"({g['min']:.3f}-{g['max']:.3f})")
    for label in ("blas_env_set", "blas_env_unset"):
        for key, what in (("check_s", "check, end to end"), ("watch_s", "watch, save to result")):
            r = results[label][key]
            print(f"  {what:<24} [{label}]: {r['median']:.3f} s  ({r['min']:.3f}-{r['max']:.3f})")


if __name__ == "__main__":
    main()
