"""kqv's GPT-2 held against Hugging Face transformers: logits, every attention matrix, the
cached generation, and kqv's export read back by transformers.

1. A random GPT-2 of a few layers is built with transformers and written with
   ``save_pretrained``, beside a byte-level BPE ``tokenizer.json`` trained with ``tokenizers``.
   Its weights are drawn far from the usual init (biases and LayerNorm gains are not 0 and 1,
   ε is 0.01) so a mix-up of names or a missing bias cannot hide.
2. kqv loads the folder (``engine.hf.gpt2``); both run the pizza prompt. Compared: the logits,
   every attention matrix (transformers with ``attn_implementation="eager"``, which returns
   them), and the logits of each step of greedy generation with the KV cache.
3. A kqv character GPT is trained for a few iterations, exported with ``engine.hf.export``
   and loaded by ``GPT2LMHeadModel.from_pretrained`` and ``AutoTokenizer``; their next-token
   probabilities are compared with kqv's, and the usual calls are made: a text with characters
   the model never saw, a padded batch (its logits against kqv's for each text alone), and
   ``pipeline("text-generation")`` (its greedy text against kqv's).

The goal is a largest difference ≤ 1e-4 in float32. ``--write-golden`` also writes the tiny
folder and transformers' outputs to ``tests/data/`` for the test suite, which has no torch:
the golden values there are transformers', never kqv's. ``--model PATH`` compares on another
GPT-2 folder instead of the tiny one (e.g. a random GPT-2 small written with save_pretrained).

Needs ``pip install torch==2.13.0 transformers`` (never kqv's dependencies); says "skipped"
without them. Usage: ``python benchmarks/hf_gpt2_reference.py [--json] [--write-golden]
[--model PATH]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.hf.tokenizer import END_OF_TEXT, HFTokenizer  # noqa: E402

PROMPT = f"{END_OF_TEXT}The pizza came out of the oven and it tasted good"
GOLDEN_DIR = REPO / "tests" / "data" / "gpt2-tiny"
GOLDEN_NPZ = REPO / "tests" / "data" / "gpt2-tiny-golden.npz"
N_NEW = 6  # greedy tokens generated with the cache
GOAL = 1e-4
# what the tiny BPE learns from: the lesson's sentence among a few others, so " pizza",
# " oven", " it", " tasted" and " good" become tokens of their own as they are in GPT-2
TRAINING_TEXT = (
    "The pizza came out of the oven and it tasted good. "
    "The bread came out of the oven and it smelled good. "
    "She put the pizza in the oven; it was hot. "
    "He ate the pizza because it was good, and the oven was still warm. "
    "It tasted good; the soup tasted good too. "
) * 20
TINY = {"n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 4, "layer_norm_epsilon": 0.01}


def tiny_tokenizer(vocab_size: int = 320):
    """Byte-level BPE, GPT-2's kind, trained on TRAINING_TEXT by tokenizers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[END_OF_TEXT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([TRAINING_TEXT], trainer)
    return tok


