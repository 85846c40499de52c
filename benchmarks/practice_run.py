"""What `kqv practice run` costs: the learner's functions called across the sandbox, one call at a time.

Usage::

    python benchmarks/practice_run.py              # prints the figures
    python benchmarks/practice_run.py --json       # the same as one JSON object
    python benchmarks/practice_run.py --iters 200 --limit 50000

With the reference solutions as the learner's files (every digit and GPT exercise), it times:

* ``digits_s``: :func:`kqv_cli.practice.side_by_side.run_digits`, both runs (yours, then the
  engine's readable path) on ``--limit`` training images of MNIST where it is found (else
  synthetic digits), plus the test accuracy of each;
* ``digits_engine_s``: the engine's run alone (the readable path), so ``digits_s − 2·that`` is
  roughly what the sandbox adds;
* ``gpt_s``, ``gpt_engine_s``: the same for ``--iters`` iterations of the lab's small GPT;
* ``call_ms``: one round trip to the learner's process (LayerNorm's forward on (512, 64)).

The machine may be shared: the load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from kqv_cli.practice.digits_seam import ReadableNetwork  # noqa: E402
from kqv_cli.practice.learner_process import LearnerProcess  # noqa: E402
from kqv_cli.practice.run_plan import DIGIT_EXERCISES, GPT_EXERCISES, RunPlan  # noqa: E402
from kqv_cli.practice.side_by_side import gpt_configs, run_digits, run_gpt  # noqa: E402
from kqv_cli.services import datasets  # noqa: E402
from lessons.practice import find_exercise, solution_file  # noqa: E402


def timed(f):
    t0 = time.perf_counter()
    value = f()
    return time.perf_counter() - t0, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--limit", type=int, default=50_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    files = {n: solution_file(find_exercise(n)) for n in DIGIT_EXERCISES + GPT_EXERCISES}
    figures: dict[str, object] = {"load": os.getloadavg()[0]}

    with LearnerProcess({"layernorm": files["layernorm"]}) as learner:
        x = np.random.default_rng(0).standard_normal((512, 64)).astype(np.float32)
        w, b = np.ones(64, np.float32), np.zeros(64, np.float32)
        learner.call("layernorm", "layernorm_forward", x, w, b, 1e-5)
        seconds, _ = timed(lambda: [learner.call("layernorm", "layernorm_forward", x, w, b, 1e-5)
                                    for _ in range(500)])
        figures["call_ms"] = 1000 * seconds / 500

    train, _, test = datasets.digits_here()
    train = type(train)(train.x[: args.limit], train.labels[: args.limit], train.source)
    figures["digits_data"] = f"{len(train)} images of {train.source}"
    figures["digits_s"], outcome = timed(lambda: run_digits(RunPlan("digits", DIGIT_EXERCISES, ()), files,
                                                            train, test))
    figures["digits_correct"] = outcome.correct

    def engine_digits():
        net = ReadableNetwork((784, 30, 10), 0)
        return net.SGD((train.x, train.labels), 1, 10, 3.0, seed=0, schedule="constant",
                       test_data=(test.x, test.labels), compiled=False)

    figures["digits_engine_s"], _ = timed(engine_digits)

    text = datasets.text_without_download(None, 32)
    figures["gpt_data"] = text.source
    plan = RunPlan("gpt", GPT_EXERCISES, ())
    figures["gpt_s"], outcome = timed(lambda: run_gpt(plan, files, text, args.iters))
    figures["gpt_largest_gap"] = outcome.largest_gap

    def engine_gpt():
        from engine import fused
        from engine.gpt.train import GPTTrainer
        from engine.runtime.blas import blas_threads

        cfg, tc = gpt_configs(text, args.iters, 1337)
        trainer = GPTTrainer(text, cfg, tc)
        with fused.use("readable"), blas_threads(1):  # as run_gpt trains
            for _ in range(args.iters):
                trainer.step(threads=1)

    figures["gpt_engine_s"], _ = timed(engine_gpt)
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:>18}: {value:.3f}" if isinstance(value, float) else f"{name:>18}: {value}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as state:
        os.environ.setdefault("KQV_STATE_DIR", state)
        main()
