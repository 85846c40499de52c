"""How fast and how good is the numpy GPT, as a user gets it? Figures side by side with PyTorch.

Every measurement runs in a fresh child process of its own (:mod:`children`), in each BLAS
environment asked for (``--envs``; by default as set, "auto" as a user's machine has it with
both kernel variables removed, and "haswell" with both forced, identical ones merged: two
kernels whichever way this shell is set), alternating the contenders round by round.

Prints (or with ``--json`` emits one object with), per environment and the kernel threadpoolctl
reports there:

* ``peak_gflops``: the float32 matmul peak with 1 and 2 threads, on the shapes the model
  multiplies (best of several runs, in a child of its own in every round);
* ``step``: ms per training iteration (forward + backward + clip + AdamW), the median over
  ``--rounds`` processes with its spread, of ``numpy`` (kqv's iteration: the batch's two halves
  one after the other with 1 thread, side by side with 2; BLAS always 1 thread), ``torch``
  (PyTorch eager, ``benchmarks/torch_gpt.py``, same model and batches) and ``torch.compile``;
  kqv's ratio to eager PyTorch (goal <= 0.5), tokens/s, and the fraction of the same kernel's
  matmul peak the iteration reaches (FLOPs counted below);
* ``run`` (unless ``--no-run``): the whole default ``kqv train gpt --json`` in a child, its wall
  time with evaluations and start-up (goal < 45 s), final val loss (nanoGPT's protocol, 20
  random batches; goal <= 1.84 at seed 1337) plus the exact loss over the whole val split, and
  peak RSS;
* ``seeds`` (with ``--seeds``): the same run at more seeds and the mean val loss (goal <= 1.83
  over 1337, 1, 2, 3), since one seed's 20-batch figure is one draw.

Usage: ``python benchmarks/gpt.py [--json] [--envs "as set,auto"] [--threads 1,2] [--rounds 5]
[--no-steps] [--no-run] [--seeds 1,2,3] [--run-args="--lr 1e-3 --no-bias"] [--torch-run]``.
The machine may be shared: compare figures measured in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from children import blas_kernel, environments, fmt, kernel_vars, peak_rss_mb, run_child, spread  # noqa: E402

from engine.data.text import TextData, get_batch  # noqa: E402
from engine.gpt.model import GPT, GPTConfig  # noqa: E402
from engine.gpt.train import TrainConfig  # noqa: E402

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"
# numpy: kqv's default (fast) engine, the fused kernels; numpy-readable: --engine readable
CONTENDERS = ("numpy", "numpy-readable", "torch", "torch.compile")


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
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

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


# -- what each child process does ----------------------------------------------------------------


def setup(text: Path):
    data = TextData.from_file(text, 64)
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=64, n_layer=4, n_head=4, n_embd=128)
    return data, cfg, TrainConfig()


def child_steps(spec: dict) -> dict:
    """Time ``spec["iters"]`` iterations of one contender at ``spec["threads"]`` threads, after
    a warm-up; the median ms per iteration."""
    data, cfg, tc = setup(Path(spec["text"]))
    kind, threads = spec["kind"], spec["threads"]
    rng = np.random.default_rng(spec["round"])
    if kind in ("numpy", "numpy-readable"):
        from engine import fused
        from engine.gpt.train import GPTTrainer
        from engine.runtime.blas import blas_threads

        engine = "readable" if kind == "numpy-readable" else "fast"
        trainer = GPTTrainer(data, cfg, TrainConfig(threads=threads, engine=engine))

        def step():
            with blas_threads(1), fused.use(engine), np.errstate(over="ignore", invalid="ignore",
                                                                 divide="ignore"):
                trainer.step(threads)  # kqv's own loop runs every iteration like this
    else:
        import torch_gpt

        if not torch_gpt.available():
            return {"error": "PyTorch not installed (pip install torch==2.13.0)"}
        torch_gpt.TorchStep.set_threads(threads)
        ref = torch_gpt.TorchStep(GPT(cfg, seed=tc.seed), compile=kind == "torch.compile")

        def step():
            ref.step(*get_batch(data.train, tc.batch_size, cfg.block_size, rng), 1e-3)
    t0 = time.perf_counter()
    for _ in range(spec["warmup"]):  # first calls allocate, load code, and compile
        step()
    warmup_s = time.perf_counter() - t0
    times = []
    for _ in range(spec["iters"]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"ms": 1000 * float(np.median(times)), "warmup_s": round(warmup_s, 2),
            "kernel": blas_kernel(), "peak_rss_mb": round(peak_rss_mb(), 1)}


def child_torch_run(spec: dict) -> dict:
    """The whole default run in PyTorch: same initial weights, batches, schedule and evaluation.

    Answers "is our val loss what this model and recipe give?" independently of our engine.
    """
    import torch_gpt

    from engine.optim import lr_at

    data, cfg, tc = setup(Path(spec["text"]))
    torch_gpt.TorchStep.set_threads(spec["threads"])
    ref = torch_gpt.TorchStep(GPT(cfg, seed=tc.seed))
    batch_rng = np.random.default_rng([tc.seed, 1])  # the trainer's batch stream
    t0 = time.perf_counter()
    for it in range(tc.max_iters):
        x, y = get_batch(data.train, tc.batch_size, cfg.block_size, batch_rng)
        ref.step(x, y, lr_at(it, tc.lr, tc.min_lr, tc.warmup_iters, tc.decay_iters))
    result = {"seconds": round(time.perf_counter() - t0, 1)}
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


def child(spec: dict) -> dict:
    if spec["kind"] == "peak":
        return {"gflops": measure_peak(spec["threads"]), "kernel": blas_kernel()}
    if spec["kind"] == "torch_run":
        return child_torch_run(spec)
    if spec["kind"] == "run":
        return child_run(spec)
    return child_steps(spec)


def child_run(spec: dict) -> dict:
    """``kqv train gpt --json`` (plus flags) in this process: its report, kernel and peak RSS."""
    import contextlib
    import io

    from kqv_cli.last_resort import main as run  # the installed kqv command

    out = io.StringIO()
    t0 = time.perf_counter()
    sys.argv = ["kqv", "train", "gpt", "--text", spec["text"], "--json", "--out", spec["out"], *spec["args"]]
    with contextlib.redirect_stdout(out):
        try:
            run()
        except SystemExit as exc:
            if exc.code:
                return {"error": f"kqv train gpt exited {exc.code}"}
    report = json.loads(out.getvalue())
    return {"report": report, "seconds_in_process": round(time.perf_counter() - t0, 1),
            "kernel": blas_kernel(), "peak_rss_mb": round(peak_rss_mb(), 1)}


# -- the parent: starts the children and reports ---------------------------------------------------


def full_run(text: Path, val: np.ndarray, env: dict, args: list[str]) -> dict:
    """The default run (plus ``args``) in a child in ``env``: wall time from the parent (start-up,
    evaluations and saving included), the child's result, and the exact loss over ``val``."""
    from engine.gpt.checkpoint import load_gpt
    from engine.gpt.train import split_loss

    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "gpt.npz")
        t0 = time.perf_counter()
        r = run_child(__file__, {"kind": "run", "text": str(text), "out": out, "args": args}, env)
        wall = time.perf_counter() - t0
        if "error" in r:
            raise SystemExit(f"the training run failed: {r['error']}")
        model, _, _ = load_gpt(out)
        val_full = split_loss(model, val)
    report = r["report"]
    return {"command": "kqv train gpt " + " ".join(args), "seconds": round(wall, 1),
            "train_loss": round(report["train_loss"], 4), "val_loss": round(report["val_loss"], 4),
            "val_loss_whole_split": round(val_full, 4), "threads_used": report.get("threads"),
            "ms_per_iter": round(report["ms_per_iter"], 2), "iters": report["iters"],
            "kernel": r["kernel"], "peak_rss_mb": r["peak_rss_mb"]}


