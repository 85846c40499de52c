"""BLEU against minutes of training: which translation model a learner should train by default.

Trains the encoder–decoder of ``kqv train translate`` on the shared English–French pairs for a
wall-clock budget and, at each point of ``--curve`` (minutes of training, evaluation excluded),
translates the test split (1,000 English sentences, every French reference) greedily and
scores it with sacrebleu; at the end also with beam search. Several model sizes (``--configs``)
run one after the other, each in this process, so their figures come from the same machine
state as far as a shared machine allows: say how busy it was when quoting them.

Prints a table (or with ``--json`` one object): per configuration, the parameters, ms per
iteration, iterations done, and ``curve``: ``[{minutes, iters, val_loss, greedy}]``, then the
final greedy and beam-4 BLEU and the seconds each translation of the test split took.

Usage: ``python benchmarks/translate_train.py [--json] [--minutes 9] [--curve 2,4,6,9]
[--configs "128x2,256x3"] [--batch-size 64] [--vocab-size 8000] [--warmup 400] [--lr 1.0]
[--dropout 0.1]``.
A configuration is ``CxL`` (width C, L encoder and L decoder layers, 4 heads, d_ff = 4C).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.data.pairs import load_pairs  # noqa: E402
from engine.translation.evaluate import corpus_bleu, translate_texts  # noqa: E402
from engine.translation.train import TranslateTrainConfig, TranslateTrainer  # noqa: E402

PAIRS = REPO.parent / "shared" / "data" / "eng-fra" / "eng-fra.txt"


def bleu_of(trainer, groups, beam: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    hyps = translate_texts(trainer.model, trainer.vocab, [s for s, _ in groups], beam=beam)
    return corpus_bleu(hyps, [r for _, r in groups]), time.perf_counter() - t0


def run_config(splits, spec: str, args) -> dict:
    C, L = (int(x) for x in spec.lower().split("x"))
    sizes = {"n_embd": C, "n_head": 4, "n_layer": L, "n_dec_layer": L, "d_ff": 4 * C, "dropout": args.dropout}
    tc = TranslateTrainConfig(batch_size=args.batch_size, max_iters=10**9, lr=args.lr,
                              warmup_iters=args.warmup, vocab_size=args.vocab_size, bleu_sentences=0)
    t0 = time.perf_counter()
    trainer = TranslateTrainer(splits, sizes, tc)
    setup = time.perf_counter() - t0
    curve, marks = [], sorted(args.curve)
    test = splits.test
    import numpy as np

    from engine.runtime.blas import blas_threads

    with blas_threads(1), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        while marks:
            t = time.perf_counter()
            trainer.step()
            trainer.train_seconds += time.perf_counter() - t
            if trainer.train_seconds >= marks[0] * 60:
                marks.pop(0)
                greedy, seconds = bleu_of(trainer, test, 1)
                point = {"minutes": round(trainer.train_seconds / 60, 2), "iters": trainer.iter,
                         "val_loss": round(trainer.val_loss(), 4), "greedy": greedy,
                         "greedy_seconds": round(seconds, 1)}
                curve.append(point)
                if not args.json:
                    print(f"  {spec}: {point}", flush=True)
        beam, beam_seconds = bleu_of(trainer, test, 4)
    return {"config": spec, "params": trainer.model.num_params, "setup_seconds": round(setup, 1),
            "ms_per_iter": round(1000 * trainer.train_seconds / trainer.iter, 1), "iters": trainer.iter,
            "curve": curve, "greedy": curve[-1]["greedy"], "beam4": beam,
            "beam4_seconds": round(beam_seconds, 1), "test_sentences": len(test)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--configs", default="128x2,256x3", help="CxL,... (width x layers per side)")
    parser.add_argument("--curve", type=lambda s: [float(x) for x in s.split(",")], default=[2, 4, 6, 9],
                        help="minutes of training at which to measure BLEU; the last ends the run")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    args = parser.parse_args()
    if not args.pairs.is_file():
        sys.exit(f"no pairs file at {args.pairs}")
    splits = load_pairs(args.pairs)
    load = os.getloadavg()[0]
    results = [run_config(splits, spec, args) for spec in args.configs.split(",")]
    report = {"pairs": str(args.pairs), "load_average_at_start": load, "batch_size": args.batch_size,
              "vocab_size": args.vocab_size, "warmup": args.warmup, "lr": args.lr, "dropout": args.dropout,
              "results": results}
    if args.json:
        print(json.dumps(report))
        return
    print(f"load average at start {load:.1f} on {os.cpu_count()} cores; B={args.batch_size}, "
          f"V={args.vocab_size}, warm-up {args.warmup}")
    for r in results:
        print(f"{r['config']:>8}: {r['params']:,} parameters, {r['ms_per_iter']:.0f} ms/iter, "
              f"{r['iters']} iters; BLEU greedy {r['greedy']:.1f}, beam 4 {r['beam4']:.1f} "
              f"({r['beam4_seconds']:.0f} s to translate)")
        for p in r["curve"]:
            print(f"          {p['minutes']:5.1f} min  {p['iters']:5d} iters  val {p['val_loss']:.3f}  "
                  f"greedy {p['greedy']:.1f}")


if __name__ == "__main__":
    main()
