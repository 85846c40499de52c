"""A MarianMT folder's config.json and generation_config.json, read into kqv's terms.

:func:`read_config` turns Marian's config into a :class:`TransformerConfig` (the facts where
Marian is not the paper are fields of it; what kqv would compute differently is refused in one
line); :func:`read_generation` reads how transformers' ``generate()`` translates into a
:class:`MarianGeneration`. :mod:`engine.hf.marian` loads the weights with them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import KqvError
from engine.files.reading import readable_file
from engine.translation.model import TransformerConfig

CONFIG_FILE, GENERATION_FILE = "config.json", "generation_config.json"

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
