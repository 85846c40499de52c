"""GPT-2 in the Hugging Face format, into kqv's own :class:`~engine.gpt.model.GPT` and back out.

A Hugging Face GPT-2 folder (what ``save_pretrained`` writes, or a snapshot from the hub) holds
``config.json`` (the sizes) and ``model.safetensors`` (the weights by name). GPT-2 *is* kqv's
GPT at a bigger scale: learned positions, pre-LN blocks, the tanh GELU, a head tied to ``wte``.
So loading it is a renaming, and no second model class is needed: the trace, ``kqv trace``, the
lessons and the quiz run on GPT-2 unchanged.

What is easy to get wrong, and where this module handles it:

* GPT-2's ``Conv1D`` stores its weight ``(in, out)``, as kqv does, so ``x @ w`` needs no
  transpose (PyTorch's ``nn.Linear`` would store ``(out, in)``);
* names carry a ``transformer.`` prefix when ``save_pretrained`` wrote them and none in the
  hub's original file (:func:`_strip_prefix`);
* ``h.N.attn.bias`` and ``h.N.attn.masked_bias`` are the causal mask kept as a buffer, not
  weights: they are skipped (the engine builds its mask itself);
* the LM head is tied to ``wte``: ``lm_head.weight``, when present, is the same matrix;
* the activation ``gelu_new`` is the tanh GELU the engine uses (:func:`engine.layers.gelu_forward`);
* LayerNorm's ε is ``layer_norm_epsilon`` and the position table has ``n_positions`` rows.

Weights are read with the ``safetensors`` library's numpy API: the file is memory-mapped, and
each tensor, read out of the map one at a time, is copied into the model's flat parameter buffer
(cast to float32 there), so at most one tensor (wte, 150 MB for GPT-2 small) exists twice. Every
name, shape and dtype is checked first, so a bad file costs no allocation and fails in one line
naming the first bad tensor.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.reading import readable_file
from engine.gpt.model import GPT, GPTConfig
from engine.runtime.memory import FLOAT32, MemoryEstimate, check_fits, gpt_memory

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.safetensors"
# gelu_new and gelu_pytorch_tanh are the same function, ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
TANH_GELUS = ("gelu_new", "gelu_pytorch_tanh")
# GPT2Config's defaults, used (as transformers does) for any size a config.json leaves out
GPT2_DEFAULTS = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
                 "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
# settings that change GPT-2's computation, and the only value kqv's engine computes.
# reorder_and_upcast_attn is not among them: it makes transformers scale q·kᵀ inside the product
# and take the softmax in float32, which guards float16 weights against overflow; kqv computes in
# float32 throughout (weights are cast at load), so the flag changes the rounding only (logits
# within 3.3e-6 of transformers running with it, in float32). scale_attn_by_inverse_layer_idx
# divides layer i's scores by i + 1: another function, refused.
MAX_CONFIG_BYTES = 1_000_000  # GPT-2's config.json is under 1 KB; anything this big is not one
UNSUPPORTED = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
               "add_cross_attention": False, "tie_word_embeddings": True}


# -- the name mapping ------------------------------------------------------------------------


def gpt2_tensors(cfg: GPTConfig) -> dict[str, tuple[str, tuple[int, ...]]]:
    """kqv parameter name -> (GPT-2 tensor name, shape), for every weight of the model.

    ``h3.attn.c_attn.w`` is ``h.3.attn.c_attn.weight``, shaped ``(C, 3*C)`` in both.
    """
    C, V = cfg.n_embd, cfg.vocab_size
    block = {"ln_1": (C,), "attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "ln_2": (C,),
             "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}
    out = {"wte": ("wte.weight", (V, C)), "wpe": ("wpe.weight", (cfg.block_size, C))}
    for i in range(cfg.n_layer):
        for part, w_shape in block.items():
            out[f"h{i}.{part}.w"] = (f"h.{i}.{part}.weight", w_shape)
            out[f"h{i}.{part}.b"] = (f"h.{i}.{part}.bias", w_shape[-1:])
    out["ln_f.w"] = ("ln_f.weight", (C,))
    out["ln_f.b"] = ("ln_f.bias", (C,))
    return out


def _strip_prefix(name: str) -> str:
    return name.removeprefix("transformer.")


# -- config.json -----------------------------------------------------------------------------


def read_config(folder: str | os.PathLike) -> GPTConfig:
    """The model's sizes from ``config.json``, refusing anything that is not GPT-2 architecture."""
    path = Path(folder) / CONFIG_FILE
    if not readable_file(path):
        raise KqvError(f"no {CONFIG_FILE} in {folder}: a GPT-2 folder holds config.json, "
                       "model.safetensors and tokenizer.json")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise KqvError(f"{path} is {path.stat().st_size:,} bytes; a GPT-2 config.json is a few "
                           "hundred, so this is not one")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KqvError(f"{path} is not readable JSON ({exc})") from None
    except RecursionError:  # json nests one Python call per [ or {: thousands of them overflow
        raise KqvError(f"{path} is not a model config: its JSON is nested too deeply to read") from None
    if not isinstance(raw, dict):
        raise KqvError(f"{path} is not a model config (a JSON object)")
    if raw.get("model_type") != "gpt2":
        raise KqvError(f"{path} describes a {raw.get('model_type', 'unnamed')!r} model; kqv runs the "
                       "GPT-2 architecture only (model_type \"gpt2\")")
    c = {**GPT2_DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    if c["activation_function"] not in TANH_GELUS:
        raise KqvError(f"{path}: activation_function {c['activation_function']!r} is not GPT-2's "
                       "tanh GELU (gelu_new), the only one the engine computes")
    if raw.get("n_inner") not in (None, 4 * c["n_embd"]):
        raise KqvError(f"{path}: n_inner {raw['n_inner']} is not 4·n_embd = {4 * c['n_embd']}, "
                       "the MLP width the engine builds")
    for key, supported in UNSUPPORTED.items():
        if key in raw and raw[key] != supported:
            # both values in the config's own JSON spelling (true, false, null), as the user wrote them
            raise KqvError(f"{path}: {key} = {json.dumps(raw[key])}; the engine computes GPT-2 with "
                           f"{key} = {json.dumps(supported)} only")
    eps = c["layer_norm_epsilon"]
    if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise KqvError(f"{path}: layer_norm_epsilon must be a positive number, got {eps!r}")
    # GPTConfig refuses non-positive sizes and a head count that does not divide n_embd
    return GPTConfig(vocab_size=c["vocab_size"], block_size=c["n_positions"], n_layer=c["n_layer"],
                     n_head=c["n_head"], n_embd=c["n_embd"], ln_eps=float(eps))


def config_json(cfg: GPTConfig) -> dict:
    """A GPT-2 ``config.json`` for a kqv model (what :func:`read_config` and transformers read)."""
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": cfg.vocab_size, "n_positions": cfg.block_size, "n_embd": cfg.n_embd,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": cfg.ln_eps,
        "resid_pdrop": cfg.dropout, "embd_pdrop": cfg.dropout, "attn_pdrop": cfg.dropout,
        "scale_attn_weights": True, "tie_word_embeddings": True,
        # GPT-2's <|endoftext|> is id 50256; a character vocabulary has no such token
        "bos_token_id": None, "eos_token_id": None, "dtype": "float32",
    }


