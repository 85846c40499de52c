"""kqv's encoder–decoder Transformer held against PyTorch's ``nn.Transformer``: same numbers, and speed.

Two parts (run with the benchmark venv, which has torch: ``/work/bench-venv/bin/python``):

* ``check`` (float64): kqv's weights copied into ``torch.nn.Transformer`` (plus the shared
  embedding ×√C, the sinusoidal positions and the tied output layer around it, written here),
  one padded batch through both, the label-smoothed loss (kqv's convention, written out in
  torch) backward through both. Printed: the largest relative difference of the logits and of
  every parameter's gradient (max |kqv − torch| / max |torch|, tensor by tensor), post-LN and
  pre-LN; goal ≤ 1e-10. PyTorch's post-LN model has a LayerNorm after each stack that the
  paper's has not: it is switched off (``encoder.norm = decoder.norm = None``) for post-LN and
  kept as kqv's ``enc.ln_f``/``dec.ln_f`` for pre-LN.
* ``speed`` (float32): one training step (forward, loss, backward, Adam with the paper's
  β₂ = 0.98 and ε = 1e-9) of the default model (C = 256, 3 + 3 layers, 4 heads, d_ff = 1024,
  V = 8000, dropout 0.1) on batches shaped like training's (64 pairs; the shared eng-fra pairs
  average 4.6 English and 5.1 French words, so about 10 source and 11 target BPE tokens once
  padded to the longest of a length-sorted batch), kqv against PyTorch eager
  ``nn.Transformer`` of the same shape. Each side runs alone in a fresh process of its own,
  alternating round by round, at 1 and 2 threads; the BLAS kernel threadpoolctl sees is
  reported. Goal: ratio kqv / torch ≤ 1.0. At 2 threads kqv is timed twice: one batch with a
  2-thread BLAS, and the batch's two halves side by side in two threads with one BLAS thread
  each (:class:`engine.translation.halves.HalfBatches`, which also spreads the elementwise
  work over both cores).

Usage::

    /work/bench-venv/bin/python benchmarks/torch_transformer.py [check|speed|all] [--json]
        [--rounds 5] [--iters 20] [--threads 1,2] [--envs "as set"]

The machine may be shared: compare figures from one invocation, never across runs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from children import blas_kernel, environments, fmt, kernel_vars, peak_rss_mb, run_child, spread  # noqa: E402

from engine.translation.model import Transformer, TransformerConfig  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # the script says so and stops
    torch = None

PAD, BOS, EOS = 0, 1, 2
warnings.filterwarnings("ignore", message="enable_nested_tensor is True")


# -- the PyTorch model around nn.Transformer -----------------------------------------------------


def torch_activation(name):
    # kqv's GELU is the tanh form (GPT-2's); torch's "gelu" string is the erf form
    return {"relu": F.relu, "gelu": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu}[name]


class TorchTranslator(nn.Module if torch is not None else object):
    """``nn.Transformer`` with kqv's embedding (one table, ×√C, sinusoidal positions) and tied head."""

    def __init__(self, cfg: TransformerConfig, pe: np.ndarray, dtype):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Parameter(torch.empty(cfg.vocab_size, cfg.n_embd, dtype=dtype))
        self.register_buffer("pe", torch.from_numpy(pe.astype(np.float64)).to(dtype))
        self.core = nn.Transformer(d_model=cfg.n_embd, nhead=cfg.n_head, num_encoder_layers=cfg.n_layer,
                                   num_decoder_layers=cfg.n_dec_layer, dim_feedforward=cfg.d_ff,
                                   dropout=cfg.dropout, activation=torch_activation(cfg.activation),
                                   layer_norm_eps=cfg.ln_eps, batch_first=True, norm_first=cfg.norm == "pre",
                                   dtype=dtype)
        self.core.encoder.enable_nested_tensor = False  # keep padded rows: the same arithmetic as kqv
        if cfg.norm == "post":  # the paper has no LayerNorm after the stacks; nn.Transformer always adds one
            self.core.encoder.norm = None
            self.core.decoder.norm = None
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size, dtype=dtype)) if cfg.final_logits_bias else None
        self.scale = math.sqrt(cfg.n_embd) if cfg.scale_embedding else 1.0

    def forward(self, src, tgt):
        S, T = src.shape[1], tgt.shape[1]
        x = self.wte[src] * self.scale + self.pe[:S]
        y = self.wte[tgt] * self.scale + self.pe[:T]
        causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=self.wte.dtype)
        pad = src == self.cfg.pad_id
        h = self.core(x, y, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad,
                      tgt_is_causal=True)
        logits = h @ self.wte.T
        return logits if self.bias is None else logits + self.bias


