"""Synthetic digits: how fast they are drawn, and how well a 784-30-10 net learns them.

Usage::

    python benchmarks/synthetic_digits.py               # drawing 70,000 pictures, median of 3
    python benchmarks/synthetic_digits.py --epochs 3    # also train 784-30-10 (the book's defaults)
    python benchmarks/synthetic_digits.py --json        # the same figures as one JSON object

Timing reports wall-clock and CPU seconds: on a shared 2-core machine the wall clock also
counts other people's work, the CPU time only ours. The net trains with one BLAS thread, on
the 50,000 / 10,000 / 10,000 split that ``load_synthetic`` gives, mini-batch 10, eta 3.0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data.synthetic_digits import load_synthetic, synthetic_digits  # noqa: E402
from engine.digits.network import Network  # noqa: E402
from engine.runtime.blas import blas_threads  # noqa: E402


def time_drawing(n: int, rounds: int) -> dict:
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        synthetic_digits(n, seed=0)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "images": n,
        "seconds_wall": round(statistics.median(walls), 3),
        "seconds_cpu": round(statistics.median(cpus), 3),
        "us_per_image_cpu": round(1e6 * statistics.median(cpus) / n, 1),
    }


def train(epochs: int) -> list[dict]:
    train_set, validation, test = load_synthetic(seed=0)
    net = Network([784, 30, 10], seed=0)
    results = []
    with blas_threads(1):
        net.SGD(
            (train_set.x, train_set.labels), epochs, 10, 3.0, schedule="constant",
            validation_data=(validation.x, validation.labels), test_data=(test.x, test.labels),
            on_epoch=lambda r: results.append(
                {"epoch": r.epoch, "validation_accuracy": r.validation_correct / r.validation_total,
                 "test_accuracy": r.test_correct / r.test_total}
            ),
        )  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=70_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=0, help="also train 784-30-10 for this many epochs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = {"drawing": time_drawing(args.images, args.rounds)}
    if args.epochs:
        report["training"] = train(args.epochs)
    if args.json:
        print(json.dumps(report))
        return
    d = report["drawing"]
    print(
        f"{d['images']:,} synthetic digits: {d['seconds_wall']:.2f} s wall, {d['seconds_cpu']:.2f} s CPU "
        f"({d['us_per_image_cpu']} µs per image), median of {args.rounds}"
    )
    for r in report.get("training", []):
        print(
            f"784-30-10 epoch {r['epoch']}: validation {100 * r['validation_accuracy']:.2f}%, "
            f"test {100 * r['test_accuracy']:.2f}%"
        )


if __name__ == "__main__":
    main()