def time_steps(envs: dict, thread_counts: list[int], contenders: list[str], text: Path, rounds: int,
               iters: int, compile_rounds: int, say) -> dict:
    """Per environment and thread count: the peak, then each contender's ms per iteration over
    ``rounds`` fresh processes, the contenders alternating within every round. torch.compile
    runs in the first ``compile_rounds`` only: each of its processes compiles for a minute."""
    out = {label: {n: {"peak_gflops": [], "ms": {c: [] for c in contenders}, "errors": {}}
                   for n in thread_counts} for label in envs}
    for r in range(rounds):
        for label, env in envs.items():
            for n in thread_counts:
                row = out[label][n]
                peak = run_child(__file__, {"kind": "peak", "threads": n}, env)  # every round: the
                row["peak_gflops"].append(peak["gflops"])  # ratio to peak sees the same machine
                row["kernel"] = peak["kernel"]
                for c in contenders:
                    if c in row["errors"] or (c == "torch.compile" and r >= compile_rounds):
                        continue
                    spec = {"kind": c, "threads": n, "text": str(text), "round": r, "iters": iters,
                            "warmup": 10 if c == "torch.compile" else 3}
                    res = run_child(__file__, spec, env)
                    if "error" in res:
                        row["errors"][c] = res["error"]
                        say(f"  {label}, {n} thread(s): {c} failed: {res['error']}")
                    else:
                        row["ms"][c].append(res["ms"])
        say(f"  round {r + 1}/{rounds} done")
    return out


