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
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.reading import readable_file
from engine.layers import sinusoidal_positions
from engine.runtime.memory import check_fits, translation_memory
from engine.translation.model import Transformer, TransformerConfig

CONFIG_FILE, WEIGHTS_FILE, GENERATION_FILE = "config.json", "model.safetensors", "generation_config.json"
MAX_CONFIG_BYTES = 1_000_000  # opus-mt's config.json is about 1.5 KB
# MarianConfig's defaults, used (as transformers does) for anything a config.json leaves out
MARIAN_DEFAULTS = {"vocab_size": 58101, "max_position_embeddings": 1024, "encoder_layers": 12,
                   "encoder_ffn_dim": 4096, "encoder_attention_heads": 16, "decoder_layers": 12,
                   "decoder_ffn_dim": 4096, "decoder_attention_heads": 16, "activation_function": "gelu",
                   "d_model": 1024, "dropout": 0.1, "decoder_start_token_id": 58100,
                   "scale_embedding": False, "pad_token_id": 58100, "eos_token_id": 0,
                   "forced_eos_token_id": 0, "share_encoder_decoder_embeddings": True,
                   "tie_word_embeddings": True}
# transformers' name -> the engine's activation; "gelu" there is the exact erf GELU, which kqv's
# tanh GELU only approximates (to 1e-3): refused rather than run slightly differently
ACTIVATIONS = {"swish": "silu", "silu": "silu", "relu": "relu", "gelu_new": "gelu",
               "gelu_pytorch_tanh": "gelu"}
# BART-era flags the Marian conversion left in old config.json files. MarianConfig ignores them
# and computes the value on the right; a config saying otherwise describes another model.
# add_bias_logits is not among them: old docs call Marian's final_logits_bias "add_bias_logits
# =True" while BartConfig's default, written into converted configs, was false; MarianMTModel
# adds final_logits_bias whatever it says, and so does kqv.
COMPUTED_AS = {"normalize_before": False, "normalize_embedding": False, "add_final_layer_norm": False,
               "static_position_embeddings": True, "layernorm_embedding": False, "is_decoder": False}
# generation settings kqv's decoding does not have, and the value that means "not used"
GENERATION_UNUSED = {"do_sample": False, "num_return_sequences": 1, "no_repeat_ngram_size": 0,
                     "encoder_no_repeat_ngram_size": 0, "repetition_penalty": 1.0, "min_length": 0,
                     "min_new_tokens": None, "diversity_penalty": 0.0, "num_beam_groups": 1,
                     "exponential_decay_length_penalty": None, "forced_bos_token_id": None,
                     "suppress_tokens": None, "begin_suppress_tokens": None, "constraints": None,
                     "force_words_ids": None, "sequence_bias": None, "max_time": None}
POSITIONS_TOLERANCE = 1e-4  # a stored sinusoid table is float32 of float64 sines: 1e-7 apart


@dataclass(frozen=True)
class MarianGeneration:
    """transformers' ``generate()`` settings for this model, as kqv's decoding takes them."""

    num_beams: int = 1
    max_length: int = 20  # the start token included: max_length − 1 new tokens at most
    length_penalty: float = 1.0
    early_stopping: bool = False
    banned: tuple[int, ...] = ()  # bad_words_ids of one token each (Marian: the pad token)
    force_eos: bool = False  # forced_eos_token_id: the last allowed token is the end token
    renormalize: bool = False  # renormalize_logits: log-softmax again after the bans

    @property
    def max_new(self) -> int:
        return self.max_length - 1


# -- config.json and generation_config.json -------------------------------------------------------


def _read_json(path: Path, what: str) -> dict:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise KqvError(f"{path} is {path.stat().st_size:,} bytes; a {what} is a few KB, "
                           "so this is not one")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KqvError(f"{path} is not readable JSON ({exc})") from None
    except RecursionError:
        raise KqvError(f"{path} is not a {what}: its JSON is nested too deeply to read") from None
    if not isinstance(raw, dict):
        raise KqvError(f"{path} is not a {what} (a JSON object)")
    return raw


