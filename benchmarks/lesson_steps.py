"""How long a lesson step takes to compute, at each lesson's default dims.

Usage::

    python benchmarks/lesson_steps.py            # a table: ms per step, ms per engine run
    python benchmarks/lesson_steps.py --json     # the same figures as one JSON object
    python benchmarks/lesson_steps.py --no-mnist # use the synthetic stand-in even if MNIST is here
    python benchmarks/lesson_steps.py --lessons backward,training --redraw
        # only these lessons, and also each step in the headless app (engine + redraw)

Three figures, because a step costs different amounts depending on what is cached:

* ``data load``: reading the digit images once per process (MNIST: gunzip + checksum);
* ``engine run``: one run of a trace (build the model, run it traced) for a new seed or new
  dims, the data already in memory; this is what ``r`` and ``d`` cost. Median of ``--repeats``;
* ``step``: :meth:`LessonSession.run` once its trace is cached, what ``n``/``p`` cost. Median;
* with ``--redraw``, ``redraw``: in the headless app at 80x24, from the next-step key's action
  to the step drawn (``benchmarks/tui_startup.step_times``), each step visited once, so the
  first step of a trace includes its engine run.

The target (issue 4) is < 100 ms for moving to the next step at default dims, redraw included.
MNIST is looked up as the lessons do; ``--data`` (default: ../shared/data/mnist when present)
points ``$KQV_DATA_DIR`` at a folder first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data", type=Path, default=SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    parser.add_argument("--no-mnist", action="store_true")
    parser.add_argument("--lessons", default="", help="comma-separated lesson ids (default: all)")
    parser.add_argument("--redraw", action="store_true", help="also time each step in the app")
    args = parser.parse_args()
    if args.no_mnist:
        os.environ.pop("KQV_DATA_DIR", None)
        os.environ["KQV_CACHE_DIR"] = "/nonexistent-kqv-benchmark-cache"
    elif args.data is not None:
        os.environ["KQV_DATA_DIR"] = str(args.data)

    sys.path.insert(0, str(REPO))
    from engine.runtime.blas import blas_threads
    from lessons import LessonSession, load_lessons
    from lessons.steps.digit_images import lesson_digits

    t0 = time.perf_counter()
    lessons = load_lessons()
    load_lessons_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    source = lesson_digits(1, 0, "test").source
    lesson_digits(1, 0, "train")
    data_s = time.perf_counter() - t0

    out = {"load_lessons_ms": ms(load_lessons_s), "data_load_ms": ms(data_s), "data": source,
           "lessons": {}}
    if args.lessons:
        lessons = [lesson for lesson in lessons if lesson.id in args.lessons.split(",")]
    with blas_threads(1):
        for lesson in lessons:
            session = LessonSession(lesson)
            runs = {}
            for trace in dict.fromkeys(s.trace for s in lesson.steps):
                times = []
                for seed in range(args.repeats):
                    t0 = time.perf_counter()
                    lesson_script = session.script.TRACES[trace]
                    lesson_script(dict(session.dims), seed + 1)
                    times.append(time.perf_counter() - t0)
                runs[trace] = ms(statistics.median(times))
            session.prefetch()
            steps = {}
            for i, step in enumerate(lesson.steps):
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    session.run(i)
                    times.append(time.perf_counter() - t0)
                steps[step.id] = {"trace": step.trace, "step_ms": ms(statistics.median(times)),
                                  "engine_run_ms": runs[step.trace]}
            out["lessons"][lesson.id] = {"dims": lesson.default_dims, "engine_run_ms": runs,
                                         "steps": steps}
    if args.redraw:
        import asyncio
        import tempfile

        sys.path.insert(0, str(REPO / "benchmarks"))
        from tui_startup import step_times

        with tempfile.TemporaryDirectory() as tmp:
            os.environ["KQV_STATE_DIR"] = tmp  # the learner's progress is never touched
            for lesson in lessons:
                times, _ = asyncio.run(step_times(lesson.id))
                for step, t in zip(lesson.steps[1:], times, strict=True):
                    out["lessons"][lesson.id]["steps"][step.id]["redraw_ms"] = ms(t)
    out["load_average"] = round(os.getloadavg()[0], 2)

    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"lessons loaded in {out['load_lessons_ms']} ms; digit images: {source} "
          f"(loaded in {out['data_load_ms']} ms, once per process)")
    for lesson_id, info in out["lessons"].items():
        dims = ", ".join(f"{k}={v}" for k, v in info["dims"].items())
        print(f"\n{lesson_id} ({dims})")
        print("  engine run per trace (new seed or dims): "
              + ", ".join(f"{t} {v} ms" for t, v in info["engine_run_ms"].items()))
        print(f"  {'step':<18}{'trace':<10}{'cached step ms':>16}{'with engine run ms':>20}"
              + (f"{'app: key to drawn ms':>22}" if args.redraw else ""))
        for step_id, s in info["steps"].items():
            print(f"  {step_id:<18}{s['trace']:<10}{s['step_ms']:>16.2f}"
                  f"{s['step_ms'] + s['engine_run_ms']:>20.2f}"
                  + (f"{s.get('redraw_ms', float('nan')):>22.1f}" if args.redraw else ""))
    print(f"\nload average while measuring: {out['load_average']} on {os.cpu_count()} CPUs, shared with "
          "other work: every figure is slower than on an idle machine")


if __name__ == "__main__":
    main()
