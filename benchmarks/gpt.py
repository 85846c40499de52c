"""How fast and how good is the numpy GPT? Figures for the issue, side by side with PyTorch.

Prints (or with ``--json`` emits one object with):

* ``peak_gflops``: this machine's float32 matmul peak, measured here with 1 and 2 BLAS threads
  on the shapes the model multiplies (best of several runs);
* ``step``: ms per training iteration (forward + backward + clip + AdamW) of our engine and of
  the PyTorch eager reference (``benchmarks/torch_gpt.py``, same model, same batches), timed in
  alternating rounds in this one process, per BLAS thread count; their ratio (ours / torch, goal
  <= 1.0), tokens/s, and the fraction of the matmul peak the step reaches (FLOPs counted below);
* ``run`` (unless ``--no-run``): the whole default training, ``kqv train gpt --json`` in a child
  process, its wall time (goal < 104 s), final train/val loss (goal val <= 1.88; nanoGPT's
  protocol, 20 random batches) plus the exact loss over the whole val split, and the child's
  peak RSS (goal < 400 MB);
* ``seeds`` (with ``--seeds``): the same run with other seeds, and the mean val loss over all of
  them, since one seed's 20-batch figure is one draw.

Usage: ``python benchmarks/gpt.py [--json] [--threads 1,2] [--rounds 5] [--no-steps] [--no-run]
[--seeds 1,2,3] [--run-args="--lr 2e-3"]``.
Timings on a shared 2-core machine are noisy: rounds alternate ours and torch so both see the
same conditions, and medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from engine.gpt import GPT, GPTConfig  # noqa: E402
from engine.gpt_train import GPTTrainer, TrainConfig, load_gpt, split_loss  # noqa: E402
from engine.optim import AdamW, clip_grad_norm  # noqa: E402
from engine.text import TextData, get_batch  # noqa: E402

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


def matmul_flops(cfg: GPTConfig, B: int, T: int) -> int:
    """FLOPs of one training iteration's matrix products (2 per multiply-add).

    Forward: the four linear layers of each block (C->3C, C->C, C->4C, 4C->C), q @ kᵀ and att @ v,
    and the tied LM head. Backward: twice the forward (one product for the input's gradient,
    one for the weight's). Elementwise work is not counted.
    """
    C, N, V = cfg.n_embd, B * T, cfg.vocab_size
    linear = 2 * N * (C * 3 * C + C * C + C * 4 * C + 4 * C * C)
    attention = 2 * 2 * B * T * T * C  # two batched products, summed over heads: nh * hs = C
    forward = cfg.n_layer * (linear + attention) + 2 * N * C * V
    return 3 * forward


def measure_peak(threads: int, repeats: int = 5) -> float:
    """Best float32 GFLOP/s over the model's linear-layer shapes using ``threads`` cores.

    With 2, the better of OpenBLAS's own two threads on one product and two products side by
    side in two Python threads (one BLAS thread each, the way kqv trains).
    """
    rng = np.random.default_rng(0)
    best = 0.0
    shapes = ((128, 512), (512, 128), (128, 384))
    mats = [(rng.standard_normal((768, i)).astype(np.float32), rng.standard_normal((i, o)).astype(np.float32))
            for i, o in shapes]

    def products(a, b, n=50):
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
        for _ in range(n):
            np.matmul(a, b, out=out)

    with threadpool_limits(threads, user_api="blas"):
        for a, b in mats:
            for _ in range(repeats):
                products(a, b, 5)
                t0 = time.perf_counter()
                products(a, b)
                flops = 2 * a.shape[0] * a.shape[1] * b.shape[1] * 50
                best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    if threads == 2:
        from concurrent.futures import ThreadPoolExecutor

        with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(1) as pool:
            for a, b in mats:
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    other = pool.submit(products, a, b)
                    products(a, b)
                    other.result()
                    flops = 2 * 2 * a.shape[0] * a.shape[1] * b.shape[1] * 50
                    best = max(best, flops / (time.perf_counter() - t0) / 1e9)
    return best


class WholeBatchStep:
    """Our model without the two halves: one forward/backward of the whole batch, with as many
    OpenBLAS threads as the row asks (for comparison with the way kqv trains)."""

    def __init__(self, cfg: GPTConfig, tc: TrainConfig):
        self.model = GPT(cfg, seed=tc.seed)
        self.opt = AdamW(self.model.flat_params, self.model.flat_grads, self.model.n_decay,
                         tc.weight_decay, (tc.beta1, tc.beta2))

    def step(self, x, y, lr):
        _, loss = self.model.forward(x, y)
        self.model.backward()
        clip_grad_norm(self.model.flat_grads, 1.0)
        self.opt.step(lr)
        return loss


def time_steps(threads: int, cfg: GPTConfig, tc: TrainConfig, data: TextData, rounds: int,
               per_round: int) -> dict:
    """Median ms per iteration, alternating rounds, every contender at ``threads`` threads.

    ``numpy`` is kqv's training iteration (:meth:`GPTTrainer.step`: the batch's two halves one
    after the other, or side by side with 2 threads; BLAS always 1 thread); ``numpy_blas`` the
    whole batch at once with ``threads`` OpenBLAS threads; ``torch`` PyTorch eager with
    ``torch.set_num_threads(threads)``.
    """
    import torch_gpt

    rng = np.random.default_rng(0)
    batches = [get_batch(data.train, tc.batch_size, cfg.block_size, rng) for _ in range(per_round)]
    trainer = GPTTrainer(data, cfg, TrainConfig(**{**tc.__dict__, "threads": threads}))
    whole = WholeBatchStep(cfg, tc)
    contenders = {
        "numpy": (lambda x, y, lr: trainer.step(threads), 1),
        "numpy_blas": (whole.step, threads),
    }
    if torch_gpt.available():
        torch_gpt.TorchStep.set_threads(threads)
        contenders["torch"] = (torch_gpt.TorchStep(whole.model).step, threads)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for step, blas in contenders.values():  # warm up: first calls allocate and load code
        with threadpool_limits(blas, user_api="blas"):
            for x, y in batches[:3]:
                step(x, y, 1e-3)
    for _ in range(rounds):
        for name, (step, blas) in contenders.items():
            with threadpool_limits(blas, user_api="blas"):
                for x, y in batches:
                    t0 = time.perf_counter()
                    step(x, y, 1e-3)
                    times[name].append(time.perf_counter() - t0)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


# Runs kqv in the child and, at exit, reports the child's own peak resident memory. The kernel's
# VmHWM is per address space, so it excludes this (torch-laden) parent that the child was forked
# from; ru_maxrss of a child would include it.
_CHILD = """
import atexit, sys
def report_peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("KQV_PEAK_KB " + line.split()[1] + "\\n")
atexit.register(report_peak)
sys.argv = ["kqv"] + sys.argv[1:]
from kqv_cli.main import run
run()
"""


def full_run(text: Path, val: np.ndarray, threads: int | None, seed: int | None = None,
             extra: list[str] = ()) -> dict:
    """The default ``kqv train gpt`` (plus ``extra`` flags) on ``text`` in a child process: wall
    time, result, peak RSS, and the exact loss over ``val`` (the text's validation ids)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-c", _CHILD, "train", "gpt", "--text", str(text), "--json",
               "--out", str(Path(tmp) / "gpt.npz"), *extra]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"the training run failed: {proc.stderr.strip()}")
        model, _, _ = load_gpt(Path(tmp) / "gpt.npz")
        val_full = split_loss(model, val)
    report = json.loads(proc.stdout)
    marks = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("KQV_PEAK_KB")]
    peak_kb = int(marks[-1]) if marks else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"command": "kqv " + " ".join(cmd[3:]), "seconds": round(wall, 1),
            "train_loss": report["train_loss"],
            "val_loss": report["val_loss"], "val_loss_whole_split": round(val_full, 4),
            "threads_used": report.get("threads"), "ms_per_iter": round(report["ms_per_iter"], 2),
            "iters": report["iters"], "peak_rss_mb": round(peak_kb / 1024, 1)}


