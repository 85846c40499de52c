"""kqv's GPT against nanoGPT's own ``model.py``: the same weights, how far apart are the logits?

kqv's GELU is the tanh form of GPT-2, llm.c and Hugging Face's ``gelu_new``; nanoGPT's MLP uses
``nn.GELU()``, the exact erf form. Everything else (pre-LN blocks, learned positions, tied head,
LayerNorm ε 1e-5, scale 1/√hs) is meant to be the same. This script copies kqv's weights into
nanoGPT's ``GPT`` and prints the largest logit difference on validation windows:

* ``at init``: kqv's freshly initialised model (seed 1337);
* ``trained``: a ``kqv train gpt`` checkpoint (``--checkpoint``), or a default run trained here;

each once with nanoGPT's erf GELU as it is and once with its GELU swapped for the tanh form, so
the part of the difference that the GELU makes stands apart from float32 rounding.

nanoGPT is not vendored: point ``--nanogpt`` at a checkout of karpathy/nanoGPT (the folder
holding ``model.py``). Needs PyTorch (``pip install torch==2.13.0``).

Usage: ``python benchmarks/nanogpt_logits.py --nanogpt ~/src/nanoGPT [--checkpoint gpt.npz]
[--json]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.data.text import TextData  # noqa: E402
from engine.gpt.checkpoint import load_gpt  # noqa: E402
from engine.gpt.model import GPT, GPTConfig  # noqa: E402
from engine.gpt.train import GPTTrainer, TrainConfig  # noqa: E402

SHAKESPEARE = REPO.parent / "shared" / "data" / "tinyshakespeare" / "input.txt"


def import_nanogpt(folder: Path):
    """nanoGPT's ``model`` module from ``folder/model.py``."""
    path = folder / "model.py"
    if not path.is_file():
        raise SystemExit(f"no nanoGPT model.py in {folder}; pass --nanogpt DIR (a nanoGPT checkout)")
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nanogpt_from(nanogpt, model: GPT):
    """nanoGPT's ``GPT`` holding kqv's weights. kqv stores linear weights (in, out), torch's
    ``nn.Linear`` (out, in): every 2-D block weight is transposed on the way."""
    import torch

    c = model.config
    ref = nanogpt.GPT(nanogpt.GPTConfig(block_size=c.block_size, vocab_size=c.vocab_size,
                                        n_layer=c.n_layer, n_head=c.n_head, n_embd=c.n_embd,
                                        dropout=0.0, bias=c.bias))
    state = {"transformer.wte.weight": model.params["wte"], "transformer.wpe.weight": model.params["wpe"],
             "transformer.ln_f.weight": model.params["ln_f.w"], "lm_head.weight": model.params["wte"]}
    if c.bias:
        state["transformer.ln_f.bias"] = model.params["ln_f.b"]
    for i in range(c.n_layer):
        for ours, theirs in (("ln_1", "ln_1"), ("ln_2", "ln_2"), ("attn.c_attn", "attn.c_attn"),
                             ("attn.c_proj", "attn.c_proj"), ("mlp.c_fc", "mlp.c_fc"),
                             ("mlp.c_proj", "mlp.c_proj")):
            w = model.params[f"h{i}.{ours}.w"]
            state[f"transformer.h.{i}.{theirs}.weight"] = w.T if w.ndim == 2 else w
            if c.bias:
                state[f"transformer.h.{i}.{theirs}.bias"] = model.params[f"h{i}.{ours}.b"]
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    missing, unexpected = ref.load_state_dict(state, strict=False)
    left = [k for k in missing if not k.endswith(".attn.bias")]  # nanoGPT's mask buffer, if any
    if left or unexpected:
        raise SystemExit(f"weights do not map onto nanoGPT: missing {left}, unexpected {unexpected}")
    return ref.eval()


def logit_gap(nanogpt, model: GPT, x: np.ndarray) -> dict:
    """Largest |kqv − nanoGPT| logit on the windows ``x`` (B, T), with nanoGPT's erf GELU and
    with its GELU swapped for the tanh form."""
    import torch

    ours, _ = model.forward(x)  # (B, T, V)
    ref = nanogpt_from(nanogpt, model)
    gaps = {}
    for name in ("erf", "tanh"):
        if name == "tanh":
            for block in ref.transformer.h:
                block.mlp.gelu = torch.nn.GELU(approximate="tanh")
        with torch.no_grad():
            theirs, _ = ref(torch.from_numpy(x), torch.from_numpy(x))  # targets: logits at every position
        gaps[f"max_abs_diff_{name}_gelu"] = float(np.max(np.abs(ours - theirs.numpy())))
    gaps["logit_scale"] = float(np.max(np.abs(ours)))
    return gaps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="a nanoGPT checkout (holds model.py)")
    parser.add_argument("--checkpoint", type=Path, help="a trained `kqv train gpt` checkpoint")
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="text for the validation windows")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    nanogpt = import_nanogpt(args.nanogpt)
    if not args.text.is_file():
        raise SystemExit(f"no text at {args.text}; pass --text FILE")
    data = TextData.from_file(args.text, 64)
    cfg = GPTConfig(vocab_size=data.vocab.size)
    T = cfg.block_size
    x = data.val[: 12 * T].reshape(12, T).astype(np.int64)  # twelve validation windows
    result = {"at_init": logit_gap(nanogpt, GPT(cfg, seed=1337), x)}
    if args.checkpoint is not None:
        trained, _, _ = load_gpt(args.checkpoint)
        source = str(args.checkpoint)
    else:
        if not args.json:
            print("training the default run (2000 iterations) for the trained figure...")
        trainer = GPTTrainer(data, cfg, TrainConfig())
        trainer.run()
        trained, source = trainer.model, "the default run, trained here"
    result["trained"] = {"model": source, **logit_gap(nanogpt, trained, x)}
    if args.json:
        print(json.dumps(result))
        return 0
    for when, r in result.items():
        print(f"{when}: max |logit difference| {r['max_abs_diff_erf_gelu']:.1e} with nanoGPT's erf "
              f"GELU, {r['max_abs_diff_tanh_gelu']:.1e} with its GELU swapped for tanh "
              f"(logits up to {r['logit_scale']:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
