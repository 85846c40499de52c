"""PyTorch trained with kqv's recipe: is kqv's translation BLEU within 1 of ``nn.Transformer``'s?

``kqv train translate`` reports a test BLEU; this script trains PyTorch's ``nn.Transformer`` of
the same shape the same way and scores it the same way, so the two numbers can stand side by
side. What is shared, not copied:

* the data: kqv's split of the pairs by source sentence, its BPE vocabulary (learnt from the
  training split) and its batch iterator. A :class:`engine.translation.train.TranslateTrainer`
  is built with the run's settings and asked for batch k exactly as kqv's loop asks for it, so
  both sides see the same pairs in the same order, padded the same way;
* the initial weights: that trainer's kqv model (seeded by ``--seed``) is copied into torch
  (``copy_weights`` of ``torch_transformer.py``, which checks the two models agree to 1e-10);
* the recipe: kqv's label-smoothed loss (ε over the V − 2 tokens that are neither the target
  nor padding, padding rows left out), gradient clipping at norm 1, Adam (β₂ = 0.98,
  ε = 1e-9, no weight decay), the warm-up schedule ``lr · C^-0.5 · min(k^-0.5, k · w^-1.5)``,
  the same number of steps;
* the scoring: greedy decoding (padding never chosen, at most ``max_new_tokens`` pieces, the
  sources in batches of 64 sorted by length, as :func:`engine.translation.evaluate.translate_ids`
  does) of the same test split, scored by :func:`engine.translation.evaluate.corpus_bleu`
  (sacrebleu, every reference).

What cannot be shared: dropout's random masks (each side draws its own, at the same places:
the embedding sum, the attention weights and each sub-layer's output; ``nn.Transformer``'s
extra drop inside the feed-forward is taken out) and float32 rounding order. So
the two BLEUs differ by the noise of one seed as well as by any difference in the engines.

kqv's side is its default run with the same seed and step count, in its own process (the
repo's ``.venv`` python, ``--kqv-python``), or read from ``--kqv-json`` (the output of
``kqv train translate --json``). When ``--minutes`` stops torch early, kqv runs the same number
of steps: both sides at the same steps is what the comparison means.

Usage (the benchmark venv has torch)::

    /work/bench-venv/bin/python benchmarks/torch_translate_train.py [--iters 1600] [--minutes M]
        [--curve 2,4,6] [--threads 1] [--seed 1337] [--kqv-json FILE | --kqv-python PY] [--json]

Minutes and ms per step are from a machine that may be shared: quote the load with them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from engine.data.bpe import PAD_ID, pad_batch  # noqa: E402
from engine.data.pairs import load_pairs  # noqa: E402
from engine.optim import noam_lr  # noqa: E402
from engine.translation.evaluate import corpus_bleu, encode_sources, max_new_tokens  # noqa: E402
from engine.translation.train import TranslateTrainConfig  # noqa: E402

PAIRS = REPO.parent / "shared" / "data" / "eng-fra" / "eng-fra.txt"
# kqv train translate's defaults (kqv_cli/commands/translate.py): C = 128, 2 + 2 layers, 4 heads
SIZES = {"n_embd": 128, "n_head": 4, "n_layer": 2, "n_dec_layer": 2, "d_ff": 512, "dropout": 0.1,
         "norm": "post", "activation": "relu"}


def fail(message: str) -> None:
    print(f"torch_translate_train: {message}", file=sys.stderr)
    sys.exit(2)


# -- the torch side ------------------------------------------------------------------------------


def build_torch(trainer):
    """``nn.Transformer`` holding the trainer's initial kqv weights, float32, embedding dropout added."""
    import torch
    import torch.nn.functional as F
    from torch_transformer import TorchTranslator, copy_weights

    class Translator(TorchTranslator):
        """kqv drops out the sum of embedding and position on both sides (the paper's place);
        ``nn.Transformer`` starts after it, so the drop is added here."""

        def embed(self, ids):
            x = self.wte[ids] * self.scale + self.pe[: ids.shape[1]]
            return F.dropout(x, self.cfg.dropout, self.training)

        def forward(self, src, tgt):
            return self.logits(self.decode(tgt, *self.encode(src)))

        def encode(self, src):
            pad = src == self.cfg.pad_id
            return self.core.encoder(self.embed(src), src_key_padding_mask=pad), pad

        def decode(self, tgt, memory, pad):
            T = tgt.shape[1]
            causal = torch.nn.Transformer.generate_square_subsequent_mask(T, dtype=self.wte.dtype)
            return self.core.decoder(self.embed(tgt), memory, tgt_mask=causal, tgt_is_causal=True,
                                     memory_key_padding_mask=pad)

        def logits(self, h):
            out = h @ self.wte.T
            return out if self.bias is None else out + self.bias

    theirs = Translator(trainer.config, trainer.model.embed.pe, torch.float32)
    theirs.core.encoder.use_nested_tensor = False  # padded rows in evaluation too, as kqv computes them
    # nn.Transformer also drops the feed-forward's hidden units (after the ReLU); kqv's MLP drops
    # only its output, as the paper says: that extra drop is taken out, so both drop the same places
    for layer in [*theirs.core.encoder.layers, *theirs.core.decoder.layers]:
        layer.dropout = torch.nn.Identity()
    copy_weights(trainer.model, theirs)
    return theirs