# -- memory ----------------------------------------------------------------------------------

RUN_TOKENS = 64  # the positions costed for a forward pass: the lesson's sentence, a prompt


def gpt2_memory(cfg: GPTConfig) -> MemoryEstimate:
    """What a GPT-2 of ``cfg`` holds once loaded and running, from config.json's sizes alone.

    The float32 parameters; the largest tensor once more, as it is read out of the file before
    it is copied in (wte); the head's contiguous copy of wteᵀ (:meth:`GPT.keep_head_copy`); a
    KV cache of all ``n_positions``; the activations of a forward pass over 64 positions (a
    prompt, the lesson's sentence; a full 1024-token window keeps 3 GB of them in GPT-2 small).
    The model's zeroed gradient buffer is not counted: the kernel gives its pages only when they
    are written, and nothing here writes them. For GPT-2 small that is about 975 MB; ``kqv
    sample --model`` was measured at a peak RSS of 1,040 MB (1,077 MB since it loads numba for the
    fused decoder, :mod:`engine.fused.decode`), the interpreter, the libraries and
    the file's mapped pages included.
    """
    C, V, L = cfg.n_embd, cfg.vocab_size, cfg.n_layer
    estimate = gpt_memory(cfg, 1, training=False, tokens=min(cfg.block_size, RUN_TOKENS))
    estimate.parts["reading"] = max(V, 4 * C, cfg.block_size) * C * FLOAT32  # wte, the widest tensor
    estimate.parts["head copy"] = V * C * FLOAT32
    estimate.parts["KV cache"] = 2 * L * cfg.block_size * C * FLOAT32
    return estimate


def check_gpt2_fits(cfg: GPTConfig, folder: str | os.PathLike) -> None:
    """Refuse, in one line, a GPT-2 this machine cannot hold, before anything is allocated
    (``"n_layer": 1000000000`` in a config.json would otherwise allocate until it failed)."""
    check_fits(gpt2_memory(cfg), f"the GPT-2 in {folder} (n_layer {cfg.n_layer}, n_embd {cfg.n_embd}, "
               f"vocab_size {cfg.vocab_size}, n_positions {cfg.block_size})",
               "its config.json describes a bigger model than this machine can hold")


