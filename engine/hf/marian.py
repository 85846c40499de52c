"""MarianMT in the Hugging Face format, into kqv's own encoder–decoder
:class:`~engine.translation.model.Transformer` and back out.

The Helsinki-NLP ``opus-mt-*`` models are the 2017 Transformer trained by the Marian C++
toolkit and converted to transformers' ``MarianMTModel``. A folder (what ``save_pretrained``
writes, or a snapshot from the hub) holds ``config.json``, ``model.safetensors``,
``generation_config.json`` (how ``generate()`` translates), ``source.spm`` and ``target.spm``
(SentencePiece models) and ``vocab.json`` (one id space for both languages). Loading is a
renaming plus a few facts where Marian is not the paper, each one a field of
:class:`TransformerConfig` (from transformers' ``modeling_marian.py``):

* positions are sinusoids laid out as all the sines, then all the cosines (``positions="halves"``),
  not interleaved; they are computed, never learned (a stored ``embed_positions.weight`` is
  checked against them and otherwise not read);
* the feed-forward's activation is SiLU (``"swish"`` in config.json);
* a ``final_logits_bias (1, V)`` is added to the logits (zeros when the file lacks it, as
  transformers does);
* no LayerNorm on the embeddings, post-LN blocks, no final LayerNorm (the paper's layout);
* token rows × √C only when ``scale_embedding`` (true for opus-mt; transformers' default is false);
* the decoder starts from ``decoder_start_token_id``, which is the *pad* token: the decoder
  must not hide its own first input as padding (kqv's decoder masks only the source's padding);
* LayerNorm's ε is PyTorch's default 1e-5 (the config has no field for it);
* one token table shared by the encoder, the decoder and the output layer.

Where the layouts differ: PyTorch's ``nn.Linear`` stores its weight ``(out, in)`` and kqv
``(in, out)``, so every matrix is transposed; transformers keeps q, k and v in three
matrices where kqv's self-attention keeps one ``c_attn (C, 3C)`` (q | k | v side by side)
and its cross-attention ``c_q (C, C)`` and ``c_kv (C, 2C)`` (k | v).

How transformers' ``generate()`` translates is read from ``generation_config.json`` (or, for
older folders, config.json): beams, ``max_length`` (start token included), the length penalty,
early stopping, ``bad_words_ids`` (the pad token is never generated), ``forced_eos_token_id``
(the last allowed token is the end) and ``renormalize_logits``. :class:`MarianGeneration`
holds them; :func:`translate_ids` runs kqv's :mod:`engine.translation.decode` with them.

Everything the loader does not compute the way transformers would is refused in one line,
never run differently: another ``model_type``, embeddings not shared, heads or feed-forward
widths that differ between encoder and decoder, the exact-erf GELU, a BART flag left in an old
config (``normalize_before`` ...) with a value Marian does not compute, sampling or n-gram
rules in the generation config.

The two JSON files are read by :mod:`engine.hf.marian_config`; this module maps the weights.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.reading import readable_file
from engine.hf.marian_config import MarianGeneration, read_config, read_generation
from engine.layers import sinusoidal_positions
from engine.runtime.memory import check_fits, translation_memory
from engine.translation.model import Transformer, TransformerConfig

WEIGHTS_FILE = "model.safetensors"
POSITIONS_TOLERANCE = 1e-4  # a stored sinusoid table is float32 of float64 sines: 1e-7 apart


# -- the name mapping -----------------------------------------------------------------------------

# kqv's name for each layer's parts -> transformers' (per encoder layer "enc.hI.", "model.encoder.layers.I.")
ENCODER_PARTS = {"attn.c_proj": "self_attn.out_proj", "ln_1": "self_attn_layer_norm",
                 "mlp.c_fc": "fc1", "mlp.c_proj": "fc2", "ln_2": "final_layer_norm"}
DECODER_PARTS = {"attn.c_proj": "self_attn.out_proj", "ln_1": "self_attn_layer_norm",
                 "cross.c_proj": "encoder_attn.out_proj", "ln_2": "encoder_attn_layer_norm",
                 "mlp.c_fc": "fc1", "mlp.c_proj": "fc2", "ln_3": "final_layer_norm"}
# matrices kqv keeps side by side that transformers keeps apart, in kqv's column order
FUSED = {"attn.c_attn": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
         "cross.c_q": ("encoder_attn.q_proj",), "cross.c_kv": ("encoder_attn.k_proj", "encoder_attn.v_proj")}


def marian_tensors(cfg: TransformerConfig) -> dict[str, tuple[tuple[str, ...], bool]]:
    """kqv parameter name -> (transformers tensor names joined along kqv's last axis, transposed?).

    ``enc.h0.attn.c_attn.w (C, 3C)`` is ``[q_proj.weightᵀ | k_proj.weightᵀ | v_proj.weightᵀ]``
    of ``model.encoder.layers.0.self_attn``; its bias the three biases end to end.
    """
    out: dict[str, tuple[tuple[str, ...], bool]] = {"wte": (("model.shared.weight",), False),
                                                     "final_logits_bias": (("final_logits_bias",), False)}
    for side, n, parts in (("enc", cfg.n_layer, ENCODER_PARTS), ("dec", cfg.n_dec_layer, DECODER_PARTS)):
        theirs = "model.encoder" if side == "enc" else "model.decoder"
        fused = {k: v for k, v in FUSED.items() if side == "dec" or k.startswith("attn.")}
        for i in range(n):
            ours, hf = f"{side}.h{i}.", f"{theirs}.layers.{i}."
            for part, names in fused.items():
                out[f"{ours}{part}.w"] = (tuple(f"{hf}{x}.weight" for x in names), True)
                out[f"{ours}{part}.b"] = (tuple(f"{hf}{x}.bias" for x in names), False)
            for part, name in parts.items():
                is_norm = part.startswith("ln_")
                out[f"{ours}{part}.w"] = ((f"{hf}{name}.weight",), not is_norm)
                out[f"{ours}{part}.b"] = ((f"{hf}{name}.bias",), False)
    return out


def _their_shape(kqv_shape: tuple[int, ...], n_parts: int, transposed: bool, name: str) -> tuple[int, ...]:
    if name == "final_logits_bias":
        return (1, kqv_shape[0])
    if transposed:
        return (kqv_shape[1] // n_parts, kqv_shape[0])
    if len(kqv_shape) == 1:
        return (kqv_shape[0] // n_parts,)
    return kqv_shape


# -- memory ---------------------------------------------------------------------------------------

RUN_TOKENS = 64  # positions costed for a translation: a long sentence


def check_marian_fits(cfg: TransformerConfig, folder) -> None:
    """Refuse in one line a Marian this machine cannot hold, before anything is allocated."""
    estimate = translation_memory(cfg, 1, min(cfg.max_len, RUN_TOKENS), training=False)
    check_fits(estimate, f"the Marian model in {folder} (d_model {cfg.n_embd}, "
               f"{cfg.n_layer}+{cfg.n_dec_layer} layers, vocab_size {cfg.vocab_size})",
               "its config.json describes a bigger model than this machine can hold")


# -- model.safetensors ----------------------------------------------------------------------------


def load_marian(folder: str | os.PathLike) -> tuple[Transformer, MarianGeneration]:
    """The MarianMT in ``folder`` as a kqv :class:`Transformer` in float32, with its generation rules."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    cfg = read_config(folder)
    generation = read_generation(folder, cfg)
    check_marian_fits(cfg, folder)  # before the name table: encoder_layers 10⁹ makes 10¹⁰ names
    path = folder / WEIGHTS_FILE
    if not readable_file(path):
        other = " (it has pytorch_model.bin, a pickle kqv does not open)" \
            if (folder / "pytorch_model.bin").exists() else ""
        raise KqvError(f"no {WEIGHTS_FILE} in {folder}{other}")
    wanted = marian_tensors(cfg)
    try:
        with safe_open(path, framework="numpy") as f:
            # with or without the "model." prefix (MarianModel saves without it)
            stored = {name if name.startswith("model.") or name == "final_logits_bias"
                      else f"model.{name}": name for name in f.keys()}
            kqv_shapes = _kqv_shapes(cfg)
            # check every name, shape and dtype before allocating the model
            for kqv_name, (names, transposed) in wanted.items():
                for name in names:
                    if name not in stored:
                        if name == "final_logits_bias":
                            continue  # transformers fills a missing one with zeros
                        raise KqvError(f"{path} lacks the tensor {name} (kqv's {kqv_name}); it is not a "
                                       "complete Marian checkpoint for its config.json")
                    found = f.get_slice(stored[name])
                    want = _their_shape(kqv_shapes[kqv_name], len(names), transposed, name)
                    if tuple(found.get_shape()) != want:
                        raise KqvError(f"{path}: tensor {stored[name]} is {tuple(found.get_shape())}, "
                                       f"config.json makes it {want}")
                    if found.get_dtype() not in ("F32", "F16", "BF16", "F64"):
                        raise KqvError(f"{path}: tensor {stored[name]} is {found.get_dtype()}; kqv reads "
                                       "float weights only")
            model = Transformer(cfg, init=False)
            for kqv_name, (names, transposed) in wanted.items():
                view = model.params[kqv_name]
                if names == ("final_logits_bias",) and "final_logits_bias" not in stored:
                    view[...] = 0.0
                    continue
                with np.errstate(over="ignore"):  # an overflow is reported just below, in one line
                    for j, n in enumerate(names):  # one tensor in memory at a time, cast to float32 here
                        tensor = f.get_tensor(stored[n])
                        if transposed:  # (out, in) -> kqv's (in, out), the j-th block of columns
                            width = tensor.shape[0]
                            view[:, j * width:(j + 1) * width] = tensor.T
                        else:
                            width = tensor.size
                            view.reshape(-1)[j * width:(j + 1) * width] = tensor.reshape(-1)
                # the float64 sum is finite exactly when every number is (float32 sums cannot
                # overflow float64), and makes no temporary the size of the tensor as isfinite does
                if not np.isfinite(view.sum(dtype=np.float64)):
                    raise KqvError(f"{path}: tensor {stored[names[0]]} holds NaN or infinite numbers (in "
                                   "float32); these weights cannot compute anything")
            for side in ("encoder", "decoder"):
                name = f"model.{side}.embed_positions.weight"
                if name in stored:
                    _check_positions(f.get_tensor(stored[name]), cfg, path, stored[name])
    except (SafetensorError, OSError) as exc:
        raise KqvError(f"{path} is not a readable safetensors file ({exc})") from None
    return model, generation


def _kqv_shapes(cfg: TransformerConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's shape, from the sizes alone (no model built)."""
    C, F, V = cfg.n_embd, cfg.d_ff, cfg.vocab_size
    layer = {"attn.c_attn.w": (C, 3 * C), "attn.c_attn.b": (3 * C,), "attn.c_proj.w": (C, C),
             "attn.c_proj.b": (C,), "mlp.c_fc.w": (C, F), "mlp.c_fc.b": (F,), "mlp.c_proj.w": (F, C),
             "mlp.c_proj.b": (C,), "ln_1.w": (C,), "ln_1.b": (C,), "ln_2.w": (C,), "ln_2.b": (C,)}
    cross = {"cross.c_q.w": (C, C), "cross.c_q.b": (C,), "cross.c_kv.w": (C, 2 * C), "cross.c_kv.b": (2 * C,),
             "cross.c_proj.w": (C, C), "cross.c_proj.b": (C,), "ln_3.w": (C,), "ln_3.b": (C,)}
    out = {"wte": (V, C), "final_logits_bias": (V,)}
    for i in range(cfg.n_layer):
        out.update({f"enc.h{i}.{k}": s for k, s in layer.items()})
    for i in range(cfg.n_dec_layer):
        out.update({f"dec.h{i}.{k}": s for k, s in {**layer, **cross}.items()})
    return out


def _check_positions(stored: np.ndarray, cfg: TransformerConfig, path: Path, name: str) -> None:
    """A stored position table must be Marian's sinusoids: kqv computes them and never reads it."""
    want = sinusoidal_positions(cfg.max_len, cfg.n_embd, np.float64, layout="halves")
    if stored.shape != want.shape or not np.allclose(stored, want, atol=POSITIONS_TOLERANCE, rtol=0):
        raise KqvError(f"{path}: {name} is not Marian's fixed sinusoids (all sines, then all cosines); kqv "
                       "computes positions and cannot run learned ones")


# -- translating ----------------------------------------------------------------------------------


def translate_ids(model: Transformer, generation: MarianGeneration, src: np.ndarray, beam: int | None = None,
                  max_new: int | None = None) -> list[list[int]]:
    """Translate ``src (B, S)`` (padded with the pad id) as transformers' ``generate()`` would,
    with the folder's rules; ``beam``/``max_new`` override num_beams and max_length − 1."""
    from engine.runtime.blas import blas_threads
    from engine.translation.decode import beam_search

    beam = generation.num_beams if beam is None else beam
    max_new = min(generation.max_new if max_new is None else max_new, model.config.max_len)
    # each step is a few rows through every matrix: bound by memory, and a second BLAS thread
    # only waits on the first (measured on opus-mt's size: 7x slower wall time with two threads
    # on a busy 2-core machine); the encoder's one pass over the sentence loses little
    with blas_threads(1):
        return beam_search(model, src, beam=beam, max_new=max_new, length_penalty=generation.length_penalty,
                           early_stopping=generation.early_stopping, banned=generation.banned,
                           force_eos=generation.force_eos, renormalize=generation.renormalize)


def load_pretrained(model: str):
    """The Marian named by ``--model`` (a hub name after ``kqv data marian``, or a folder):
    ``(Transformer, MarianGeneration, MarianTokenizer, folder)``."""
    from engine.hf.hub import MARIAN_MODELS, marian_name, model_folder
    from engine.hf.marian_tokenizer import folder_tokenizer

    folder = model_folder(marian_name(model), MARIAN_MODELS)
    cfg = read_config(folder)
    tokenizer = folder_tokenizer(folder)
    if tokenizer.max_id >= cfg.vocab_size:  # checked before the weights are read
        raise KqvError(f"{folder}: vocab.json has ids up to {tokenizer.max_id} but the model only "
                       f"{cfg.vocab_size} rows of its token table; they do not belong together")
    if tokenizer.pad_id != cfg.pad_id or tokenizer.eos_id != cfg.eos_id:
        raise KqvError(f"{folder}: vocab.json puts <pad> at {tokenizer.pad_id} and </s> at "
                       f"{tokenizer.eos_id}, config.json at {cfg.pad_id} and {cfg.eos_id}; they do not "
                       "belong together")
    model_, generation = load_marian(folder)
    return model_, generation, tokenizer, folder