def torch_smoothed_loss(logits, targets, pad_id, eps):
    """kqv's label smoothing, written in torch: 1 − ε on the target, ε/(V − 2) on every other
    token but padding, rows whose target is padding left out. Computed without building q:
    −Σ_v q_v log p_v = (1 − ε)·nll + δ·(−Σ_v log p_v − nll + log p_pad), δ = ε/(V − 2)."""
    V = logits.shape[-1]
    logp = F.log_softmax(logits.reshape(-1, V), dim=-1)
    t = targets.reshape(-1)
    nll = -logp.gather(1, t[:, None])[:, 0]
    delta = eps / (V - 2)
    rows = (1.0 - eps) * nll + delta * (-logp.sum(-1) - nll + logp[:, pad_id])
    real = t != pad_id
    return rows[real].mean()


def copy_weights(ours: Transformer, theirs: TorchTranslator) -> dict[str, torch.Tensor]:
    """kqv's parameters into the torch model; returns, for every kqv name, the torch tensor
    that holds it, as ``(tensor, how to read kqv's layout from it)``."""
    p = ours.params
    where = {"wte": (theirs.wte, None)}
    if theirs.bias is not None:
        where["final_logits_bias"] = (theirs.bias, None)

    def linear(name, module_w, module_b, rows=None):
        where[f"{name}.w"] = (module_w, ("T", rows))
        where[f"{name}.b"] = (module_b, ("", rows))

    def norm(name, ln):
        where[f"{name}.w"], where[f"{name}.b"] = (ln.weight, None), (ln.bias, None)

    C = ours.config.n_embd
    for i, layer in enumerate(theirs.core.encoder.layers):
        e = f"enc.h{i}."
        linear(e + "attn.c_attn", layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias)
        linear(e + "attn.c_proj", layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias)
        linear(e + "mlp.c_fc", layer.linear1.weight, layer.linear1.bias)
        linear(e + "mlp.c_proj", layer.linear2.weight, layer.linear2.bias)
        norm(e + "ln_1", layer.norm1)
        norm(e + "ln_2", layer.norm2)
    for i, layer in enumerate(theirs.core.decoder.layers):
        d = f"dec.h{i}."
        linear(d + "attn.c_attn", layer.self_attn.in_proj_weight, layer.self_attn.in_proj_bias)
        linear(d + "attn.c_proj", layer.self_attn.out_proj.weight, layer.self_attn.out_proj.bias)
        cross = layer.multihead_attn  # its in_proj holds q, k, v stacked: kqv's c_q, then c_kv
        linear(d + "cross.c_q", cross.in_proj_weight, cross.in_proj_bias, slice(0, C))
        linear(d + "cross.c_kv", cross.in_proj_weight, cross.in_proj_bias, slice(C, 3 * C))
        linear(d + "cross.c_proj", cross.out_proj.weight, cross.out_proj.bias)
        linear(d + "mlp.c_fc", layer.linear1.weight, layer.linear1.bias)
        linear(d + "mlp.c_proj", layer.linear2.weight, layer.linear2.bias)
        norm(d + "ln_1", layer.norm1)
        norm(d + "ln_2", layer.norm2)
        norm(d + "ln_3", layer.norm3)
    if ours.config.norm == "pre":
        norm("enc.ln_f", theirs.core.encoder.norm)
        norm("dec.ln_f", theirs.core.decoder.norm)
    missing = set(p) - set(where)
    assert not missing, missing
    with torch.no_grad():
        for name, (tensor, how) in where.items():
            value = torch.from_numpy(np.ascontiguousarray(p[name])).to(tensor.dtype)
            if how is not None and how[0] == "T":
                value = value.T  # kqv stores (in, out), torch (out, in)
            rows = None if how is None else how[1]
            (tensor if rows is None else tensor[rows]).copy_(value)
    return where


def read_torch(tensor, how) -> np.ndarray:
    value = tensor.detach() if how is None or how[1] is None else tensor.detach()[how[1]]
    value = value.numpy()
    return value.T if how is not None and how[0] == "T" else value


# -- check: the same numbers -----------------------------------------------------------------------


def padded_batch(rng, B, S, T, V):
    """``B`` pairs of random lengths (the longest S and T), padded at the end as training pads them."""
    src = np.full((B, S), PAD, dtype=np.int64)
    tgt = np.full((B, T + 1), PAD, dtype=np.int64)
    for b in range(B):
        s = S if b == 0 else int(rng.integers(2, S + 1))
        t = T if b == 1 else int(rng.integers(2, T + 1))
        src[b, : s - 1] = rng.integers(3, V, s - 1)
        src[b, s - 1] = EOS
        tgt[b, 0] = BOS
        tgt[b, 1:t] = rng.integers(3, V, t - 1)
        tgt[b, t] = EOS
    return src, tgt[:, :-1], tgt[:, 1:]


