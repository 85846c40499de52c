"""Each contender alone in a fresh process, in a chosen BLAS environment: what a user would time.

Two contenders timed in one process share its thread pools and caches, and the one timed second
pays for the first (PyTorch's 2-thread GPT step measured ~61 ms that way and ~33 ms alone). So
the benchmarks start every measurement as a child process of its own, alternating the
contenders round by round, and report medians with their spread.

The BLAS kernel is the other thing a user's machine does not share with ours. Build machines
may set ``OPENBLAS_CORETYPE=Haswell`` and ``OPENBLAS_L2_SIZE=512``, which force OpenBLAS's AVX2
kernels on a CPU that would auto-detect its AVX-512 (SkylakeX) ones. The environments here:

* ``as set``: the environment this script runs in, unchanged;
* ``auto``: both variables removed, as on a user's machine (OpenBLAS picks its kernel);
* ``haswell``: both variables set as those build machines set them.

Environments that come out identical are measured once (when this shell sets neither
variable, "as set" *is* "auto"). Every child says which kernel threadpoolctl reports. Only
the children's environment changes; tests and CI leave it alone.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

KERNEL_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
FORCED_HASWELL = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": "512"}
REPO = Path(__file__).resolve().parent.parent


def environments(names: list[str]) -> dict[str, dict[str, str]]:
    """The named environments (``as set``, ``auto``, ``haswell``), identical ones merged:
    ``{"as set = auto": {...}}`` when this shell sets neither variable."""
    base = {**os.environ, "PYTHONPATH": str(REPO)}
    auto = {k: v for k, v in base.items() if k not in KERNEL_VARS}
    known = {"as set": base, "auto": auto, "haswell": {**auto, **FORCED_HASWELL}}
    merged: dict[str, dict[str, str]] = {}
    for name in names:
        if name not in known:
            raise SystemExit(f"unknown environment {name!r}: choose from {', '.join(known)}")
        same = next((label for label, env in merged.items() if env == known[name]), None)
        if same is None:
            merged[name] = known[name]
        else:
            merged[f"{same} = {name}"] = merged.pop(same)
    return merged


def kernel_vars(env: dict[str, str]) -> str:
    """``OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512``, or ``neither variable set``."""
    set_ = [f"{k}={env[k]}" for k in KERNEL_VARS if k in env]
    return " ".join(set_) if set_ else "neither variable set"


def blas_kernel() -> str:
    """The kernel OpenBLAS chose in this process, as threadpoolctl reports it."""
    from threadpoolctl import threadpool_info

    found = [f"{i.get('internal_api')} {i.get('architecture') or '?'}" for i in threadpool_info()
             if i.get("user_api") == "blas"]
    return ", ".join(found) or "no BLAS loaded"


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM, per address space)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_child(script: str, spec: dict, env: dict[str, str]) -> dict:
    """``python SCRIPT --child SPEC`` in ``env``; its last stdout line is a JSON result."""
    proc = subprocess.run([sys.executable, script, "--child", json.dumps(spec)], capture_output=True,
                          text=True, env=env, cwd=REPO)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def spread(values: list[float]) -> dict:
    """Median, minimum and maximum of per-process figures (each process's own median)."""
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "n": len(values)}


def fmt(s: dict | None, unit: str = "", digits: int = 1) -> str:
    """``25.1 ms (24.8–26.0 over 5 processes)``"""
    if not s:
        return "-"
    d = digits
    return f"{s['median']:.{d}f}{unit} ({s['min']:.{d}f}–{s['max']:.{d}f} over {s['n']} processes)"
