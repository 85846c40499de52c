"""Digit-net speed, accuracy and memory: our mini-batch matrix engine vs a per-example loop.

Usage::

    python benchmarks/digits.py                 # speed: seconds per epoch and the ratios
    python benchmarks/digits.py --accuracy      # also the two full 30-epoch runs and peak RSS
    python benchmarks/digits.py --json          # the same figures as one JSON object

Speed: one epoch over the 50,000 training images at mini-batch 10 and 100, ours against
:mod:`nielsen_loop` (the book's algorithm one example at a time). Every epoch is timed in a
fresh child process of its own (:mod:`children`), the contenders alternating in ``--rounds``
rounds, in each BLAS environment of ``--envs`` (by default as set, as a user's machine has it
with both kernel variables removed, and with both forced to Haswell, identical ones merged);
medians with their spread, and the ratio round by round. Both run with one BLAS thread.
"Ours" is ``Network.SGD`` as ``kqv train digits`` runs it: each mini-batch one call of the
compiled step (:mod:`engine.fused.digits`), loaded before the epoch's clock starts (numba's
import and its cached kernels, about 0.3 s once a process); ``--numpy`` also times the numpy
step (``update_mini_batch``) that runs where numba is missing.
Goals with the auto-detected kernel: at least 15x (mini-batch 10) and 30x (mini-batch 100).

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
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from children import blas_kernel, environments, fmt, kernel_vars, run_child, spread  # noqa: E402
from nielsen_loop import PerExampleNetwork  # noqa: E402

from engine.digits.network import Network, one_hot  # noqa: E402
from engine.runtime.blas import blas_threads  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


def load(data: Path | None):
    from engine.data.mnist import load_mnist
    from engine.data.synthetic_digits import load_synthetic

    folder = data or (SHARED_MNIST if SHARED_MNIST.is_dir() else None)
    if folder is None:
        print("MNIST not found: timing on synthetic digits", file=sys.stderr)
        return load_synthetic(seed=0)
    return load_mnist(folder, download=False)


def time_ours(train, mini_batch: int, seed: int, compiled: bool = True) -> float:
    net = Network([784, 30, 10], seed=seed)
    [result] = net.SGD((train.x, train.labels), 1, mini_batch, 3.0, seed=seed, compiled=compiled)
    return result.seconds


def time_reference(train, mini_batch: int, seed: int) -> float:
    y = one_hot(train.labels, 10, np.float64)
    pairs = [(train.x[i].reshape(784, 1), y[i].reshape(10, 1)) for i in range(len(train))]
    net = PerExampleNetwork([784, 30, 10], seed=seed)
    start = time.perf_counter()
    net.epoch(pairs, mini_batch, 3.0, seed)
    return time.perf_counter() - start


def child(spec: dict) -> dict:
    """One epoch of one contender in this fresh process, one BLAS thread."""
    train, _, _ = load(Path(spec["data"]) if spec["data"] else None)
    with blas_threads(1):
        if spec["kind"] == "reference":
            seconds = time_reference(train, spec["mini_batch"], spec["round"])
        else:
            seconds = time_ours(train, spec["mini_batch"], spec["round"], compiled=spec["kind"] == "ours")
    return {"seconds": seconds, "kernel": blas_kernel(), "data": train.source}


def speed(data: Path | None, rounds: int, envs: dict, say, kinds=("reference", "ours")) -> dict:
    out = {}
    for r in range(rounds):
        for label, env in envs.items():
            for m in (10, 100):
                for kind in kinds:
                    res = run_child(__file__, {"kind": kind, "mini_batch": m, "round": r,
                                               "data": str(data) if data else None}, env)
                    if "error" in res:
                        raise SystemExit(f"{kind} at mini-batch {m} failed in {label}: {res['error']}")
                    row = out.setdefault(label, {"kernel": res["kernel"], "data": res["data"]})
                    times = row.setdefault(f"mini_batch_{m}", {kind: [] for kind in kinds})
                    times[kind].append(res["seconds"])
        say(f"  round {r + 1}/{rounds} done")
    for row in out.values():
        for m in (10, 100):
            times = row[f"mini_batch_{m}"]
            ours, ref = spread(times["ours"]), spread(times["reference"])
            # each round's two epochs ran one after the other: on a busy machine the ratio within a
            # round is steadier than the ratio of the medians, whose load may differ
            paired = [r / o for r, o in zip(times["reference"], times["ours"], strict=True)]
            numpy = {}
            if "numpy" in times:
                step = spread(times["numpy"])
                numpy = {"numpy_seconds_per_epoch": step,
                         "numpy_speedup": round(ref["median"] / step["median"], 1)}
            row[f"mini_batch_{m}"] = {"ours_seconds_per_epoch": ours, "reference_seconds_per_epoch": ref,
                                      "speedup": round(ref["median"] / ours["median"], 1), **numpy,
                                      "speedup_by_round": [round(r, 1) for r in paired],
                                      "speedup_paired_median": round(statistics.median(paired), 1)}
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
    parser.add_argument("--rounds", type=int, default=3, help="processes per contender (alternating)")
    parser.add_argument("--envs", default="as set,auto,haswell",
                        help='BLAS environments: "as set", "auto" (both kernel variables removed), "haswell"')
    parser.add_argument("--accuracy", action="store_true", help="also run the two 30-epoch runs")
    parser.add_argument("--numpy", action="store_true",
                        help="also time the numpy step (update_mini_batch), what runs without numba")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    say = (lambda *a: None) if args.json else print

    report = {}
    envs = environments([e.strip() for e in args.envs.split(",")])
    report["environments"] = {label: kernel_vars(env) for label, env in envs.items()}
    say("Environments: " + "; ".join(f"{label} ({kernel_vars(env)})" for label, env in envs.items()))
    if args.accuracy:
        data = ["--data", str(args.data or SHARED_MNIST)]
        report["accuracy"] = [
            run_cli(data),
            run_cli([*data, "--cost", "cross-entropy", "--lmbda", "5", "--eta", "0.5",
                     "--sizes", "784,100,10", "--epochs", "30"]),
        ]
    report["load_average_before"] = os.getloadavg()
    kinds = ("reference", "ours", "numpy") if args.numpy else ("reference", "ours")
    report["speed"] = speed(args.data, args.rounds, envs, say, kinds)
    report["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(report, indent=1))
        return
    for label, row in report["speed"].items():
        print(f"[{label}: {row['kernel']}] data: {row['data']}")
        for m in (10, 100):
            s = row[f"mini_batch_{m}"]
            ours, ref = s["ours_seconds_per_epoch"], s["reference_seconds_per_epoch"]
            by_round = ", ".join(f"{r:.1f}" for r in s["speedup_by_round"])
            print(f"  mini-batch {m}: ours {fmt(ours, ' s/epoch', 3)}, per-example reference "
                  f"{fmt(ref, ' s/epoch', 2)} -> {s['speedup']:.1f}x faster (round by round "
                  f"{by_round}: median {s['speedup_paired_median']:.1f}x)")
            if "numpy_seconds_per_epoch" in s:
                print(f"    the numpy step: {fmt(s['numpy_seconds_per_epoch'], ' s/epoch', 3)} -> "
                      f"{s['numpy_speedup']:.1f}x")
    before, after = report["load_average_before"], report["load_average_after"]
    print(f"load average (1 min) {before[0]:.1f} before, {after[0]:.1f} after, on {os.cpu_count()} cores"
          + (": a busy machine, only the ratios mean anything" if max(before[0], after[0]) > 1.5 else ""))
    for run in report.get("accuracy", []):
        print(f"kqv train digits {run['args']}: test {100 * run['test_accuracy']:.2f}%, best "
              f"validation {100 * run['best_validation_accuracy']:.2f}%, "
              f"{run['mean_epoch_seconds']:.2f} s/epoch, peak RSS {run['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
