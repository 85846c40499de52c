"""Do the two engines train the same model? The default GPT for N iterations on each, compared.

Usage::

    python benchmarks/fused_check.py                 # 200 iterations, Tiny Shakespeare
    python benchmarks/fused_check.py --iters 500 --json

Each engine trains the default model (4 layers, C = 128, B = 12, T = 64, seed 1337) from the
same start on the same batches, both halves of the batch one after the other (``--threads 1``,
so the timing of the two is comparable too). Prints the largest relative difference between
the two loss curves, iteration by iteration, the last losses, and each engine's ms per
iteration (median; on a busy machine only the ratio means anything). ``tests/test_fused.py``
checks 30 iterations of a tiny model; this is the long check, too slow for the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.data.text import TextData  # noqa: E402
from engine.gpt.model import GPTConfig  # noqa: E402
from engine.gpt.train import GPTTrainer, TrainConfig  # noqa: E402

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


def train(data: TextData, engine: str, iters: int) -> tuple[list[float], list[float]]:
    cfg = GPTConfig(vocab_size=data.vocab.size)
    tc = TrainConfig(max_iters=iters, eval_interval=10**9, eval_iters=1, threads=1, engine=engine)
    times: list[float] = []
    result = GPTTrainer(data, cfg, tc).run(on_step=lambda info: times.append(info.ms))
    if result.engine != engine:
        raise SystemExit(f"asked for the {engine} engine, ran {result.engine} (is numba installed?)")
    return result.losses, times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--text", type=Path, default=SHAKESPEARE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.text.exists():
        raise SystemExit(f"{args.text} not found: pass --text FILE")
    data = TextData.from_file(args.text, 64)
    load = os.getloadavg()[0]
    fast, fast_ms = train(data, "fast", args.iters)
    readable, readable_ms = train(data, "readable", args.iters)
    rel = np.abs(np.array(fast) - np.array(readable)) / np.abs(np.array(readable))
    out = {
        "iters": args.iters,
        "max_relative_loss_difference": float(rel.max()),
        "at_iteration": int(rel.argmax()) + 1,
        "last_loss": {"fast": fast[-1], "readable": readable[-1]},
        "ms_per_iter_median": {"fast": float(np.median(fast_ms[1:])),
                               "readable": float(np.median(readable_ms[1:]))},
        "first_iteration_ms": {"fast": fast_ms[0], "readable": readable_ms[0]},
        "load_average": [load, os.getloadavg()[0]],
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{args.iters} iterations of the default GPT, both engines (load average {load:.1f} -> "
          f"{out['load_average'][1]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  largest relative loss difference {out['max_relative_loss_difference']:.2e} "
          f"(iteration {out['at_iteration']})")
    print(f"  last loss: fast {fast[-1]:.6f}, readable {readable[-1]:.6f}")
    ms = out["ms_per_iter_median"]
    print(f"  ms per iteration (median, 1 thread): fast {ms['fast']:.1f}, readable {ms['readable']:.1f} "
          f"(first iteration: fast {fast_ms[0]:.0f} ms, which loads or compiles the kernels)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