def _whole(path: Path, raw: dict, key: str, low: int = 1):
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise KqvError(f"{path}: {key} must be a whole number ≥ {low}, got {json.dumps(value)}")
    return value


def read_config(folder: str | os.PathLike) -> TransformerConfig:
    """The model's sizes and Marian's choices from ``config.json``, refusing what kqv cannot run."""
    path = Path(folder) / CONFIG_FILE
    if not readable_file(path):
        raise KqvError(f"no {CONFIG_FILE} in {folder}: a Marian folder holds config.json, model.safetensors, "
                       "source.spm, target.spm and vocab.json")
    raw = _read_json(path, "model config")
    if raw.get("model_type") != "marian":
        raise KqvError(f"{path} describes a {raw.get('model_type', 'unnamed')!r} model; kqv translates with "
                       "the MarianMT architecture only (model_type \"marian\")")
    c = {**MARIAN_DEFAULTS, **{k: v for k, v in raw.items() if v is not None}}
    for key, computed in COMPUTED_AS.items():
        if key in raw and raw[key] != computed:
            raise KqvError(f"{path}: {key} = {json.dumps(raw[key])}, but MarianMT computes {key} = "
                           f"{json.dumps(computed)} whatever the config says; these weights were made for "
                           "another model")
    for key in ("share_encoder_decoder_embeddings", "tie_word_embeddings"):
        if c[key] is not True:
            raise KqvError(f"{path}: {key} = {json.dumps(c[key])}; kqv's Transformer has one token table for "
                           "the source, the target and the output")
    if raw.get("decoder_vocab_size") not in (None, c["vocab_size"]):
        raise KqvError(f"{path}: decoder_vocab_size {raw['decoder_vocab_size']} differs from vocab_size "
                       f"{c['vocab_size']}; kqv's Transformer has one vocabulary")
    ints = {k: _whole(path, c, k) for k in ("vocab_size", "d_model", "encoder_layers", "decoder_layers",
                                             "encoder_attention_heads", "decoder_attention_heads",
                                             "encoder_ffn_dim", "decoder_ffn_dim", "max_position_embeddings")}
    for enc, dec in (("encoder_attention_heads", "decoder_attention_heads"),
                     ("encoder_ffn_dim", "decoder_ffn_dim")):
        if ints[enc] != ints[dec]:
            raise KqvError(f"{path}: {enc} {ints[enc]} and {dec} {ints[dec]} differ; kqv's Transformer uses "
                           "one value for both")
    activation = c["activation_function"]
    if activation not in ACTIVATIONS:
        exact = " (the exact erf GELU; kqv computes the tanh one)" if activation == "gelu" else ""
        raise KqvError(f"{path}: activation_function {json.dumps(activation)}{exact} is not one the engine "
                       f"computes: {', '.join(ACTIVATIONS)}")
    eos = c["eos_token_id"]
    if isinstance(eos, list):
        if len(eos) != 1:
            raise KqvError(f"{path}: eos_token_id {json.dumps(eos)}; kqv decodes with one end token")
        eos = eos[0]
    ids = {"pad_token_id": c["pad_token_id"], "eos_token_id": eos,
           "decoder_start_token_id": c["decoder_start_token_id"]}
    for key, value in ids.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < ints["vocab_size"]:
            raise KqvError(f"{path}: {key} must be a token id below vocab_size {ints['vocab_size']}, "
                           f"got {json.dumps(value)}")
    dropout = c["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise KqvError(f"{path}: dropout must be a number in [0, 1), got {json.dumps(dropout)}")
    if not isinstance(c["scale_embedding"], bool):
        raise KqvError(f"{path}: scale_embedding must be true or false, "
                       f"got {json.dumps(c['scale_embedding'])}")
    # TransformerConfig refuses a head count that does not divide d_model and equal pad and eos ids
    return TransformerConfig(
        vocab_size=ints["vocab_size"], n_embd=ints["d_model"], n_head=ints["encoder_attention_heads"],
        n_layer=ints["encoder_layers"], n_dec_layer=ints["decoder_layers"], d_ff=ints["encoder_ffn_dim"],
        max_len=ints["max_position_embeddings"], dropout=float(dropout), norm="post",
        activation=ACTIVATIONS[activation], positions="halves", scale_embedding=c["scale_embedding"],
        final_logits_bias=True, pad_id=ids["pad_token_id"], bos_id=ids["decoder_start_token_id"],
        eos_id=ids["eos_token_id"])


def read_generation(folder: str | os.PathLike, cfg: TransformerConfig) -> MarianGeneration:
    """``generate()``'s settings: generation_config.json when the folder has one (transformers
    then ignores config.json's), else the same keys in config.json, else transformers' defaults."""
    folder = Path(folder)
    path = folder / GENERATION_FILE
    raw = _read_json(path, "generation config") if readable_file(path) else None
    if raw is None:
        path = folder / CONFIG_FILE
        raw = _read_json(path, "model config")
    g = {k: v for k, v in raw.items() if v is not None}
    for key, unused in GENERATION_UNUSED.items():
        if key in g and g[key] != unused:
            raise KqvError(f"{path}: {key} = {json.dumps(g[key])}; kqv's decoding has no such rule and "
                           "will not translate differently from transformers")
    beams = g.get("num_beams", 1)
    max_length = g.get("max_length", 20)
    if isinstance(beams, bool) or not isinstance(beams, int) or not 1 <= beams <= 64:
        raise KqvError(f"{path}: num_beams must be a whole number from 1 to 64, got {json.dumps(beams)}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 2:
        raise KqvError(f"{path}: max_length must be a whole number ≥ 2, got {json.dumps(max_length)}")
    if "max_new_tokens" in g:
        raise KqvError(f"{path}: max_new_tokens is set; kqv reads the length limit from max_length only")
    penalty = g.get("length_penalty", 1.0)
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not math.isfinite(penalty):
        raise KqvError(f"{path}: length_penalty must be a number, got {json.dumps(penalty)}")
    early = g.get("early_stopping", False)
    if early not in (True, False):  # "never" is a third rule of transformers' beam search
        raise KqvError(f"{path}: early_stopping = {json.dumps(early)}; kqv follows true or false only")
    banned = []
    for entry in g.get("bad_words_ids", []) or []:
        if not (isinstance(entry, list) and len(entry) == 1 and isinstance(entry[0], int)
                and 0 <= entry[0] < cfg.vocab_size):
            raise KqvError(f"{path}: bad_words_ids entry {json.dumps(entry)}; kqv bans single token ids only")
        banned.append(entry[0])
    forced = g.get("forced_eos_token_id")
    if isinstance(forced, list):
        forced = forced[0] if len(forced) == 1 else forced
    if forced is not None and forced != cfg.eos_id:
        raise KqvError(f"{path}: forced_eos_token_id {json.dumps(forced)} is not the end token {cfg.eos_id}")
    renormalize = g.get("renormalize_logits", False)
    if renormalize not in (True, False):
        raise KqvError(f"{path}: renormalize_logits must be true or false, got {json.dumps(renormalize)}")
    for key, want in (("decoder_start_token_id", cfg.bos_id), ("eos_token_id", cfg.eos_id),
                      ("pad_token_id", cfg.pad_id)):
        value = g.get(key, want)
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value != want:
            raise KqvError(f"{path}: {key} {json.dumps(g[key])} disagrees with config.json's {want}")
    if max_length - 1 > cfg.max_len:
        max_length = cfg.max_len + 1  # no more new tokens than positions: transformers stops there too
    return MarianGeneration(num_beams=beams, max_length=max_length, length_penalty=float(penalty),
                            early_stopping=early, banned=tuple(banned), force_eos=forced is not None,
                            renormalize=renormalize)


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