def check(norm: str, activation: str, bias: bool) -> dict:
    cfg = TransformerConfig(vocab_size=97, n_embd=32, n_head=4, n_layer=2, n_dec_layer=2, d_ff=64, max_len=32,
                            dropout=0.0, norm=norm, activation=activation, final_logits_bias=bias)
    ours = Transformer(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    for view in ours.params.values():  # away from the initial values: biases, gains, all of it
        view += rng.standard_normal(view.shape) * (0.1 if view.ndim == 2 else 0.3)
    src, tgt_in, tgt_out = padded_batch(rng, 5, 9, 7, cfg.vocab_size)
    logits = ours.forward(src, tgt_in)
    ours.loss(logits, tgt_out, smoothing=0.1)
    ours.backward()

    torch.set_default_dtype(torch.float64)
    theirs = TorchTranslator(cfg, ours.embed.pe, torch.float64)
    where = copy_weights(ours, theirs)
    theirs.train()  # dropout is 0: train mode only keeps PyTorch off its inference fast path
    t_logits = theirs(torch.from_numpy(src), torch.from_numpy(tgt_in))
    torch_smoothed_loss(t_logits, torch.from_numpy(tgt_out), PAD, 0.1).backward()

    def rel(a, b):
        return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))

    grads = {name: rel(ours.grads[name], read_torch(tensor.grad, how))
             for name, (tensor, how) in where.items()}
    worst = max(grads, key=grads.get)
    return {"norm": norm, "activation": activation, "final_logits_bias": bias,
            "logits_rel": rel(logits, t_logits.detach().numpy()), "params": len(grads),
            "worst_grad_rel": grads[worst], "worst_grad": worst}


# -- speed: one training step each, alone in its own process ---------------------------------------


SPEED_CFG = dict(vocab_size=8000, n_embd=256, n_head=4, n_layer=3, n_dec_layer=3, d_ff=1024, max_len=128,
                 dropout=0.1)


def speed_batches(n, B, S, T, V, seed):
    rng = np.random.default_rng(seed)
    return [padded_batch(rng, B, S, T, V) for _ in range(n)]


