"""How long kqv takes to start: ``kqv --version``, ``kqv --help`` and a command's ``--help``.

Usage::

    python benchmarks/startup.py               # medians, and what --help spends its imports on
    python benchmarks/startup.py --json        # the same figures as one JSON object
    python benchmarks/startup.py --runs 15

Each figure is the median wall time of ``--runs`` fresh processes of the installed ``kqv`` (the
console script beside this interpreter), run as a user runs it: PYTHONDONTWRITEBYTECODE unset,
so the bytecode caches are written once and used after. ``python -c pass`` is measured the same
way as the floor: on a busy machine everything is slower, and the difference is kqv's own.
Issue 26's goals, on an idle machine: ``kqv --version`` < 0.25 s, ``kqv --help`` < 0.35 s.

``--help``'s imports are then listed from ``python -X importtime``: the top-level packages by
their cumulative time, so a heavy library pulled in by a command's module shows at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "kqv --version": [str(BIN / "kqv"), "--version"],
    "kqv --help": [str(BIN / "kqv"), "--help"],
    "kqv train gpt --help": [str(BIN / "kqv"), "train", "gpt", "--help"],
}


def user_env() -> dict:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["COLUMNS"] = "100"
    return env


def wall(cmd: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=user_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return times


def import_costs(top: int = 12) -> list[tuple[str, float]]:
    """The top-level packages ``kqv --help`` imports, by cumulative import time (ms)."""
    code = "import sys; sys.argv = ['kqv', '--help']\nfrom kqv_cli.last_resort import main\nmain()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=user_env(),
                          capture_output=True, text=True)
    per_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if not cumulative.isdigit() or name.startswith(" "):
            continue
        if line.split("|")[2].startswith("  "):  # indented: counted in its parent already
            continue
        package = name.split(".")[0]
        per_package[package] = per_package.get(package, 0.0) + int(cumulative) / 1000
    return sorted(per_package.items(), key=lambda kv: -kv[1])[:top]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--runs", type=int, default=9, help="processes per command")
    args = parser.parse_args(argv)
    for cmd in COMMANDS.values():  # once each first: bytecode written, files in the page cache
        wall(cmd, 1)
    result = {"load_average": os.getloadavg(), "cpus": os.cpu_count(), "seconds": {}}
    for name, cmd in COMMANDS.items():
        times = wall(cmd, args.runs)
        result["seconds"][name] = {"median": round(statistics.median(times), 3),
                                   "min": round(min(times), 3), "max": round(max(times), 3)}
    result["help_imports_ms"] = dict((k, round(v, 1)) for k, v in import_costs())
    result["load_average_after"] = os.getloadavg()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs "
          f"(then {result['load_average_after'][0]:.1f}); median of {args.runs} processes:")
    for name, s in result["seconds"].items():
        print(f"  {name:24s} {s['median']:.3f} s  (min {s['min']:.3f}, max {s['max']:.3f})")
    print("kqv --help imports (cumulative ms, by top-level package):")
    for name, ms in result["help_imports_ms"].items():
        print(f"  {name:24s} {ms:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
