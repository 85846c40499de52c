"""A MarianMT of opus-mt-en-fr's size in kqv: load time, one sentence with beam 4, peak memory.

Targets (issue 20): load < 3 s, one sentence < 1.5 s, peak RSS < 1.5 GB. The real weights
cannot be downloaded here (no network but package registries), so the model is a *random*
MarianMTModel with opus-mt-en-fr's exact config (d_model 512, 6 + 6 layers, 8 heads, ffn 2048,
vocab 59,514, SiLU, × √C, max_length 512, 4 beams), written by transformers' save_pretrained
with the tiny tokenizer files of tests/data/marian-tiny (vocab.json padded to 59,514 pieces):
the sizes, hence the time and memory, are the real model's.

Random weights never end a sentence the way a trained model does, so the translation is held
to ``--new`` tokens (default 16, what opus-mt writes for the pizza sentence in French,
"La pizza est sortie du four." and a margin); a real translation of that length costs the same.

Every measurement is one fresh child process (``--rounds`` of them), as ``kqv translate
--model DIR`` would be: the load (config, tokenizer, 300 MB of safetensors into the flat
buffer), then the sentence (encoder once, cross-attention keys once, decoder steps with the KV
cache, 4 beams), then the child's peak RSS. Wall and CPU time are both reported: on a shared
machine the wall time is mostly waiting for a core (the load average is printed beside them).
``kqv translate --model DIR`` itself is not timed here: with random weights it would write all
511 tokens max_length allows.

Usage::

    /work/bench-venv/bin/python benchmarks/marian_speed.py --make /tmp/opus-mt-en-fr-random
    .venv/bin/python benchmarks/marian_speed.py --folder /tmp/opus-mt-en-fr-random [--json] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from children import REPO, peak_rss_mb  # noqa: E402

SENTENCE = "The pizza came out of the oven."
OPUS_MT_EN_FR = {"vocab_size": 59514, "d_model": 512, "encoder_layers": 6, "decoder_layers": 6,
                 "encoder_attention_heads": 8, "decoder_attention_heads": 8, "encoder_ffn_dim": 2048,
                 "decoder_ffn_dim": 2048, "max_position_embeddings": 512, "activation_function": "swish",
                 "scale_embedding": True, "pad_token_id": 59513, "decoder_start_token_id": 59513,
                 "eos_token_id": 0, "forced_eos_token_id": 0}
TARGETS = {"load_s": 3.0, "sentence_s": 1.5, "peak_rss_mb": 1500.0}


def make(folder: Path) -> None:
    """A random opus-mt-en-fr-sized Marian by transformers, with padded tiny tokenizer files."""
    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    torch.manual_seed(0)
    model = MarianMTModel(MarianConfig(**OPUS_MT_EN_FR)).eval()
    V, pad = OPUS_MT_EN_FR["vocab_size"], OPUS_MT_EN_FR["pad_token_id"]
    model.generation_config = GenerationConfig(num_beams=4, max_length=512, bad_words_ids=[[pad]],
                                               forced_eos_token_id=0, decoder_start_token_id=pad,
                                               pad_token_id=pad, eos_token_id=0)
    model.save_pretrained(folder)
    tiny = REPO / "tests" / "data" / "marian-tiny"
    for name in ("source.spm", "target.spm"):
        shutil.copy(tiny / name, folder / name)
    vocab = json.loads((tiny / "vocab.json").read_text(encoding="utf-8"))
    vocab.pop("<pad>")
    vocab.update({f"<unused{i}>": i for i in range(len(vocab), V - 1)})
    vocab["<pad>"] = pad
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")


def child(folder: str, new: int) -> dict:
    """In the child: load, translate one sentence with 4 beams, report the times and peak RSS."""
    start = time.perf_counter()
    import numpy as np

    from engine.hf.marian import load_pretrained, translate_ids

    imports = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    model, generation, tok, _ = load_pretrained(folder)
    load_s, load_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    src = tok.encode(SENTENCE)[None, :]
    start, cpu = time.perf_counter(), time.process_time()
    with np.errstate(all="ignore"):
        out = translate_ids(model, generation, src, beam=4, max_new=new)[0]
    sentence_s, sentence_cpu_s = time.perf_counter() - start, time.process_time() - cpu
    return {"imports_s": imports, "load_s": load_s, "load_cpu_s": load_cpu_s, "sentence_s": sentence_s,
            "sentence_cpu_s": sentence_cpu_s, "new_tokens": len(out), "source_tokens": int(src.shape[1]),
            "peak_rss_mb": peak_rss_mb(), "load_average": os.getloadavg()[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--make", type=Path, help="write the random model into this folder and stop")
    parser.add_argument("--folder", type=Path, help="the folder --make wrote")
    parser.add_argument("--rounds", type=int, default=3, help="fresh child processes measured")
    parser.add_argument("--new", type=int, default=16, help="tokens each translation is held to")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.make:
        make(args.make)
        print(f"wrote {args.make}")
        return 0
    if args.child:
        print(json.dumps(child(args.child, args.new)))
        return 0
    if args.folder is None:
        parser.error("give --folder (after --make) ")
    say = (lambda *a: None) if args.json else print
    runs = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--child", str(args.folder), "--new", str(args.new)],
                             capture_output=True, text=True, check=True, cwd=REPO)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {k: statistics.median(r[k] for r in runs)
              for k in ("imports_s", "load_s", "load_cpu_s", "sentence_s", "sentence_cpu_s", "peak_rss_mb",
                        "load_average")}
    result.update({"new_tokens": runs[0]["new_tokens"], "source_tokens": runs[0]["source_tokens"],
                   "rounds": args.rounds, "targets": TARGETS,
                   "runs": runs,
                   "note": "median of fresh processes on a shared, busy 2-core machine"})
    result["ok"] = all(result[k] < v for k, v in TARGETS.items())
    say(f"random opus-mt-en-fr-sized Marian in {args.folder} (median of {args.rounds} fresh processes, "
        "busy shared machine)")
    say(f"  load                {result['load_s']:.2f} s wall, {result['load_cpu_s']:.2f} s CPU   "
        f"(target < {TARGETS['load_s']} s)")
    say(f"  one sentence beam 4 {result['sentence_s']:.2f} s wall, {result['sentence_cpu_s']:.2f} s CPU   "
        f"(target < {TARGETS['sentence_s']} s; {result['source_tokens']} source tokens, "
        f"{result['new_tokens']} new)")
    say(f"  peak RSS            {result['peak_rss_mb']:.0f} MB  (target < {TARGETS['peak_rss_mb']:.0f} MB)")
    say(f"  imports before the load: {result['imports_s']:.2f} s")
    say(f"  1-minute load average during the runs: {result['load_average']:.1f} on {os.cpu_count()} cores")
    if args.json:
        print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
