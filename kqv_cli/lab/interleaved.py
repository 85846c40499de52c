"""The lab's variants trained side by side: one step of each per iteration, so a stop or a
divergence leaves every variant at the same iteration and their curves fill in together."""

from __future__ import annotations

import time

from engine.errors import TrainingDiverged

BETA = 0.9  # the drawn curve is the loss smoothed over about 1 / (1 - BETA) = 10 iterations


def new_run(trainer, curves) -> dict:
    """A trainer's place in :func:`train_interleaved`: its time, smoothed loss, curves, divergence."""
    return {"trainer": trainer, "seconds": 0.0, "ema": 0.0, "curves": list(curves), "diverged": None}


def train_interleaved(runs: list[dict], budget: int, stop) -> bool:
    """Step every run ``budget`` times, interleaved; False when ``stop()`` ended it first.

    A run whose loss turns NaN keeps the first clause of its :class:`TrainingDiverged` in
    ``"diverged"`` and trains no further; the others go on.
    """
    for it in range(budget):
        if stop():
            return False
        for run in runs:
            if run["diverged"]:
                continue
            t0 = time.perf_counter()
            try:
                loss = run["trainer"].step()
            except TrainingDiverged as exc:
                run["diverged"] = str(exc).split(";")[0]
                continue
            finally:
                run["seconds"] += time.perf_counter() - t0
            # smoothed loss, corrected for the average's start at 0 (as Adam corrects m)
            run["ema"] = BETA * run["ema"] + (1 - BETA) * loss
            for curve in run["curves"]:
                curve.add(it, it + 1, run["ema"] / (1 - BETA ** (it + 1)), last=it == budget - 1)
    return True