def torch_training_run(data: TextData, cfg: GPTConfig, tc: TrainConfig, threads: int) -> dict:
    """The same 2000 iterations in PyTorch: same initial weights, batches, schedule and evaluation.

    Answers "is our val loss what this model and recipe give?" independently of our engine.
    """
    import torch_gpt

    from engine.optim import lr_at

    torch_gpt.TorchStep.set_threads(threads)
    ref = torch_gpt.TorchStep(GPT(cfg, seed=tc.seed))
    batch_rng = np.random.default_rng([tc.seed, 1])  # the trainer's batch stream
    t0 = time.perf_counter()
    for it in range(tc.max_iters):
        x, y = get_batch(data.train, tc.batch_size, cfg.block_size, batch_rng)
        ref.step(x, y, lr_at(it, tc.lr, tc.min_lr, tc.warmup_iters, tc.decay_iters))
    seconds = time.perf_counter() - t0
    result = {"seconds": round(seconds, 1)}
    for split, ids in (("train", data.train), ("val", data.val)):
        rng = np.random.default_rng([tc.seed, 3, tc.max_iters, int(split == "val")])  # same draws
        losses = [ref.loss(*get_batch(ids, tc.batch_size, cfg.block_size, rng)) for _ in range(tc.eval_iters)]
        result[f"{split}_loss"] = round(float(np.mean(losses)), 4)
    T = cfg.block_size
    n = (len(data.val) - 1) // T  # the whole split in windows, as split_loss does
    x, y = data.val[: n * T].reshape(n, T), data.val[1 : n * T + 1].reshape(n, T)
    total = sum(ref.loss(x[i : i + 64], y[i : i + 64]) * len(x[i : i + 64]) for i in range(0, n, 64))
    result["val_loss_whole_split"] = round(total / n, 4)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--threads", default="1,2", help="BLAS thread counts to time, e.g. 1,2")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per thread count")
    parser.add_argument("--per-round", type=int, default=10, help="iterations per round")
    parser.add_argument("--no-steps", action="store_true", help="skip the per-iteration timing")
    parser.add_argument("--no-run", action="store_true", help="skip the 2000-iteration training run")
    parser.add_argument("--run-args", default="",
                        help='more `kqv train gpt` flags for the run(s), e.g. --run-args="--lr 2e-3"')
    parser.add_argument("--run-threads", type=int, default=None, help="--threads for the training run")
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="text to train on")
    parser.add_argument("--seeds", default="",
                        help="also train the default run with these seeds (e.g. 1,2,3) and report the "
                             "mean val loss: one seed's 20-batch figure moves by about ±0.013")
    parser.add_argument("--torch-run", action="store_true",
                        help="also train the PyTorch reference for the whole run (its val loss)")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.json else print

    import torch_gpt

    if not args.text.is_file():
        raise SystemExit(f"no text at {args.text}; pass --text FILE")
    data = TextData.from_file(args.text, 64)
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=64, n_layer=4, n_head=4, n_embd=128)
    tc = TrainConfig()
    flops = matmul_flops(cfg, tc.batch_size, cfg.block_size)
    tokens = tc.batch_size * cfg.block_size
    thread_counts = [int(t) for t in args.threads.split(",")]
    result = {"config": {**cfg.to_dict(), "batch_size": tc.batch_size}, "gflop_per_iter": flops / 1e9,
              "torch": torch_gpt.TorchStep.version() if torch_gpt.available() else None,
              "peak_gflops": {}, "step": {}}
    say(f"GPT {cfg.n_layer} layers, C={cfg.n_embd}, B={tc.batch_size}, T={cfg.block_size}: "
        f"{flops / 1e9:.2f} GFLOP of matmuls per iteration")
    if not torch_gpt.available():
        say("PyTorch not installed: the reference column is skipped (pip install torch==2.13.0)")
    for n in [] if args.no_steps else thread_counts:
        peak = measure_peak(n)
        result["peak_gflops"][n] = round(peak, 1)
        ms = time_steps(n, cfg, tc, data, args.rounds, args.per_round)
        row = {
            "numpy_ms": round(ms["numpy"], 2),
            "numpy_whole_batch_blas_ms": round(ms["numpy_blas"], 2),
            "torch_ms": round(ms["torch"], 2) if "torch" in ms else None,
            "ratio": round(ms["numpy"] / ms["torch"], 3) if "torch" in ms else None,
            "tokens_per_s": round(tokens / ms["numpy"] * 1000),
            "fraction_of_peak": round(flops / (ms["numpy"] / 1000) / 1e9 / peak, 3),
        }
        result["step"][n] = row
        torch_part = (f"torch {row['torch_ms']:.1f} ms, ratio {row['ratio']:.2f}" if row["ratio"]
                      else "torch skipped")
        say(f"{n} thread(s): peak {peak:.0f} GFLOP/s | numpy {row['numpy_ms']:.1f} ms/iter "
            f"({row['tokens_per_s']:,} tokens/s, {100 * row['fraction_of_peak']:.0f}% of peak; whole batch "
            f"on {n} OpenBLAS threads {row['numpy_whole_batch_blas_ms']:.1f} ms) | {torch_part}")
    extra = shlex.split(args.run_args)
    if not args.no_run:
        say(f"training the default run{' with ' + args.run_args if args.run_args else ''} (seed 1337)...")
        run = full_run(args.text, data.val, args.run_threads, extra=extra)
        result["run"] = run
        say(f"run: {run['seconds']:.1f} s wall, {run['ms_per_iter']:.1f} ms/iter, "
            f"train {run['train_loss']:.4f}, val {run['val_loss']:.4f} (whole val split "
            f"{run['val_loss_whole_split']:.4f}), peak RSS {run['peak_rss_mb']:.0f} MB, "
            f"iterations per thread count {run['threads_used']}")
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
        runs = [result["run"]] if "run" in result else []
        for seed in seeds:
            say(f"training the same run with --seed {seed}...")
            run = full_run(args.text, data.val, args.run_threads, seed, extra)
            runs.append(run)
            say(f"seed {seed}: {run['seconds']:.1f} s wall, val {run['val_loss']:.4f} "
                f"(whole val split {run['val_loss_whole_split']:.4f})")
        result["seeds"] = {
            "runs": [{"command": r["command"], "val_loss": r["val_loss"],
                      "val_loss_whole_split": r["val_loss_whole_split"], "seconds": r["seconds"]}
                     for r in runs],
            "mean_val_loss": round(float(np.mean([r["val_loss"] for r in runs])), 4),
            "std_val_loss": round(float(np.std([r["val_loss"] for r in runs], ddof=1)), 4)
            if len(runs) > 1 else None,
            "mean_val_loss_whole_split": round(float(np.mean([r["val_loss_whole_split"] for r in runs])), 4),
        }
        mean = result["seeds"]
        say(f"over {len(runs)} runs: val {mean['mean_val_loss']:.4f} mean (sd {mean['std_val_loss']}), "
            f"whole val split {mean['mean_val_loss_whole_split']:.4f} mean")
    if args.torch_run and torch_gpt.available():
        say("training the PyTorch reference the same way...")
        ref = torch_training_run(data, cfg, tc, threads=max(thread_counts))
        result["torch_run"] = ref
        say(f"torch run: {ref['seconds']:.1f} s of steps, train {ref['train_loss']:.4f}, "
            f"val {ref['val_loss']:.4f} (whole val split {ref['val_loss_whole_split']:.4f})")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