def torch_val_loss(theirs, ids, batch_size: int = 128) -> float:
    """Cross-entropy per target piece over a split, no smoothing: kqv's ``val_loss``."""
    import torch
    import torch.nn.functional as F

    order = np.argsort([len(t) for t in ids.tgt], kind="stable")
    total, count = 0.0, 0
    theirs.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            src, tgt_in, tgt_out = ids.batch(order[start:start + batch_size])
            logits = theirs(torch.from_numpy(src), torch.from_numpy(tgt_in))
            t = torch.from_numpy(tgt_out).reshape(-1)
            logits = logits.reshape(len(t), -1)
            total += float(F.cross_entropy(logits, t, ignore_index=PAD_ID, reduction="sum"))
            count += int((t != PAD_ID).sum())
    return total / max(count, 1)


def torch_greedy(theirs, vocab, texts: list[str], batch_size: int = 64) -> list[str]:
    """kqv's greedy rules in torch: sources sorted by length in batches, padding banned, stop at </s>."""
    import torch

    cfg = theirs.cfg
    ids, _ = encode_sources(vocab, texts, cfg.max_len, truncate=True)
    order = np.argsort([len(s) for s in ids], kind="stable")
    out: list[str | None] = [None] * len(ids)
    theirs.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            src = torch.from_numpy(pad_batch([ids[i] for i in idx], cfg.pad_id))
            memory, pad = theirs.encode(src)
            B = src.shape[0]
            tokens = torch.full((B, 1), cfg.bos_id, dtype=torch.int64)
            done = torch.zeros(B, dtype=torch.bool)
            hyps: list[list[int]] = [[] for _ in range(B)]
            for _ in range(max_new_tokens(src.shape[1], cfg.max_len)):
                logits = theirs.logits(theirs.decode(tokens, memory, pad)[:, -1])  # (B, V)
                logits[:, cfg.pad_id] = -math.inf
                nxt = logits.argmax(dim=1)
                for b in torch.nonzero(~done).flatten().tolist():
                    if int(nxt[b]) == cfg.eos_id:
                        done[b] = True
                    else:
                        hyps[b].append(int(nxt[b]))
                if bool(done.all()):
                    break
                nxt[done] = cfg.pad_id
                tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            for i, h in zip(idx, hyps, strict=True):
                out[i] = vocab.decode(h)
    return out  # type: ignore[return-value]


