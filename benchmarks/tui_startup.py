"""How fast the lesson player opens, and how fast it moves to the next step.

Usage::

    python benchmarks/tui_startup.py            # prints the medians
    python benchmarks/tui_startup.py --json     # the same figures as one JSON object

Two figures (issue 4 targets: < 1.0 s and < 100 ms):

* ``startup_s``: from starting ``kqv`` to the home screen drawn. A fresh interpreter is spawned
  per run; it does what ``kqv`` does (``import kqv_cli.main``, load and check the lessons, build
  ``KqvApp``) and runs the app headless. When the home screen has been mounted and Textual has
  finished its first refresh, the child writes the wall-clock time to a file and quits. The
  figure is that time minus the time the parent spawned the child, so interpreter start-up and
  every import are in it; only the terminal's own drawing is not (there is no terminal).
* ``next_step_ms``: in one headless app at 80x24, the backprop lesson at default dims: from
  the next-step action (what ``n`` calls) through the engine run in the worker thread, the three
  panes and the variables table updated, to Textual's next refresh done (``call_after_refresh``
  registered once the panes have their new content). Every step is visited
  for the first time, so each first step of a trace includes running the engine (the digit
  trace: 784-30-10 net, m = 10); the last step (training for a few hundred mini-batches, shown
  with a progress note) is reported on its own, not in the median. ``idle_ms`` is a refresh
  after an action that changes nothing: the floor of this measurement.

State and cache go to a temporary folder, so the learner's progress is never touched.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time
marks = {}
import kqv_cli.main  # what the kqv entry point imports (registers every command)
marks["commands imported"] = time.time()
from lessons import load_lessons
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.screens.home import HomeScreen
marks["textual app imported"] = time.time()

async def drawn(pilot):
    while not isinstance(pilot.app.screen, HomeScreen):
        await pilot.pause()
    await pilot.pause()  # the first refresh of the home screen is done
    marks["home drawn"] = time.time()
    with open(sys.argv[1], "w") as f:
        f.write(repr(marks))
    pilot.app.exit()

KqvApp(lessons=load_lessons()).run(headless=True, size=(80, 24), auto_pilot=drawn)
"""


def startup_once(env: dict) -> dict[str, float]:
    """Seconds from spawning the child to each of its marks."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "marks"
        start = time.time()
        subprocess.run([sys.executable, "-c", CHILD, str(out)], cwd=REPO, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=60)
        marks = ast.literal_eval(out.read_text())
        return {name: t - start for name, t in marks.items()}


async def step_times(lesson_id: str = "backprop", settle: bool = True) -> tuple[list[float], list[float]]:
    """Seconds from each next-step action to the step drawn, every step of ``lesson_id`` visited
    for the first time, and the floor (a no-op action and a refresh).

    ``settle``: the next key waits until the screen's workers are done, as when the learner
    reads the step (the screen runs the next step's engine meanwhile); False presses it as soon
    as the step is drawn, as someone paging through does."""
    sys.path.insert(0, str(REPO))
    from kqv_cli.tui.app import KqvApp
    from kqv_cli.tui.screens.lesson import LessonScreen

    drawn = asyncio.Event()
    apply_view = LessonScreen.apply_view

    async def apply_then_mark(self, *args):
        # the step's result is on screen once Textual has refreshed after the panes changed
        await apply_view(self, *args)
        self.call_after_refresh(drawn.set)

    LessonScreen.apply_view = apply_then_mark
    app = KqvApp(lesson_id)
    steps, idle = [], []
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        for _ in range(5):
            t = time.perf_counter()
            screen.action_figure()  # no figure on the first step: changes nothing
            screen.call_after_refresh(drawn.set)
            await drawn.wait()
            idle.append(time.perf_counter() - t)
            drawn.clear()
        for _ in range(len(screen.lesson.steps) - 1):
            t = time.perf_counter()
            screen.action_step(1)
            await drawn.wait()
            steps.append(time.perf_counter() - t)
            drawn.clear()
            if settle:
                await app.workers.wait_for_complete()
    LessonScreen.apply_view = apply_view
    return steps, idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=5, help="start-ups to time (default 5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["KQV_STATE_DIR"] = str(Path(tmp) / "state")
        os.environ.setdefault("KQV_CACHE_DIR", str(Path(tmp) / "cache"))
        env = dict(os.environ)
        startup_once(env)  # warm the OS file cache and __pycache__, as a second launch would be
        runs = [startup_once(env) for _ in range(args.repeats)]
        startups = [run["home drawn"] for run in runs]
        steps, idle = asyncio.run(step_times())
        steps, last = steps[:-1], steps[-1]

    figures = {
        "startup_s": round(statistics.median(startups), 3),
        "startup_best_s": round(min(startups), 3),
        "startup_runs_s": [round(s, 3) for s in startups],
        "load_average": round(os.getloadavg()[0], 2),
        "startup_phases_s": {name: round(statistics.median(run[name] for run in runs), 3)
                             for name in runs[0]},
        "next_step_ms": round(1000 * statistics.median(steps), 1),
        "next_step_max_ms": round(1000 * max(steps), 1),
        "steps_timed": len(steps),
        "per_step_ms": [round(1000 * t, 1) for t in steps],  # step 2 -> 3 first runs the digit net
        "training_step_ms": round(1000 * last, 1),
        "idle_ms": round(1000 * statistics.median(idle), 1),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"kqv -> home screen drawn:  {figures['startup_s']:.3f} s median of {args.repeats}, "
          f"best {figures['startup_best_s']:.3f} s (target < 1.0 s)")
    phases = figures["startup_phases_s"].items()
    print("  phases (from spawn): " + ", ".join(f"{k} {v:.3f} s" for k, v in phases))
    print(f"next step, engine + redraw: {figures['next_step_ms']:.1f} ms median over "
          f"{len(steps)} steps, max {figures['next_step_max_ms']:.1f} ms (target < 100 ms)")
    print(f"  floor (no-op + refresh):  {figures['idle_ms']:.1f} ms")
    print(f"load average while measuring: {figures['load_average']} on {os.cpu_count()} CPUs "
          "(other work on the machine slows every figure)")
    print(f"last step (trains ~400 mini-batches in the worker): {figures['training_step_ms']:.0f} ms")


if __name__ == "__main__":
    main()
