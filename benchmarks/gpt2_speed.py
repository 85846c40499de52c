"""GPT-2 in kqv's numpy engine: load time, a 13-token forward pass, generation with and without
the KV cache, peak memory of ``kqv sample --model``, and transformers' rates beside them.

Every contender runs alone in its own child process (one process timing numpy and PyTorch
side by side slows both), and kqv runs twice: with the kernel these machines' environment
forces (``OPENBLAS_CORETYPE=Haswell``, ``OPENBLAS_L2_SIZE=512``, set for that child if the
shell lacks them) and with both variables removed, which is the kernel a user's machine with
this CPU picks. The kernel each child used is read with threadpoolctl and printed. Each kqv
child also times plain numpy over the same weights (one row through every matrix, the head
included), the memory-bandwidth bound of cached generation, and reports generation's fraction
of it. The two take turns token by token (:func:`interleaved`), so both are measured under the
same load: a figure that survives a busy machine better than a rate.

``--model`` is a GPT-2 folder or name (default ``gpt2`` from the Hugging Face cache). Without
the real weights, write a random GPT-2 small with transformers, e.g.::

    python -c "from transformers import GPT2Config, GPT2LMHeadModel as M; \\
               M(GPT2Config()).save_pretrained('/tmp/gpt2-small-random')"

and copy any GPT-2 ``tokenizer.json`` beside it (the timings use token ids, not text).

``--busy`` measures only what another job on the machine does to kqv (:func:`busy_child`): a
second process spins on one core, and one-off forward passes and generation are timed with
the thread chooser and without it.

Usage: ``python benchmarks/gpt2_speed.py [--model PATH] [--json] [--tokens 64] [--rounds 5]
[--pairs 2] [--busy]``: kqv (both kernels) and transformers alternate ``--pairs`` times, each in a fresh
process, and the ratio of each pair's generation rates is reported with their median.
transformers is measured when torch and transformers are installed (pinned torch==2.13.0),
and skipped with a note otherwise.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import FORCED_HASWELL, REPO, peak_rss_mb  # noqa: E402

PROMPT_T = 13  # the pizza prompt: <|endoftext|> + 12 tokens


def kqv_child(model: str, tokens: int, rounds: int) -> dict:
    """In the child: time kqv alone."""
    import numpy as np
    from threadpoolctl import threadpool_info

    from engine.hf.hub import load_pretrained
    from engine.runtime.blas import blas_threads

    start = time.perf_counter()
    gpt, _, _ = load_pretrained(model)
    load_s = time.perf_counter() - start
    ids = np.random.default_rng(0).integers(0, gpt.config.vocab_size, size=(1, PROMPT_T))
    gpt.forward(ids)  # warm-up
    forward = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        gpt.forward(ids)
        forward.append(time.perf_counter() - t0)
    by_threads = {}
    for n in (1, 2):  # the library's default above; each thread count alone here
        with blas_threads(n):
            gpt.forward(ids)
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                gpt.forward(ids)
                times.append(time.perf_counter() - t0)
        by_threads[n] = 1000 * statistics.median(times)

    def rate(cache: bool, n: int) -> float:
        rng = np.random.default_rng(1)
        stream = gpt.stream(ids[0], n + 1, rng=rng, cache=cache)
        next(stream)  # the prompt's pass and the first token: the forward figure's work
        t0 = time.perf_counter()
        for _ in stream:
            pass
        return n / (time.perf_counter() - t0)

    # generation and the bound take turns token by token (interleaved): on a shared machine
    # the load changes from one second to the next, and the fraction compares figures taken
    # under the same load
    cached, bound, fractions = [], {1: [], 2: []}, []
    for _ in range(max(1, rounds // 2)):
        tok_s, bound_s = interleaved(gpt, ids, tokens)
        cached.append(tok_s)
        for n, b in bound_s.items():
            bound[n].append(b)
        fractions.append(tok_s / max(bound_s.values()))
    bound = {n: statistics.median(b) for n, b in bound.items()}
    uncached = rate(False, max(8, tokens // 4))
    blas = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads")}
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return {"load_s": load_s, "forward_13_ms": 1000 * statistics.median(forward),
            "forward_13_ms_by_blas_threads": by_threads, "cached_tok_s": statistics.median(cached),
            "uncached_tok_s": uncached, "matvec_bound_tok_s_by_blas_threads": bound,
            "cached_fraction_of_bound": statistics.median(fractions), "blas": blas}


def interleaved(gpt, ids, tokens: int) -> tuple[float, dict[int, float]]:
    """Cached generation of ``tokens`` tokens after the prompt ``ids``, with one pass of the bound
    (:func:`bound_pass`) after each token, on 1 and 2 BLAS threads in turn: generation's rate
    (tokens over the time of the tokens alone, the thread chooser's first trials included) and
    the bound's rate on each thread count (the median pass)."""
    import numpy as np

    from engine.runtime.blas import blas_threads

    one_pass = bound_pass(gpt)
    stream = gpt.stream(ids[0], tokens + 1, rng=np.random.default_rng(1), cache=True)
    next(stream)  # the prompt's pass and the first token: the forward figure's work
    token_s, bound_s = [], {1: [], 2: []}
    for i in range(tokens):
        t0 = time.perf_counter()
        next(stream)
        token_s.append(time.perf_counter() - t0)
        n = 1 + i % 2
        with blas_threads(n):
            t0 = time.perf_counter()
            one_pass()
            bound_s[n].append(time.perf_counter() - t0)
    return tokens / sum(token_s), {n: 1 / statistics.median(b) for n, b in bound_s.items()}


def bound_pass(gpt):
    """One row through every 2-D weight of the blocks and the tied head, nothing else: what a
    generated token must read from memory at the least (a function to call)."""
    import numpy as np

    weights = [w for name, w in gpt.params.items() if w.ndim == 2 and name not in ("wte", "wpe")]
    wte = gpt.params["wte"]
    rows = {w.shape[0]: np.ones((1, w.shape[0]), dtype=w.dtype) for w in weights}

    def one_pass():
        for w in weights:
            rows[w.shape[0]] @ w  # (1, in) @ (in, out)
        wte @ rows[wte.shape[1]][0]  # (V, C) @ (C,): the head, as generation reads it

    return one_pass


def torch_child(model: str, tokens: int, rounds: int) -> dict:
    """In the child: time transformers (PyTorch eager) alone on the same folder."""
    import torch
    from transformers import GPT2LMHeadModel

    from engine.hf.hub import model_folder

    torch.set_grad_enabled(False)
    start = time.perf_counter()
    hf = GPT2LMHeadModel.from_pretrained(model_folder(model)).eval()
    load_s = time.perf_counter() - start
    ids = torch.randint(0, hf.config.vocab_size, (1, PROMPT_T), generator=torch.Generator().manual_seed(0))
    hf(ids)
    forward = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        hf(ids)
        forward.append(time.perf_counter() - t0)

    def rate() -> float:
        out = hf(ids, use_cache=True)
        cache, nxt = out.cache, out.logits[:, -1:].argmax(-1)
        t0 = time.perf_counter()
        for _ in range(tokens):
            out = hf(nxt, cache=cache, use_cache=True)
            cache, nxt = out.cache, out.logits[:, -1:].argmax(-1)
        return tokens / (time.perf_counter() - t0)

    cached = [rate() for _ in range(max(1, rounds // 2))]
    return {"load_s": load_s, "forward_13_ms": 1000 * statistics.median(forward),
            "cached_tok_s": statistics.median(cached), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


def sample_rss_child(model: str, tokens: int, rounds: int) -> dict:
    """In the child: run ``kqv sample --model`` in this process and report its peak RSS."""
    import contextlib
    import io

    from kqv_cli.last_resort import main as run  # the installed kqv command

    sys.argv = ["kqv", "sample", "--model", model, "--prompt", "The pizza", "--tokens", str(tokens),
                "--seed", "0"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        run()
    return {"peak_rss_mb": peak_rss_mb()}


SPIN = "while True: pass"  # the other job: one process keeping one core busy


def spinner() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SPIN])


def busy_child(model: str, tokens: int, rounds: int) -> dict:
    """In the child: kqv with a second process spinning on one core (``--busy``).

    1. One-off forward passes with the spinner running, 13 and 128 tokens: on 1 BLAS thread, on
       2, and through ``forward_on_faster_threads`` (its probe included), which the prompt's
       pass, ``kqv trace --model`` and the GPT-2 lesson step use.
    2. Generation that starts before the spinner and goes on after it starts: the time of each
       token, the thread count the steps' chooser held before and after, and how often it
       timed both counts again because its steps turned slow.
    """
    import numpy as np

    from engine.hf.hub import load_pretrained
    from engine.runtime.blas import FasterThreads, blas_threads

    gpt, _, _ = load_pretrained(model)
    rng = np.random.default_rng(0)
    out: dict = {"rounds": rounds}

    def ms(fn) -> float:
        fn()  # warm-up
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * statistics.median(times)

    spin = spinner()
    try:
        for T in (PROMPT_T, 128):
            ids = rng.integers(0, gpt.config.vocab_size, size=(1, T))
            figures = {}
            for n in (1, 2):
                with blas_threads(n):
                    figures[f"{n}_thread_ms"] = ms(lambda ids=ids: gpt.forward(ids, last_only=True))
            figures["chooser_ms"] = ms(lambda ids=ids: gpt.forward_on_faster_threads(ids, last_only=True))
            out[f"forward_{T}_busy"] = figures
    finally:
        spin.kill()
        spin.wait()

    def token_times() -> dict:
        """Per-token ms of cached generation; the spinner starts after the first third. Every
        FasterThreads made meanwhile is kept, to report what it chose and how often it re-timed."""
        ids = rng.integers(0, gpt.config.vocab_size, size=PROMPT_T)
        made, init = [], FasterThreads.__init__

        def keep(chooser, *a, **k):
            init(chooser, *a, **k)
            made.append(chooser)

        FasterThreads.__init__ = keep
        times, spin = [], None
        try:
            stream = gpt.stream(ids, tokens, rng=np.random.default_rng(1))
            t0 = time.perf_counter()
            for i, _ in enumerate(stream):
                now = time.perf_counter()
                times.append(1000 * (now - t0))
                if i == tokens // 3:
                    spin = spinner()
                    first = made[-1].chosen  # the steps' choice before the spinner
                t0 = time.perf_counter()
        finally:
            FasterThreads.__init__ = init
            if spin is not None:
                spin.kill()
                spin.wait()
        third = tokens // 3
        steps = made[-1]  # the per-token chooser (the prompt's pass has its own, made first)
        return {"before_spinner_ms": statistics.median(times[1:third]),
                "last_third_with_spinner_ms": statistics.median(times[-third:]),
                "tok_s_with_spinner": 1000 * third / sum(times[-third:]),
                "threads_before_spinner": first or "all", "threads_at_end": steps.chosen or "all",
                "retimed": steps.retimed}

    out["generation"] = token_times()
    return out


CHILDREN = {"kqv": kqv_child, "torch": torch_child, "rss": sample_rss_child, "busy": busy_child}


def in_child(kind: str, args, forced_env: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name, value in FORCED_HASWELL.items():
        if forced_env:
            env.setdefault(name, value)
        else:
            env.pop(name, None)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--model", args.model,
           "--tokens", str(args.tokens), "--rounds", str(args.rounds)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(result: dict, pairs: list[dict]) -> dict:
    """The issue's figures, each the median over the runs of a contender (and over pairs for
    the ratios): what a reader compares with the targets."""
    def med(runs: list[dict], key) -> float | None:
        values = [key(r) for r in runs if "error" not in r]
        return statistics.median(values) if values else None

    out = {}
    for label in ("kqv_forced_haswell", "kqv_env_removed"):
        runs = result.get(label, [])
        if not runs:
            continue
        out[label] = {
            "kernel": ", ".join(sorted({b["architecture"] or "?" for r in runs for b in r.get("blas", [])})),
            "forward_13_ms": med(runs, lambda r: r["forward_13_ms"]),
            "forward_13_ms_best_threads": med(runs, lambda r: min(r["forward_13_ms"],
                                                              *r["forward_13_ms_by_blas_threads"].values())),
            "cached_tok_s": med(runs, lambda r: r["cached_tok_s"]),
            "uncached_tok_s": med(runs, lambda r: r["uncached_tok_s"]),
            "matvec_bound_tok_s": med(runs, lambda r: max(r["matvec_bound_tok_s_by_blas_threads"].values())),
            "cached_fraction_of_bound": med(runs, lambda r: r["cached_fraction_of_bound"]),
            "load_s": med(runs, lambda r: r["load_s"]),
        }
        if pairs:
            out[label]["cached_vs_transformers"] = statistics.median(p[label] for p in pairs if label in p)
    hf = [r for r in result.get("transformers", []) if isinstance(r, dict)]
    if hf:
        out["transformers"] = {"forward_13_ms": med(hf, lambda r: r["forward_13_ms"]),
                               "cached_tok_s": med(hf, lambda r: r["cached_tok_s"])}
    out["kqv_sample"] = {"peak_rss_mb": result["kqv_sample_rss"].get("peak_rss_mb")}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2", help="a GPT-2 name or folder (default: gpt2)")
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated with the cache")
    parser.add_argument("--rounds", type=int, default=5, help="repeats; medians are reported")
    parser.add_argument("--pairs", type=int, default=2, help="kqv/transformers runs, alternating")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--busy", action="store_true", help="only the busy-machine figures: kqv with a "
                        "second process spinning on one core (see busy_child)")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.model, args.tokens, args.rounds)))
        return 0
    say = (lambda *a: None) if args.json else print
    if args.busy:
        load = os.getloadavg()
        result = {"model": args.model, "tokens": args.tokens, "rounds": args.rounds,
                  "load_average_before": load, "busy": in_child("busy", args, True)}
        say(f"load average before (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f} on "
            f"{os.cpu_count()} cores; a spinning process added on top")
        for key, figures in result["busy"].items():
            say(f"{key}: {figures}")
        if args.json:
            print(json.dumps(result))
        return 0
    forced = {name: os.environ.get(name, value) for name, value in FORCED_HASWELL.items()}
    result = {"model": args.model, "forced_env": forced, "tokens": args.tokens, "rounds": args.rounds,
              "note": "2-core machine shared with other work while measured",
              "load_average_before": os.getloadavg()}
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
        result["transformers"] = {"skipped": "pip install torch==2.13.0 transformers"}
    # kqv and transformers alternate, each in a fresh process, so the machine's load (shared
    # today) weighs on both alike; the ratio of each pair is what is compared
    pairs = []
    for i in range(args.pairs):
        for label, as_set in (("kqv_forced_haswell", True), ("kqv_env_removed", False)):
            run = in_child("kqv", args, as_set)
            result.setdefault(label, []).append(run)
            say(f"{label} #{i + 1}: {run}")
        if have_torch:
            run = in_child("torch", args, True)  # MKL: OpenBLAS's variables do not touch it
            result.setdefault("transformers", []).append(run)
            say(f"transformers #{i + 1}: {run}")
            pairs.append({label: result[label][-1].get("cached_tok_s", 0) / run["cached_tok_s"]
                          for label in ("kqv_forced_haswell", "kqv_env_removed")
                          if run.get("cached_tok_s")})
    if pairs:
        result["cached_rate_vs_transformers"] = pairs
        for label in pairs[0]:
            ratios = [p[label] for p in pairs]
            say(f"{label}: cached generation {statistics.median(ratios):.2f}× transformers' rate "
                f"(median of {len(ratios)} pairs: {', '.join(f'{r:.2f}' for r in ratios)})")
    result["kqv_sample_rss"] = in_child("rss", args, True)
    say(f"kqv sample --model {args.model}: {result['kqv_sample_rss']}")
    result["load_average_after"] = os.getloadavg()
    say(f"load average (1 min) {result['load_average_before'][0]:.1f} before, "
        f"{result['load_average_after'][0]:.1f} after, on {os.cpu_count()} cores")
    result["summary"] = summary(result, pairs)
    for label, figures in result["summary"].items():
        say(f"{label}: " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                                     for k, v in figures.items()))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
