"""The what-if lab: each experiment on its default budget, its time and its key numbers.

Usage::

    python benchmarks/lab.py                     # every experiment, retrained (no cache)
    python benchmarks/lab.py --only flipped-mask --only relu
    python benchmarks/lab.py --verdicts          # also print each verdict
    python benchmarks/lab.py --json              # one JSON object

Every run is fresh (results go to a throw-away cache folder, the user's is untouched). The
figure to watch: every GPT experiment under 60 s of wall clock on 2 cores. Wall clock on a
shared machine also counts other people's work, so CPU seconds are printed too.
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

from kqv_cli.lab import EXPERIMENTS, METRICS, get_experiment, run_experiment  # noqa: E402
from kqv_cli.lab.experiments import format_metric  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def load(kind: str, block_size: int, args):
    if kind == "gpt":
        from engine.data.text import TextData

        return TextData.from_file(args.text, block_size)
    from engine.data.mnist import load_mnist

    return load_mnist(args.data, download=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run just this experiment (repeatable)")
    parser.add_argument("--text", type=Path, default=SHARED / "tinyshakespeare" / "input.txt")
    parser.add_argument("--data", type=Path, default=SHARED / "mnist", help="MNIST folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verdicts", action="store_true", help="print each verdict too")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ["KQV_CACHE_DIR"] = tempfile.mkdtemp(prefix="kqv-lab-bench-")
    experiments = [get_experiment(n) for n in args.only] if args.only else list(EXPERIMENTS)
    datasets, rows = {}, []
    for exp in experiments:
        block = exp.block_size
        key = (exp.kind, block)
        if key not in datasets:
            datasets[key] = load(exp.kind, block, args)
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_experiment(exp, datasets[key], seed=args.seed, fresh=True)
        row = {"experiment": exp.name, "kind": exp.kind, "budget": result.budget, "unit": exp.unit,
               "seconds_wall": round(time.perf_counter() - wall, 2),
               "seconds_cpu": round(time.process_time() - cpu, 2),
               "variants": {v.label: {k: v.metrics.get(k) for k in exp.columns} for v in result.variants},
               "verdict": result.verdict}
        rows.append(row)
        if not args.json:
            print_row(exp, row, args.verdicts)
    gpt_times = [r["seconds_wall"] for r in rows if r["kind"] == "gpt"]
    summary = {"experiments": rows, "slowest_gpt_seconds": max(gpt_times) if gpt_times else None,
               "cpu_count": os.cpu_count()}
    if args.json:
        print(json.dumps(summary))
    elif gpt_times:
        print(f"slowest GPT experiment: {max(gpt_times):.1f} s wall (target < 60 s on 2 cores)")


def print_row(exp, row, verdicts: bool) -> None:
    print(f"{exp.name:<15} {row['budget']} {row['unit']:<10} {row['seconds_wall']:6.1f} s wall  "
          f"{row['seconds_cpu']:6.1f} s cpu")
    for label, metrics in row["variants"].items():
        cells = "  ".join(f"{METRICS[k][0]} {format_metric(k, v)}" for k, v in metrics.items())
        print(f"    {label:<15} {cells}")
    if verdicts:
        print("    " + row["verdict"])


if __name__ == "__main__":
    main()