def summarise_steps(raw: dict, flops: int, tokens: int) -> dict:
    result = {}
    for label, by_threads in raw.items():
        for n, row in by_threads.items():
            ms = {c: spread(v) for c, v in row["ms"].items() if v}
            peak = spread(row["peak_gflops"])
            entry = {"kernel": row["kernel"], "peak_gflops": peak, "ms_per_iter": ms, "errors": row["errors"]}
            if "numpy" in ms:
                ours = ms["numpy"]["median"]
                entry["tokens_per_s"] = round(tokens / ours * 1000)
                entry["fraction_of_peak"] = round(flops / (ours / 1000) / 1e9 / peak["median"], 3)
                for c in ("torch", "torch.compile", "numpy-readable"):
                    if c in ms:
                        entry[f"ratio_to_{c}"] = round(ours / ms[c]["median"], 3)
            result.setdefault(label, {})[n] = entry
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--envs", default="as set,auto,haswell",
                        help='BLAS environments: "as set", "auto" (both kernel variables removed), '
                             '"haswell" (both set as build machines set them)')
    parser.add_argument("--threads", default="1,2", help="thread counts to time, e.g. 1,2")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help="numpy,numpy-readable,torch,torch.compile")
    parser.add_argument("--rounds", type=int, default=5, help="processes per contender (alternating)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations per process")
    parser.add_argument("--compile-rounds", type=int, default=2,
                        help="processes for torch.compile (each compiles first, about a minute)")
    parser.add_argument("--no-steps", action="store_true", help="skip the per-iteration timing")
    parser.add_argument("--no-run", action="store_true", help="skip the 2000-iteration training run")
    parser.add_argument("--run-args", default="",
                        help='more `kqv train gpt` flags for the run(s), e.g. '
                             '--run-args="--lr 1e-3 --no-bias"')
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="text to train on")
    parser.add_argument("--seeds", default="",
                        help="also train the run with these seeds (e.g. 1,2,3) and report the mean val "
                             "loss: one seed's 20-batch figure moves by about ±0.013")
    parser.add_argument("--torch-run", action="store_true",
                        help="also train the PyTorch reference for the whole run (its val loss)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    say = (lambda *a: None) if args.json else print

    if not args.text.is_file():
        raise SystemExit(f"no text at {args.text}; pass --text FILE")
    data, cfg, tc = setup(args.text)
    envs = environments([e.strip() for e in args.envs.split(",")])
    flops = matmul_flops(cfg, tc.batch_size, cfg.block_size)
    tokens = tc.batch_size * cfg.block_size
    thread_counts = [int(t) for t in args.threads.split(",")]
    result = {"config": {**cfg.to_dict(), "batch_size": tc.batch_size, "lr": tc.lr},
              "gflop_per_iter": flops / 1e9,
              "environments": {label: kernel_vars(env) for label, env in envs.items()}}
    say(f"GPT {cfg.n_layer} layers, C={cfg.n_embd}, B={tc.batch_size}, T={cfg.block_size}: "
        f"{flops / 1e9:.2f} GFLOP of matmuls per iteration. Environments: "
        + "; ".join(f"{label} ({kernel_vars(env)})" for label, env in envs.items()))
    if not args.no_steps:
        contenders = [c.strip() for c in args.contenders.split(",")]
        say(f"timing {', '.join(contenders)}, each in {args.rounds} fresh processes per environment...")
        raw = time_steps(envs, thread_counts, contenders, args.text, args.rounds, args.iters,
                         args.compile_rounds, say)
        result["step"] = steps = summarise_steps(raw, flops, tokens)
        for label, by_threads in steps.items():
            for n, e in by_threads.items():
                ms = e["ms_per_iter"]
                ratios = ", ".join(f"kqv/{c} {e[f'ratio_to_{c}']:.2f}"
                                   for c in ("torch", "torch.compile", "numpy-readable")
                                   if f"ratio_to_{c}" in e)
                peak = fmt(e["peak_gflops"], " GFLOP/s", 0)
                say(f"[{label}: {e['kernel']}] {n} thread(s), matmul peak {peak}\n"
                    f"    kqv numpy     {fmt(ms.get('numpy'), ' ms')}"
                    + (f"  {e['tokens_per_s']:,} tokens/s, {100 * e['fraction_of_peak']:.0f}% of peak"
                       if "tokens_per_s" in e else "") + "\n"
                    f"    kqv readable  {fmt(ms.get('numpy-readable'), ' ms')}\n"
                    f"    torch eager   {fmt(ms.get('torch'), ' ms')}\n"
                    f"    torch.compile {fmt(ms.get('torch.compile'), ' ms')}\n"
                    f"    {ratios or 'no ratio'}"
                    + "".join(f"\n    {c}: {err}" for c, err in e["errors"].items()))
    extra = shlex.split(args.run_args)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else []
    if not args.no_run or seeds:
        result["runs"] = {}
        for label, env in envs.items():
            runs = []
            for seed in ([None] if not args.no_run else []) + seeds:
                flags = extra + (["--seed", str(seed)] if seed is not None else [])
                say(f"[{label}] training: kqv train gpt {' '.join(flags)}...")
                run = full_run(args.text, data.val, env, flags)
                runs.append(run)
                say(f"[{label}: {run['kernel']}] {run['command']}: {run['seconds']:.1f} s wall "
                    f"({run['ms_per_iter']:.1f} ms/iter), train {run['train_loss']:.4f}, val "
                    f"{run['val_loss']:.4f} (whole val split {run['val_loss_whole_split']:.4f}), peak RSS "
                    f"{run['peak_rss_mb']:.0f} MB, iterations per thread count {run['threads_used']}")
            vals = [r["val_loss"] for r in runs]
            summary = {"runs": runs, "mean_val_loss": round(float(np.mean(vals)), 4),
                       "sd_val_loss": round(float(np.std(vals, ddof=1)), 4) if len(vals) > 1 else None,
                       "mean_val_loss_whole_split": round(float(np.mean(
                           [r["val_loss_whole_split"] for r in runs])), 4)}
            result["runs"][label] = summary
            if len(runs) > 1:
                say(f"[{label}] over {len(runs)} runs: val {summary['mean_val_loss']:.4f} mean (sd "
                    f"{summary['sd_val_loss']}), whole val split "
                    f"{summary['mean_val_loss_whole_split']:.4f} mean")
    if args.torch_run:
        say("training the PyTorch reference the same way (2 threads)...")
        ref = run_child(__file__, {"kind": "torch_run", "threads": 2, "text": str(args.text)},
                        next(iter(envs.values())))
        result["torch_run"] = ref
        if "error" not in ref:
            say(f"torch run: {ref['seconds']:.1f} s of steps, train {ref['train_loss']:.4f}, "
                f"val {ref['val_loss']:.4f} (whole val split {ref['val_loss_whole_split']:.4f})")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