def write_tiny_folder(folder: Path) -> None:
    """A random GPT-2 by transformers' save_pretrained, with unusual weights, and its tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = tiny_tokenizer()
    eot = tok.token_to_id(END_OF_TEXT)
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), bos_token_id=eot, eos_token_id=eot, **TINY)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))  # LayerNorm gains away from 1
            else:
                p.copy_(0.3 * torch.randn_like(p))  # biases away from 0, weights larger than 0.02
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    (folder / "generation_config.json").unlink(missing_ok=True)  # kqv reads only the three files
    tok.save(str(folder / "tokenizer.json"))


def transformers_run(folder: Path, ids: np.ndarray, n_new: int) -> dict:
    """Logits, attentions and greedy cached generation by transformers (eager attention)."""
    import torch
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()
    x = torch.tensor(ids[None, :])
    with torch.no_grad():
        out = model(x, output_attentions=True, use_cache=True)
        logits = out.logits[0].numpy()  # (T, V)
        atts = [a[0].numpy() for a in out.attentions]  # n_layer × (nh, T, T)
        cache, step_logits, new = out.cache, [], []
        nxt = int(logits[-1].argmax())
        for _ in range(n_new):
            new.append(nxt)
            step = model(torch.tensor([[nxt]]), cache=cache, use_cache=True)
            cache = step.cache
            step_logits.append(step.logits[0, -1].numpy())
            nxt = int(step_logits[-1].argmax())
    return {"logits": logits, "atts": atts, "gen_ids": np.asarray(new), "gen_logits": np.stack(step_logits)}


def kqv_run(folder: Path, ids: np.ndarray, gen_ids: np.ndarray) -> dict:
    """The same with kqv: one traced forward, then the generated tokens one position each."""
    from engine.hf.gpt2 import load_gpt2
    from engine.trace import Tracer

    model = load_gpt2(folder)
    tracer = Tracer(dims=model.dims(1, ids.size))
    logits, _ = model.forward(ids[None, :], tracer=tracer)
    atts = [tracer[f"h{i}.att"].value[0] for i in range(model.config.n_layer)]
    kv = model.kv_cache()
    model.forward(ids[None, :], cache=kv)
    step_logits = [model.forward(np.array([[t]]), cache=kv)[0][0, -1] for t in gen_ids]
    return {"logits": logits[0], "atts": atts, "gen_logits": np.stack(step_logits)}


def compare(ref: dict, ours: dict) -> dict:
    return {
        "logits": float(np.abs(ref["logits"] - ours["logits"]).max()),
        "attention": max(float(np.abs(a - b).max()) for a, b in zip(ref["atts"], ours["atts"], strict=True)),
        "cached_generation_logits": float(np.abs(ref["gen_logits"] - ours["gen_logits"]).max()),
    }


def export_check(tmp: Path) -> dict:
    """Train a tiny character GPT in kqv, export it, load it in transformers, compare."""
    import torch
    from transformers import AutoTokenizer, GPT2LMHeadModel, pipeline

    from engine.data.text import TextData
    from engine.gpt.checkpoint import load_gpt
    from engine.gpt.model import GPTConfig
    from engine.gpt.train import GPTTrainer, TrainConfig
    from engine.hf.export import export_checkpoint

    data = TextData.from_text(TRAINING_TEXT, block_size=32)
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=32, n_layer=2, n_head=4, n_embd=32)
    ckpt = tmp / "char.npz"
    GPTTrainer(data, cfg, TrainConfig(batch_size=4, max_iters=30, eval_interval=30, eval_iters=2, threads=1),
               out=ckpt).run()
    out = export_checkpoint(ckpt, tmp / "exported")
    model, vocab, _ = load_gpt(ckpt)
    prompt = "The pizza came out of the "
    ids = vocab.encode(prompt)
    ours, _ = model.forward(ids[None, :])
    hf_tok = AutoTokenizer.from_pretrained(out)
    hf_ids = hf_tok(prompt)["input_ids"]
    hf = GPT2LMHeadModel.from_pretrained(out).eval()
    with torch.no_grad():
        theirs = hf(torch.tensor([hf_ids])).logits[0].numpy()

    def probs(z):
        e = np.exp(z - z.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    # the usual calls: an unseen character, a padded batch, the text-generation pipeline
    unseen = hf_tok("Café!")["input_ids"]  # é and ! are not in the training text
    hf_tok.pad_token = hf_tok.convert_ids_to_tokens(0)  # the README's one line
    batch = hf_tok([prompt, "The oven"], padding=True, return_tensors="pt")
    with torch.no_grad():
        padded = hf(**batch).logits.numpy()
    short = vocab.encode("The oven")
    alone, _ = model.forward(short[None, :])
    generator = pipeline("text-generation", model=hf, tokenizer=hf_tok)
    room = cfg.block_size - ids.size  # transformers stops at n_positions; it does not crop
    greedy = generator(prompt, max_new_tokens=room, do_sample=False)[0]["generated_text"]
    ours_greedy = prompt + vocab.decode(list(model.stream(ids, room, top_k=1, rng=np.random.default_rng(0))))
    return {"same_token_ids": list(hf_ids) == [int(i) for i in ids],
            "tokenizer_round_trip": hf_tok.decode(hf_ids) == prompt,
            "logits": float(np.abs(ours[0] - theirs).max()),
            "next_token_probabilities": float(np.abs(probs(ours[0]) - probs(theirs)).max()),
            "unseen_characters_read_as": hf_tok.decode(unseen),
            "padded_batch_logits": max(float(np.abs(padded[0] - ours[0]).max()),
                                       float(np.abs(padded[1, :short.size] - alone[0]).max())),
            "pipeline_greedy_same_text": greedy == ours_greedy}


def write_golden(ref: dict, ids: np.ndarray) -> None:
    arrays = {"prompt": np.array(PROMPT), "ids": ids, "logits": ref["logits"],
              "gen_ids": ref["gen_ids"], "gen_logits": ref["gen_logits"]}
    arrays.update({f"att_h{i}": a for i, a in enumerate(ref["atts"])})
    np.savez_compressed(GOLDEN_NPZ, **{k: np.asarray(v) for k, v in arrays.items()})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--write-golden", action="store_true", help="write tests/data/gpt2-tiny*")
    parser.add_argument("--model", type=Path, help="compare on this GPT-2 folder instead of the tiny one")
    args = parser.parse_args(argv)
    say = (lambda *a: None) if args.json else print
    try:
        import torch
        import transformers
    except ImportError:
        msg = "skipped: needs torch and transformers (pip install torch==2.13.0 transformers)"
        print(json.dumps({"skipped": msg}) if args.json else msg)
        return 0
    torch.set_grad_enabled(False)
    result = {"torch": torch.__version__, "transformers": transformers.__version__, "goal": GOAL}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = args.model
        if folder is None:
            folder = tmp / "gpt2-tiny"
            write_tiny_folder(folder)
        tok = HFTokenizer.from_file(folder / "tokenizer.json")
        ids = tok.encode(PROMPT)
        say(f"{folder}: prompt of {ids.size} tokens: {tok.pieces(ids)}")
        ref = transformers_run(folder, ids, N_NEW)
        ours = kqv_run(folder, ids, ref["gen_ids"])
        result["gpt2"] = compare(ref, ours)
        say(f"largest |kqv − transformers|: {result['gpt2']}")
        if args.write_golden and args.model is None:
            if GOLDEN_DIR.exists():
                shutil.rmtree(GOLDEN_DIR)
            shutil.copytree(folder, GOLDEN_DIR)
            write_golden(ref, ids)
            say(f"wrote {GOLDEN_DIR} and {GOLDEN_NPZ} (transformers' values)")
        result["export"] = export_check(tmp)
        say(f"kqv export read by transformers: {result['export']}")
    export = result["export"]
    worst = max(*result["gpt2"].values(), export["logits"], export["padded_batch_logits"])
    result["ok"] = bool(worst <= GOAL and export["same_token_ids"] and export["pipeline_greedy_same_text"])
    say(f"largest difference {worst:.2e}: {'within' if result['ok'] else 'OVER'} the goal of {GOAL:g}")
    if args.json:
        print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