def child(spec: dict) -> dict:
    """Time ``iters`` training steps of one side at ``threads`` threads after a warm-up."""
    from threadpoolctl import threadpool_limits

    cfg = TransformerConfig(**{**SPEED_CFG, "dropout": spec.get("dropout", SPEED_CFG["dropout"])})
    batches = speed_batches(4, spec["B"], spec["S"], spec["T"], cfg.vocab_size, spec["round"])
    side, threads = spec["side"], spec["threads"]
    if side == "kqv-halves":  # the batch's two halves side by side, one BLAS thread each
        from engine.optim import AdamW
        from engine.translation.halves import HalfBatches

        limiter = threadpool_limits(1, user_api="blas")
        model = Transformer(cfg, seed=0)
        opt = AdamW(model.flat_params, model.flat_grads, model.n_decay, weight_decay=0.0, betas=(0.9, 0.98),
                    eps=1e-9)
        halves = HalfBatches(model, rngs=(np.random.default_rng(0), np.random.default_rng(1)))

        def step(src, tgt_in, tgt_out):
            halves.loss_and_grads(src, tgt_in, tgt_out, 0.1, parallel=threads > 1)
            opt.step(1e-4)
    elif side == "kqv":
        from engine.optim import AdamW

        limiter = threadpool_limits(threads, user_api="blas")
        model = Transformer(cfg, seed=0)
        opt = AdamW(model.flat_params, model.flat_grads, model.n_decay, weight_decay=0.0, betas=(0.9, 0.98),
                    eps=1e-9)
        rng = np.random.default_rng(0)

        def step(src, tgt_in, tgt_out):
            model.loss(model.forward(src, tgt_in, rng=rng), tgt_out, smoothing=0.1)
            model.backward()
            opt.step(1e-4)
    else:
        if torch is None:
            return {"error": "PyTorch is not installed here (pip install torch==2.13.0)"}
        torch.set_num_threads(threads)
        limiter = threadpool_limits(threads, user_api="blas")
        model = Transformer(cfg, seed=0)
        theirs = TorchTranslator(cfg, model.embed.pe, torch.float32)
        copy_weights(model, theirs)
        theirs.train()
        opt = torch.optim.Adam(theirs.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)

        def step(src, tgt_in, tgt_out):
            loss = torch_smoothed_loss(theirs(torch.from_numpy(src), torch.from_numpy(tgt_in)),
                                       torch.from_numpy(tgt_out), PAD, 0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with limiter:
        for i in range(spec["warmup"]):
            step(*batches[i % len(batches)])
        times = []
        for i in range(spec["iters"]):
            t0 = time.perf_counter()
            step(*batches[i % len(batches)])
            times.append(time.perf_counter() - t0)
        kernel = blas_kernel()
    if side == "torch":  # torch brings its own BLAS, linked in where threadpoolctl cannot see it
        kernel = f"torch: MKL {torch.backends.mkl.is_available()}, {torch.backends.cpu.get_cpu_capability()}"
    return {"ms": 1000 * float(np.median(times)), "kernel": kernel, "peak_rss_mb": round(peak_rss_mb(), 1)}


def speed(args) -> dict:
    out = {}
    for env_name, env in environments([e.strip() for e in args.envs.split(",")]).items():
        per_env = {"kernel_vars": kernel_vars(env), "threads": {}}
        for threads in [int(t) for t in args.threads.split(",")]:
            sides = ["kqv", "torch"] + (["kqv-halves"] if threads > 1 else [])
            ms = {side: [] for side in sides}
            kernels = set()
            for r in range(args.rounds):
                for side in sides[r % len(sides):] + sides[: r % len(sides)]:  # a different first each round
                    spec = {"side": side, "threads": threads, "round": r, "iters": args.iters, "warmup": 2,
                            "B": args.batch_size, "S": args.src_len, "T": args.tgt_len,
                            "dropout": args.dropout}
                    res = run_child(__file__, spec, env)
                    if "error" in res:
                        raise SystemExit(f"{side} at {threads} thread(s): {res['error']}")
                    ms[side].append(res["ms"])
                    kernels.add(f"{side}: {res['kernel']}" if side == "kqv" else res["kernel"])
            k, t = spread(ms["kqv"]), spread(ms["torch"])
            per_env["threads"][threads] = {"kqv_ms": k, "torch_ms": t, "kernel": ", ".join(sorted(kernels)),
                                           "ratio": round(k["median"] / t["median"], 3)}
            if "kqv-halves" in ms:
                h = spread(ms["kqv-halves"])
                per_env["threads"][threads].update(kqv_halves_ms=h,
                                                   halves_ratio=round(h["median"] / t["median"], 3))
        out[env_name] = per_env
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", default="all", choices=("check", "speed", "all"))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--rounds", type=int, default=5, help="processes per side and thread count")
    parser.add_argument("--iters", type=int, default=20, help="timed steps per process")
    parser.add_argument("--threads", default="1,2", help="thread counts to time")
    parser.add_argument("--envs", default="as set", help='BLAS environments: "as set", "auto", "haswell"')
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--src-len", type=int, default=10, help="source positions of a padded batch")
    parser.add_argument("--tgt-len", type=int, default=11, help="target positions (the decoder's input)")
    parser.add_argument("--dropout", type=float, default=SPEED_CFG["dropout"],
                        help="dropout of the timed model (nn.Transformer also drops inside the feed-forward)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if torch is None:
        raise SystemExit("PyTorch is not installed: run with /work/bench-venv/bin/python (torch==2.13.0)")
    result = {"torch": torch.__version__, "numpy": np.__version__}
    if args.part in ("check", "all"):
        result["check"] = [check("post", "relu", True), check("pre", "gelu", False),
                           check("pre", "silu", True)]
    if args.part in ("speed", "all"):
        batch = {"B": args.batch_size, "S": args.src_len, "T": args.tgt_len}
        model = {**SPEED_CFG, "dropout": args.dropout}
        result["speed"] = {"model": model, "batch": batch, "envs": speed(args)}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"torch {result['torch']}, numpy {result['numpy']}")
    for c in result.get("check", []):
        print(f"check {c['norm']}-LN {c['activation']}{' +logits bias' if c['final_logits_bias'] else ''}: "
              f"logits max rel diff {c['logits_rel']:.1e}; {c['params']} parameter gradients, worst "
              f"{c['worst_grad_rel']:.1e} ({c['worst_grad']})   goal <= 1e-10")
    if "speed" in result:
        s = result["speed"]
        print(f"step of the default model, B={s['batch']['B']} S={s['batch']['S']} T={s['batch']['T']} "
              f"V={SPEED_CFG['vocab_size']} dropout {s['model']['dropout']} (the machine may be busy):")
        for env_name, per_env in s["envs"].items():
            print(f"  BLAS environment {env_name} ({per_env['kernel_vars']}):")
            for threads, r in per_env["threads"].items():
                print(f"    {threads} thread(s) [{r['kernel']}]: kqv {fmt(r['kqv_ms'], ' ms')}, "
                      f"torch eager {fmt(r['torch_ms'], ' ms')}, ratio {r['ratio']:.2f} (goal <= 1.0)")
                if "kqv_halves_ms" in r:
                    print(f"      kqv, the two halves of each batch side by side (1 BLAS thread each): "
                          f"{fmt(r['kqv_halves_ms'], ' ms')}, ratio {r['halves_ratio']:.2f}")


if __name__ == "__main__":
    main()
