"""``kqv export CKPT --hf DIR`` for a translation checkpoint: a MarianMT folder transformers loads.

``transformers.MarianMTModel.from_pretrained(DIR)`` loads it with no missing or unexpected
weights, and ``generate()`` gives the translation kqv gives (held by benchmarks/marian_golden.py's
export check and tests/test_hf_marian_export.py). From there the model can go on with the
Hugging Face tools; kqv stays a place to learn.

What the folder holds:

* ``config.json``: ``MarianConfig`` with kqv's sizes and choices (activation relu → ``relu``,
  gelu → ``gelu_new``, the tanh GELU kqv computes; silu → ``swish``), ``decoder_start_token_id``
  kqv's ``<s>`` (Marian's own models start from ``<pad>``; any id works);
* ``generation_config.json``: 4 beams, ``max_length`` = kqv's positions, ``<pad>`` never
  generated: what ``kqv translate --beam 4`` does, except that kqv also stops a translation at
  1.5·S + 8 pieces (transformers has no source-dependent limit);
* ``model.safetensors``: the weights under the names ``save_pretrained`` writes (the tied
  embeddings once, as ``model.shared.weight``; no position table: Marian computes it);
* ``tokenizer.json`` and ``tokenizer_config.json``: kqv's byte-level BPE, not SentencePiece.
  ``MarianTokenizer`` needs ``source.spm`` and ``target.spm``, and a BPE cannot be turned into
  a SentencePiece model, so ``tokenizer_config.json`` names transformers' generic
  ``PreTrainedTokenizerFast``, which ``AutoTokenizer.from_pretrained(DIR)`` loads from
  ``tokenizer.json``. Its post-processor appends ``</s>`` to every sentence, as kqv does.

Two things kqv has that Marian's layout lacks, and how they cross over:

* kqv's default positions interleave sines and cosines (the paper); Marian's put all the sines
  first. The two tables hold the same columns in another order, so the export reorders the
  channels of the whole residual stream with that permutation: the token table's columns,
  the rows of every matrix that reads the stream, the columns (and biases) of every matrix that
  writes to it, every LayerNorm's gain and bias. Attention scores, the feed-forward's hidden
  units and the logits (``x · wte``, both sides permuted alike) do not change at all.
* ``--norm pre`` (GPT-2's layout, with final LayerNorms) has no Marian form: refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from engine.errors import KqvError
from engine.files.atomic import atomic_write
from engine.hf.marian import WEIGHTS_FILE, marian_tensors
from engine.hf.marian_config import CONFIG_FILE, GENERATION_FILE
from engine.layers import LN_EPS
from engine.translation.model import Transformer, TransformerConfig

TOKENIZER_FILE, TOKENIZER_CONFIG_FILE = "tokenizer.json", "tokenizer_config.json"
HF_ACTIVATIONS = {"relu": "relu", "gelu": "gelu_new", "silu": "swish"}
FILES = (CONFIG_FILE, GENERATION_FILE, WEIGHTS_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE)


def halves_order(C: int) -> np.ndarray:
    """Channel order taking the interleaved position table to the halves one:
    ``halves[:, j] = interleaved[:, order[j]]``, i.e. columns 0, 2, 4, ... then 1, 3, 5, ..."""
    return np.concatenate([np.arange(0, C, 2), np.arange(1, C, 2)])


def _stream_axes(name: str) -> tuple[int, ...]:
    """Which axes of kqv parameter ``name`` run over the residual stream's C channels."""
    if name == "wte":
        return (1,)
    if name == "final_logits_bias":
        return ()
    part = name.split(".", 2)[2]  # "attn.c_attn.w", "ln_1.b", ...
    if part.startswith("ln_"):
        return (0,)
    reads = part.startswith(("attn.c_attn", "cross.c_q", "cross.c_kv", "mlp.c_fc"))
    if part.endswith(".w"):
        return (0,) if reads else (1,)
    return () if reads else (0,)  # a bias lives on the output side


def marian_state(model: Transformer) -> dict[str, np.ndarray]:
    """The model's weights as MarianMTModel's state dict (float32), channels in Marian's order."""
    cfg = model.config
    order = halves_order(cfg.n_embd) if cfg.positions == "interleaved" else None
    out: dict[str, np.ndarray] = {}
    for kqv_name, (names, transposed) in marian_tensors(cfg).items():
        value = model.params.get(kqv_name)
        if value is None:  # a model without final_logits_bias: zeros, the same function
            out["final_logits_bias"] = np.zeros((1, cfg.vocab_size), dtype=np.float32)
            continue
        value = np.asarray(value, dtype=np.float32)
        if order is not None:
            for axis in _stream_axes(kqv_name):
                value = np.take(value, order, axis=axis)
        if kqv_name == "final_logits_bias":
            out[names[0]] = value.reshape(1, -1).copy()
            continue
        parts = np.split(value, len(names), axis=-1)  # q | k | v side by side (or one part)
        for name, part in zip(names, parts, strict=True):
            out[name] = np.ascontiguousarray(part.T if transposed else part)
    return out


