"""How long a lesson step takes to compute, at each lesson's default dims.

Usage::

    python benchmarks/lesson_steps.py            # a table: ms per step, ms per engine run
    python benchmarks/lesson_steps.py --json     # the same figures as one JSON object
    python benchmarks/lesson_steps.py --no-mnist # use the synthetic stand-in even if MNIST is here
    python benchmarks/lesson_steps.py --lessons backward,training --redraw
        # only these lessons, and also each step in the headless app (engine + redraw)
    python benchmarks/lesson_steps.py --open     # also: from the home screen's key to the lesson drawn

The figures, because a step costs different amounts depending on what is cached:

* ``data load``: reading the digit images once per process (MNIST: the lessons' subset, kept
  in kqv's cache folder; the first time ever, gunzip + checksum of all of it);
* ``engine run``: one run of a trace (build the model, run it traced) for a new seed or new
  dims, the data already in memory; this is what ``r`` and ``d`` cost. Median of ``--repeats``;
* ``step``: :meth:`LessonSession.run` once its trace is cached, what ``n``/``p`` cost. Median;
* with ``--redraw``, ``redraw``: in the headless app at 80x24, from the next-step key's action
  to the step drawn (``benchmarks/tui_startup.step_times``), each step visited once, in a fresh
  interpreter per lesson (nothing cached but what the app keeps itself), each key pressed once
  the screen's workers are done, as when the learner reads the step: the screen has run the
  next step's engine meanwhile. ``hurried``: the same with each key pressed as soon as the
  step is drawn (someone paging through): a step's first engine run is then in its time;
* with ``--open``, ``open``: what opening a lesson costs the learner. A fresh interpreter per
  lesson runs the app headless at 80x24 on the home screen, as ``kqv`` opens it; the lesson's
  entry is highlighted and ``enter`` put in the app's queue, and the clock runs until the
  lesson's step is drawn (its view applied, no run pending, Textual's refresh after it done):
  the lesson screen, the step script's imports, the digit images and the step's engine run
  are all in it. The key comes once the home screen's own workers are done, as after a person
  has read the menu (home imports the lesson screen meanwhile: KqvApp.warm_lesson_screen).
  ``bar``: to the lesson screen's first frame (the step's title, "running…" while the engine
  runs in its worker); ``text``: to the step's text and variables drawn, before any costly
  extra (the LayerNorm comparison) is made; ``cpu``: the CPU time the process spent meanwhile
  in all its threads (on a busy machine, nearer than the wall time to what an idle one would
  take). Each lesson is opened at its first step (fresh progress) and at its slowest step
  (progress left there: ``kqv`` continues at it). Median of ``--open-repeats`` fresh
  processes, after one unmeasured open that warms the OS file cache, ``__pycache__`` and kqv's
  cache folder (a temporary one, where the lessons keep their MNIST subset).

Targets: < 100 ms for moving to the next step at default dims, redraw included (issue 4);
< 0.5 s to open a lesson and < 0.2 s per step on an idle machine (issue 24), with the
"running…" badge on the bar when a step takes longer.
MNIST is looked up as the lessons do; ``--data`` (default: ../shared/data/mnist when present)
points ``$KQV_DATA_DIR`` at a folder first.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# every step of one lesson in the headless app, in a fresh interpreter: argv = lesson id, settle
REDRAW_CHILD = r"""
import asyncio, json, sys
sys.path.insert(0, "benchmarks")
from tui_startup import step_times
times, _ = asyncio.run(step_times(sys.argv[1], settle=sys.argv[2] == "True"))
print(json.dumps(times))
"""

# one lesson opened from the home screen in a fresh interpreter: argv = lesson id, step id, out file
OPEN_CHILD = r"""
import asyncio, sys, time
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.home import HomeScreen
from lessons import load_lessons
from textual.widgets import OptionList

lesson_id, step_id, out = sys.argv[1:]
marks = {}

def lesson_screen(app):
    # by name: importing the lesson screen here would take its imports off the clock
    return app.screen if type(app.screen).__name__ == "LessonScreen" else None

async def refreshed(screen) -> float:
    # when the screen has drawn what it holds now. A callback waits for the next refresh, and
    # with nothing left to draw there may be none (the poll can see the step after its refresh):
    # one is asked for, and if none comes within a second the screen was drawn already
    asked = time.perf_counter()
    done = asyncio.Event()
    screen.refresh()
    screen.call_after_refresh(done.set)
    try:
        await asyncio.wait_for(done.wait(), 1.0)
    except asyncio.TimeoutError:
        return asked
    return time.perf_counter()