# -- model.safetensors -----------------------------------------------------------------------


def load_gpt2(folder: str | os.PathLike) -> GPT:
    """The GPT-2 in ``folder`` as a kqv :class:`GPT` in float32."""
    from safetensors import SafetensorError, safe_open

    from engine import fused

    cfg = read_config(folder)
    check_gpt2_fits(cfg, folder)  # before the name table: n_layer 10⁹ makes 12·10⁹ names
    path = Path(folder) / WEIGHTS_FILE
    if not readable_file(path):
        other = " (it has pytorch_model.bin, a pickle kqv does not open)" \
            if (Path(folder) / "pytorch_model.bin").exists() else ""
        raise KqvError(f"no {WEIGHTS_FILE} in {folder}{other}")
    wanted = gpt2_tensors(cfg)
    try:
        with safe_open(path, framework="numpy") as f:
            # every name the model needs, found with or without the prefix; anything else in
            # the file (the mask buffers, the tied lm_head.weight) is never read
            stored = {_strip_prefix(name): name for name in f.keys()}
            # check everything first: a bad file fails before 500 MB are allocated
            for kqv_name, (name, shape) in wanted.items():
                if name not in stored:
                    raise KqvError(f"{path} lacks the tensor {name} ({kqv_name} {shape}); "
                                   "it is not a complete GPT-2 checkpoint for its config.json")
                found = f.get_slice(stored[name])
                if tuple(found.get_shape()) != shape:
                    raise KqvError(f"{path}: tensor {stored[name]} is {tuple(found.get_shape())}, "
                                   f"config.json makes it {shape}")
                if found.get_dtype() not in ("F32", "F16", "F64"):
                    raise KqvError(f"{path}: tensor {stored[name]} is {found.get_dtype()}; kqv reads "
                                   "float32, float16 or float64 weights")
            # numba and the decoder's kernels load on another thread while the weights are read
            fused.preload("decode")
            model = GPT(cfg, init=False)
            for kqv_name, (name, _) in wanted.items():
                view = model.params[kqv_name]
                with np.errstate(over="ignore"):  # an overflow is reported just below, in one line
                    view[...] = f.get_tensor(stored[name])  # cast to float32 here
                # as for kqv's own checkpoints: a NaN or an inf would surface only at sampling, as
                # "probabilities contain NaN"; float64 weights past float32's range become inf here
                if not np.isfinite(view).all():
                    raise KqvError(f"{path}: tensor {stored[name]} holds NaN or infinite numbers (in "
                                   "float32); these weights cannot compute anything")
    except (SafetensorError, OSError) as exc:  # it words an unreadable file "No such file", as an OSError
        raise KqvError(f"{path} is not a readable safetensors file ({exc})") from None
    model.keep_head_copy()  # kqv runs GPT-2, never trains it: the head may keep wteᵀ (C, V)
    model.fast_decode = True  # and generates with the fused decoder: 494 MB a token to read
    return model


def save_gpt2(model: GPT, folder: str | os.PathLike) -> None:
    """Write ``config.json`` and ``model.safetensors`` for ``model`` into ``folder``.

    Names get the ``transformer.`` prefix, as ``save_pretrained`` writes them, and no
    ``lm_head.weight`` (tied). A model trained ``--no-bias`` is written with zero biases: a
    missing bias is a bias of 0, so the function is the same. Only the standard GPT can be
    written: GPT-2 has no switch for the lab's what-if variants.
    """
    from safetensors.numpy import save

    from engine.files.atomic import atomic_write

    cfg = model.config
    standard = GPTConfig(vocab_size=cfg.vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd)
    changed = [f"{k}={getattr(cfg, k)!r}" for k in ("pos", "score", "scale", "mask", "residual", "layernorm")
               if getattr(cfg, k) != getattr(standard, k)]
    if changed:
        raise KqvError(f"this GPT is a what-if variant ({', '.join(changed)}); only the standard GPT "
                       "has a GPT-2 equivalent")
    tensors = {}
    for kqv_name, (name, shape) in gpt2_tensors(cfg).items():
        value = model.params.get(kqv_name)
        tensors[f"transformer.{name}"] = (np.zeros(shape, dtype=np.float32) if value is None
                                          else np.ascontiguousarray(value, dtype=np.float32))
    folder = Path(folder)
    with atomic_write(folder / CONFIG_FILE, "w", encoding="utf-8") as f:
        json.dump(config_json(cfg), f, indent=2)
    with atomic_write(folder / WEIGHTS_FILE) as f:
        f.write(save(tensors, metadata={"format": "pt"}))  # transformers wants format "pt"
