"""How fast the TUI handles a key press while a GPT trains in its worker thread.

Usage::

    python benchmarks/tui_latency.py            # 40 presses idle, then 40 while training
    python benchmarks/tui_latency.py --json

A key event is put in the app's queue (as a terminal would) and timed until the Train
screen's action for it runs. The same is measured with no training running, because on a
shared machine the idle app has outliers of its own; the difference is the training's cost.
The training is a small GPT (T=32, C=64, 2 layers) on a generated text, evaluated and sampled
every 20 iterations, in the screen's real worker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_tui_lab import SIZE, ScreenApp, key_latency, tiny_gpt_setup, tiny_text, wait_until  # noqa: E402

from engine.data.text import TextData  # noqa: E402
from kqv_cli.tui.screens.train import TrainScreen  # noqa: E402


def summary(latencies: list[float]) -> dict:
    ms = sorted(1000 * x for x in latencies)
    return {"presses": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p90_ms": round(ms[int(0.9 * len(ms))], 2), "max_ms": round(ms[-1], 2),
            "within_100ms": sum(x < 100 for x in ms)}


async def measure(presses: int) -> dict:
    data = TextData.from_text(tiny_text(), 32, "generated text")
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(data))
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        idle = []
        for _ in range(presses):
            idle.append(await key_latency(pilot, screen, "l"))
            await asyncio.sleep(0.03)
        await pilot.press("g")
        await wait_until(pilot, lambda: screen.steps_seen >= 3)
        busy = []
        for _ in range(presses):
            busy.append(await key_latency(pilot, screen, "l"))
            await asyncio.sleep(0.03)
        t0 = time.perf_counter()
        pilot.app.simulate_key("c")
        await wait_until(pilot, lambda: screen.running is None, timeout=10)
        cancel = time.perf_counter() - t0
    return {"idle": summary(idle), "training": summary(busy), "cancel_ms": round(1000 * cancel, 1),
            "iterations_seen": screen.steps_seen}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(measure(args.presses))
    if args.json:
        print(json.dumps(result))
        return
    for name in ("idle", "training"):
        r = result[name]
        print(f"{name:>9}: median {r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, max "
              f"{r['max_ms']:.1f} ms, "
              f"{r['within_100ms']}/{r['presses']} within 100 ms")
    print(f"   cancel: {result['cancel_ms']:.0f} ms from the key to the worker's end")


if __name__ == "__main__":
    main()