def marian_config_json(cfg: TransformerConfig) -> dict:
    """config.json for ``cfg``: what :func:`engine.hf.marian.read_config` and transformers read."""
    return {
        "architectures": ["MarianMTModel"], "model_type": "marian",
        "vocab_size": cfg.vocab_size, "decoder_vocab_size": cfg.vocab_size, "d_model": cfg.n_embd,
        "encoder_layers": cfg.n_layer, "decoder_layers": cfg.n_dec_layer,
        "encoder_attention_heads": cfg.n_head, "decoder_attention_heads": cfg.n_head,
        "encoder_ffn_dim": cfg.d_ff, "decoder_ffn_dim": cfg.d_ff, "max_position_embeddings": cfg.max_len,
        "activation_function": HF_ACTIVATIONS[cfg.activation], "scale_embedding": cfg.scale_embedding,
        "dropout": cfg.dropout, "attention_dropout": cfg.dropout, "activation_dropout": 0.0,
        "pad_token_id": cfg.pad_id, "eos_token_id": cfg.eos_id, "decoder_start_token_id": cfg.bos_id,
        "forced_eos_token_id": None, "bos_token_id": None,
        "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True, "is_encoder_decoder": True,
        "dtype": "float32",
    }


def generation_json(cfg: TransformerConfig) -> dict:
    """generate()'s rules for ``kqv translate --beam 4``: 4 beams, <pad> banned, no forced end."""
    return {"num_beams": 4, "max_length": cfg.max_len, "bad_words_ids": [[cfg.pad_id]],
            "decoder_start_token_id": cfg.bos_id, "eos_token_id": cfg.eos_id, "pad_token_id": cfg.pad_id}


def check_exportable(cfg: TransformerConfig) -> None:
    if cfg.norm != "post":
        raise KqvError(f"this model was trained with --norm {cfg.norm}; MarianMT is post-LN only (the "
                       "paper's layout), so it has no Marian form")
    if cfg.cross != "attention" or cfg.src_positions != "sinusoidal":
        raise KqvError("this is a what-if model of the lab (no cross-attention or no source positions); "
                       "MarianMT has no such parts, so it has no Marian form")
    if cfg.n_embd % 2:
        raise KqvError(f"n_embd {cfg.n_embd} is odd; Marian's position table needs an even width")
    if cfg.ln_eps != LN_EPS:
        raise KqvError(f"LayerNorm's ε is {cfg.ln_eps}; MarianMT computes with PyTorch's 1e-5 only")


def tokenizer_files(vocab_json: str, cfg: TransformerConfig) -> tuple[str, dict]:
    """kqv's BPE as ``tokenizer.json`` with ``</s>`` appended to each sentence, and a
    ``tokenizer_config.json`` that makes AutoTokenizer load it."""
    from tokenizers import Tokenizer, processors

    from engine.data.bpe import BOS, EOS, PAD

    tok = Tokenizer.from_str(vocab_json)
    tok.post_processor = processors.TemplateProcessing(single=f"$A {EOS}", pair=f"$A $B {EOS}",
                                                       special_tokens=[(EOS, cfg.eos_id)])
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": PAD, "eos_token": EOS,
              "bos_token": BOS, "model_max_length": cfg.max_len, "clean_up_tokenization_spaces": False}
    return tok.to_str(), config


def save_marian(model: Transformer, folder: str | os.PathLike) -> None:
    """config.json, generation_config.json and model.safetensors for ``model`` in ``folder``."""
    from safetensors.numpy import save

    cfg = model.config
    check_exportable(cfg)
    folder = Path(folder)
    with atomic_write(folder / CONFIG_FILE, "w", encoding="utf-8") as f:
        json.dump(marian_config_json(cfg), f, indent=2)
    with atomic_write(folder / GENERATION_FILE, "w", encoding="utf-8") as f:
        json.dump(generation_json(cfg), f, indent=2)
    with atomic_write(folder / WEIGHTS_FILE) as f:
        f.write(save(marian_state(model), metadata={"format": "pt"}))  # transformers wants format "pt"


def export_translation(checkpoint: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Write a ``kqv train translate`` checkpoint into ``folder`` as a MarianMT; return the folder.

    The caller has checked that the folder may be written (empty, or ``--force``)."""
    from engine.translation.checkpoint import load_translator

    model, vocab, _ = load_translator(checkpoint)
    check_exportable(model.config)
    folder = Path(folder)
    tokenizer_json, tokenizer_config = tokenizer_files(vocab.to_json(), model.config)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_marian(model, folder)
        with atomic_write(folder / TOKENIZER_FILE, "w", encoding="utf-8") as f:
            f.write(tokenizer_json)
        with atomic_write(folder / TOKENIZER_CONFIG_FILE, "w", encoding="utf-8") as f:
            json.dump(tokenizer_config, f, indent=2)
    except OSError as exc:
        raise KqvError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