def train_torch(splits, args) -> dict:
    import torch
    from threadpoolctl import threadpool_limits
    from torch_transformer import torch_smoothed_loss

    from engine.translation.train import TranslateTrainer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tc = TranslateTrainConfig(max_iters=args.iters, seed=args.seed, bleu_sentences=0)
    t0 = time.perf_counter()
    trainer = TranslateTrainer(splits, SIZES, tc)  # kqv's vocabulary, ids, batches and initial weights
    setup = time.perf_counter() - t0
    theirs = build_torch(trainer)
    params = [p for p in theirs.parameters()]
    opt = torch.optim.Adam(params, lr=0.0, betas=(0.9, 0.98), eps=1e-9)
    C, seconds, losses = trainer.config.n_embd, 0.0, []
    groups = splits.test[: args.bleu_sentences]
    curve, marks = [], sorted(args.curve or [])
    with threadpool_limits(args.threads, user_api="blas"):
        theirs.train()
        while trainer.iter < tc.max_iters and (args.minutes is None or seconds < args.minutes * 60):
            t = time.perf_counter()
            src, tgt_in, tgt_out = trainer.train_ids.batch(trainer.next_batch())  # kqv's batch k
            loss = torch_smoothed_loss(theirs(torch.from_numpy(src), torch.from_numpy(tgt_in)),
                                       torch.from_numpy(tgt_out), PAD_ID, tc.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
            for group in opt.param_groups:
                group["lr"] = noam_lr(trainer.iter + 1, C, tc.warmup_iters, tc.lr)
            opt.step()
            trainer.iter += 1
            seconds += time.perf_counter() - t
            losses.append(float(loss.detach()))
            if not math.isfinite(losses[-1]):
                fail(f"torch's loss became {losses[-1]} at step {trainer.iter}")
            if marks and seconds >= marks[0] * 60:  # a point of the curve; evaluation time not counted
                marks.pop(0)
                hyps = torch_greedy(theirs, trainer.vocab, [s for s, _ in groups])
                curve.append({"minutes": round(seconds / 60, 2), "iters": trainer.iter,
                              "val_loss": round(torch_val_loss(theirs, trainer.val_ids), 4),
                              "greedy": corpus_bleu(hyps, [r for _, r in groups])})
                theirs.train()
                if not args.json:
                    print(f"  torch curve: {curve[-1]}", flush=True)
            if not args.json and trainer.iter % 200 == 0:
                print(f"  torch step {trainer.iter}: loss {np.mean(losses[-200:]):.3f}, "
                      f"{1000 * seconds / trainer.iter:.0f} ms/step", flush=True)
        val = torch_val_loss(theirs, trainer.val_ids)
        t = time.perf_counter()
        hyps = torch_greedy(theirs, trainer.vocab, [s for s, _ in groups])
        greedy_seconds = time.perf_counter() - t
    return {"iters": trainer.iter, "params": sum(p.numel() for p in params),
            "setup_seconds": round(setup, 1), "train_seconds": round(seconds, 1),
            "ms_per_iter": round(1000 * seconds / max(trainer.iter, 1), 1),
            "train_loss": round(float(np.mean(losses[-200:])), 4), "val_loss": round(val, 4),
            "bleu": {"greedy": corpus_bleu(hyps, [r for _, r in groups]), "sentences": len(groups),
                     "greedy_seconds": round(greedy_seconds, 1)},
            "curve": curve,
            "examples": [{"source": s, "translation": h}
                         for (s, _), h in zip(groups[:5], hyps, strict=False)]}


# -- the kqv side --------------------------------------------------------------------------------


def kqv_run(args, iters: int) -> dict:
    """kqv's default run, same seed, pairs, threads and steps, in its own process."""
    if args.kqv_json is not None:
        try:
            return json.loads(args.kqv_json.read_text())
        except (OSError, ValueError) as exc:
            fail(f"cannot read kqv's figures from {args.kqv_json}: {exc}")
    out = Path(os.environ.get("TMPDIR", "/tmp")) / f"kqv-torch-compare-{os.getpid()}.npz"
    cmd = [str(args.kqv_python), "-m", "kqv_cli", "train", "translate", "--pairs", str(args.pairs),
           "--seed", str(args.seed), "--max-iters", str(iters), "--threads", str(args.threads),
           "--bleu-sentences", str(args.bleu_sentences), "--out", str(out), "--force", "--json"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    out.unlink(missing_ok=True)
    if done.returncode != 0:
        fail(f"kqv's run failed ({' '.join(cmd)}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--iters", type=int, default=1600, help="training steps (kqv's default 1600)")
    parser.add_argument("--minutes", type=float, default=None, help="stop torch's training after this many "
                        "minutes; kqv then runs as many steps as torch did")
    parser.add_argument("--curve", type=lambda s: [float(x) for x in s.split(",")], default=None,
                        help="minutes of torch's training at which to also score greedy BLEU (the BLEU-"
                        "against-minutes curve; kqv's is benchmarks/translate_train.py --configs 128x2)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--bleu-sentences", type=int, default=1000)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument("--kqv-json", type=Path, default=None, help="kqv's figures: `kqv train translate "
                        "--json` output of the same seed and steps, instead of running it")
    parser.add_argument("--kqv-python", type=Path, default=REPO / ".venv" / "bin" / "python",
                        help="the python with kqv installed, to run kqv's side")
    args = parser.parse_args()
    if args.iters <= 0 or args.threads <= 0 or args.bleu_sentences <= 0:
        fail("--iters, --threads and --bleu-sentences must be positive whole numbers")
    if args.minutes is not None and not args.minutes > 0:
        fail(f"--minutes must be a positive number, got {args.minutes}")
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("PyTorch is not installed here: run this with the benchmark venv (/work/bench-venv/bin/python)")
    if not args.pairs.is_file():
        fail(f"no pairs file at {args.pairs}")
    if args.kqv_json is None and not args.kqv_python.is_file():
        fail(f"no python at {args.kqv_python} to run kqv's side: give --kqv-python or --kqv-json")
    load = os.getloadavg()
    splits = load_pairs(args.pairs)
    theirs = train_torch(splits, args)
    if not args.json:  # shown before kqv's side runs, which takes as long again
        print(f"torch: {json.dumps(theirs)}", flush=True)
    ours = kqv_run(args, theirs["iters"])
    report = {"pairs": str(args.pairs), "seed": args.seed, "threads": args.threads, "sizes": SIZES,
              "load_average_at_start": load[0], "load_average_at_end": os.getloadavg()[0],
              "cpus": os.cpu_count(), "torch": theirs,
              "kqv": {k: ours.get(k) for k in ("iters", "params", "train_seconds", "ms_per_iter",
                                               "train_loss", "val_loss", "bleu")}}
    if ours.get("iters") != theirs["iters"]:
        report["warning"] = f"kqv ran {ours.get('iters')} steps, torch {theirs['iters']}: not the same steps"
    if args.json:
        print(json.dumps(report))
        return
    print(f"load average {load[0]:.1f} at start, {report['load_average_at_end']:.1f} at end, on "
          f"{report['cpus']} cores (a shared machine: times are rough); {args.threads} thread(s), "
          f"seed {args.seed}")
    for name, r in (("kqv", report["kqv"]), ("torch", theirs)):
        bleu = r.get("bleu") or {}
        beam = f", beam 4 {bleu['beam4']:.1f}" if "beam4" in bleu else ""
        print(f"{name:>6}: {r['iters']} steps, {r['params']:,} parameters, {r['ms_per_iter']:.0f} ms/step, "
              f"train loss {r['train_loss']:.3f}, val loss {r['val_loss']:.3f}; "
              f"BLEU greedy {bleu.get('greedy', float('nan')):.1f}{beam}")
    for p in theirs["curve"]:
        print(f"        torch at {p['minutes']:5.2f} min  {p['iters']:5d} steps  val {p['val_loss']:.3f}  "
              f"greedy {p['greedy']:.1f}")
    gap = (report["kqv"]["bleu"] or {}).get("greedy", math.nan) - theirs["bleu"]["greedy"]
    print(f"greedy BLEU kqv − torch: {gap:+.1f} (goal: within 1; one seed each, dropout masks differ)")
    if "warning" in report:
        print(report["warning"])


if __name__ == "__main__":
    main()
