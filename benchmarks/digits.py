"""Digit-net speed, accuracy and memory: our mini-batch matrix engine vs a per-example loop.

Usage::

    python benchmarks/digits.py                 # speed: seconds per epoch and the ratios
    python benchmarks/digits.py --accuracy      # also the two full 30-epoch runs and peak RSS
    python benchmarks/digits.py --json          # the same figures as one JSON object

Speed: one epoch over the 50,000 training images at mini-batch 10 and 100, ours against
:mod:`nielsen_loop` (the book's algorithm one example at a time), alternating the two in
``--rounds`` rounds in this one process and reporting medians, because timings on a shared
2-core machine drift. Both run with one BLAS thread.

Accuracy: ``kqv train digits`` run as a subprocess with the book's defaults and with
``--cost cross-entropy --lmbda 5 --eta 0.5 --sizes 784,100,10``; its peak RSS is read from
the kernel (``wait4``) for that process alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nielsen_loop import PerExampleNetwork  # noqa: E402

from engine.blas import blas_threads  # noqa: E402
from engine.network import Network, one_hot  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def load(data: Path | None):
    from engine.mnist import load_mnist
    from engine.synthetic_digits import load_synthetic

    folder = data or (SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    if folder is None:
        print("MNIST not found: timing on synthetic digits", file=sys.stderr)
        return load_synthetic(seed=0)
    return load_mnist(folder, download=False)


def time_ours(train, mini_batch: int, seed: int) -> float:
    net = Network([784, 30, 10], seed=seed)
    [result] = net.SGD((train.x, train.labels), 1, mini_batch, 3.0, seed=seed)
    return result.seconds


def time_reference(pairs, mini_batch: int, seed: int) -> float:
    net = PerExampleNetwork([784, 30, 10], seed=seed)
    start = time.perf_counter()
    net.epoch(pairs, mini_batch, 3.0, seed)
    return time.perf_counter() - start


def speed(train, rounds: int) -> dict:
    y = one_hot(train.labels, 10, np.float64)
    pairs = [(train.x[i].reshape(784, 1), y[i].reshape(10, 1)) for i in range(len(train))]
    out = {}
    with blas_threads(1):
        for m in (10, 100):
            ours, ref = [], []
            for r in range(rounds):
                ref.append(time_reference(pairs, m, r))
                ours.append(time_ours(train, m, r))
            out[f"mini_batch_{m}"] = {
                "ours_seconds_per_epoch": statistics.median(ours),
                "reference_seconds_per_epoch": statistics.median(ref),
                "speedup": statistics.median(ref) / statistics.median(ours),
                "ours_all": ours,
                "reference_all": ref,
            }
    return out


def run_cli(args: list[str]) -> dict:
    """``kqv train digits ARGS --json`` in a subprocess: its summary, wall time and peak RSS."""
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "kqv_cli", "train", "digits", *args, "--json"],
                                stdout=out, stderr=subprocess.PIPE, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"kqv train digits {' '.join(args)} failed: {proc.stderr.read().decode()}")
        out.seek(0)
        summary = json.loads(out.read())
    return {
        "args": " ".join(args),
        "test_accuracy": summary["test_accuracy"],
        "best_validation_accuracy": max(e["validation_accuracy"] for e in summary["epochs"]),
        "mean_epoch_seconds": statistics.mean(e["seconds"] for e in summary["epochs"]),
        "wall_seconds": wall,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux reports kilobytes
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="MNIST folder (default: ../shared/data/mnist)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds")
    parser.add_argument("--accuracy", action="store_true", help="also run the two 30-epoch runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    report = {}
    if args.accuracy:
        # First, while this process is small: a forked child's peak RSS counts the parent's
        # pages until it execs, so the big reference data set must not be loaded yet.
        data = ["--data", str(args.data or SHARED_MNIST)]
        report["accuracy"] = [
            run_cli(data),
            run_cli([*data, "--cost", "cross-entropy", "--lmbda", "5", "--eta", "0.5",
                     "--sizes", "784,100,10", "--epochs", "30"]),
        ]
    train, _, _ = load(args.data)
    report["data"] = train.source
    report["speed"] = speed(train, args.rounds)
    if args.json:
        print(json.dumps(report, indent=1))
        return
    print(f"data: {report['data']}")
    for name, s in report["speed"].items():
        print(f"{name}: ours {s['ours_seconds_per_epoch']:.3f} s/epoch, per-example reference "
              f"{s['reference_seconds_per_epoch']:.3f} s/epoch -> {s['speedup']:.1f}x faster")
    for run in report.get("accuracy", []):
        print(f"kqv train digits {run['args']}: test {100 * run['test_accuracy']:.2f}%, best "
              f"validation {100 * run['best_validation_accuracy']:.2f}%, "
              f"{run['mean_epoch_seconds']:.2f} s/epoch, peak RSS {run['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