async def main():
    app = KqvApp(lessons=load_lessons())
    async with app.run_test(size=(80, 24)) as pilot:
        while not isinstance(app.screen, HomeScreen):
            await pilot.pause()
        app.progress.mark_seen(lesson_id, step_id)  # where the lesson continues
        menu = app.screen.query_one(OptionList)
        menu.highlighted = [option.id for option in menu.options].index(lesson_id)
        await app.workers.wait_for_complete()  # as a person reads the menu first: home's imports done
        await pilot.pause()
        t0, cpu0 = time.perf_counter(), time.process_time()
        app.simulate_key("enter")  # unlike pilot.press, does not wait for the app to go idle
        while (screen := lesson_screen(app)) is None or not screen.is_mounted:
            await asyncio.sleep(0.002)
        marks["bar"] = await refreshed(screen) - t0  # its first frame: the bar, "running…" on it
        while screen.view is None:
            await asyncio.sleep(0.002)
        marks["text"] = await refreshed(screen) - t0  # the step drawn, costly extras maybe not yet
        while screen.busy:
            await asyncio.sleep(0.002)
        marks["open"] = await refreshed(screen) - t0
        marks["cpu"] = time.process_time() - cpu0  # every thread's: near "open" on an idle machine
        assert screen.view.step.id == step_id, (screen.view.step.id, step_id)
    with open(out, "w") as f:
        f.write(repr(marks))

asyncio.run(main())
"""


def open_once(lesson_id: str, step_id: str, env: dict) -> dict[str, float]:
    """Seconds from ``enter`` on the home screen to the lesson's step drawn (``open``) and to
    its first frame (``bar``), and the CPU seconds spent (``cpu``), in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "marks"
        env = {**env, "KQV_STATE_DIR": str(Path(tmp) / "state")}  # fresh progress each time
        subprocess.run([sys.executable, "-c", OPEN_CHILD, lesson_id, step_id, str(out)], cwd=REPO,
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
        return ast.literal_eval(out.read_text())


def open_times(lessons, slowest: dict[str, str], repeats: int) -> dict[str, dict]:
    """Per lesson, ms to open it at its first step and at ``slowest[lesson.id]`` (medians)."""
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "KQV_CACHE_DIR": cache}
        open_once(lessons[0].id, lessons[0].steps[0].id, env)  # warm the caches, unmeasured
        for lesson in lessons:
            out[lesson.id] = {}
            for where, step_id in (("first", lesson.steps[0].id), ("slowest", slowest[lesson.id])):
                runs = [open_once(lesson.id, step_id, env) for _ in range(repeats)]
                out[lesson.id][where] = {"step": step_id,
                                         **{k: ms(statistics.median(r[k] for r in runs)) for k in runs[0]}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--data", type=Path, default=SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    parser.add_argument("--no-mnist", action="store_true")
    parser.add_argument("--lessons", default="", help="comma-separated lesson ids (default: all)")
    parser.add_argument("--redraw", action="store_true", help="also time each step in the app")
    parser.add_argument("--open", action="store_true",
                        help="also time opening each lesson from the home screen (fresh processes)")
    parser.add_argument("--open-repeats", type=int, default=3, help="opens per lesson and step (median)")
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
        for lesson in lessons:
            for key, settle in (("redraw_ms", True), ("hurried_ms", False)):
                # fresh progress each time (the lesson starts at step 1), never the learner's own
                with tempfile.TemporaryDirectory() as tmp:
                    env = {**os.environ, "KQV_STATE_DIR": tmp}
                    times = json.loads(subprocess.run(
                        [sys.executable, "-c", REDRAW_CHILD, lesson.id, str(settle)], cwd=REPO, env=env,
                        check=True, capture_output=True, text=True, timeout=600).stdout)
                    for step, t in zip(lesson.steps[1:], times, strict=True):
                        out["lessons"][lesson.id]["steps"][step.id][key] = ms(t)
    if args.open:
        # the step whose first visit costs most: the continue point that opens slowest
        slowest = {lesson.id: max(out["lessons"][lesson.id]["steps"].items(),
                                  key=lambda kv: kv[1]["step_ms"] + kv[1]["engine_run_ms"])[0]
                   for lesson in lessons}
        out["open"] = open_times(lessons, slowest, args.open_repeats)
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
              + (f"{'app: key to drawn ms':>22}{'paging through ms':>19}" if args.redraw else ""))
        for step_id, s in info["steps"].items():
            print(f"  {step_id:<18}{s['trace']:<10}{s['step_ms']:>16.2f}"
                  f"{s['step_ms'] + s['engine_run_ms']:>20.2f}"
                  + (f"{s.get('redraw_ms', float('nan')):>22.1f}{s.get('hurried_ms', float('nan')):>19.1f}"
                     if args.redraw else ""))
    if args.open:
        print("\nopening a lesson: enter on the home screen -> the step drawn (first frame, its text, "
              f"CPU), ms, median of {args.open_repeats} fresh processes (target < 500 ms idle)")
        for lesson_id, opened in out["open"].items():
            print(f"  {lesson_id:<12}" + "   ".join(
                f"at {o['step']} ({where}): {o['open']:.0f} (bar {o['bar']:.0f}, text {o['text']:.0f}, "
                f"cpu {o['cpu']:.0f})"
                for where, o in opened.items()))
    print(f"\nload average while measuring: {out['load_average']} on {os.cpu_count()} CPUs, shared with "
          "other work: every figure is slower than on an idle machine")


if __name__ == "__main__":
    main()
