"""benchmarks/torch_translate_train.py refuses what it cannot run with one line, exit code 2.

The benchmark itself needs PyTorch and ten minutes; these checks need neither: they run the
script with the test venv's python, which has no torch."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "torch_translate_train.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_bad_step_count_is_one_line():
    done = run("--iters", "0")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "torch_translate_train: --iters, --threads and --bleu-sentences must be positive whole numbers"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_without_torch_it_names_the_benchmark_venv():
    done = run("--iters", "5")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "PyTorch is not installed" in lines[0] and "bench-venv" in lines[0]
