"""A GPT checkpoint read back: its sizes and vocabulary checked before a model is built.

:func:`checked_model` trusts nothing in a checkpoint's metadata until it agrees with the
stored arrays and with this machine's memory; :func:`load_gpt` builds the model from it (``kqv
sample``, the export to Hugging Face). :class:`engine.gpt.train.GPTTrainer` writes them and
resumes from them.
"""

from __future__ import annotations

import os

from engine.data.text import CharVocab
from engine.errors import KqvError
from engine.files.checkpoint import load_checkpoint
from engine.gpt.config import GPTConfig, count_parameters
from engine.gpt.model import GPT
from engine.runtime.memory import check_fits, gpt_memory

KIND = "gpt"  # what a GPT checkpoint says it is, so another command's file is refused by name


def checked_model(path, arrays: dict, meta: dict) -> tuple[GPTConfig, CharVocab]:
    """The model's sizes and vocabulary from a checkpoint's metadata, once they agree with each
    other, with the arrays stored beside them and with this machine's memory: nothing is built
    from the metadata before that (a crafted ``n_embd: 20000`` would ask for gigabytes)."""
    model, chars = meta.get("model"), meta.get("vocab")
    if not isinstance(model, dict):
        raise KqvError(f"{path} is a damaged gpt checkpoint (no model sizes)")
    try:
        config = GPTConfig.from_dict(model)  # checks types and ranges
    except KqvError as exc:
        raise KqvError(f"{path} is a damaged gpt checkpoint: {exc}") from None
    if not (isinstance(chars, str) and chars and len(set(chars)) == len(chars)):
        raise KqvError(f"{path} is a damaged gpt checkpoint (its vocabulary is not a string of distinct "
                       "characters)")
    if len(chars) != config.vocab_size:
        raise KqvError(f"{path} is a damaged gpt checkpoint: its vocabulary has {len(chars)} characters "
                       f"but its embedding has {config.vocab_size} rows")
    check_fits(gpt_memory(config, 1, training=False), f"the model in {path}",
               "it is larger than this machine can hold")
    C = config.n_embd
    embeddings = {"wte": (config.vocab_size, C),
                  "wpe": (config.block_size, C) if config.pos == "learned" else None}
    for name, shape in embeddings.items():
        if shape is not None and name in arrays and arrays[name].shape != shape:
            raise KqvError(f"{path} is a damaged gpt checkpoint: {name} is {arrays[name].shape}, its sizes "
                           f"need {shape}")
    expected = sum(count_parameters(config).values())
    stored = sum(a.size for name, a in arrays.items() if not name.startswith("adam."))
    if stored != expected:
        raise KqvError(f"{path} is a damaged gpt checkpoint: it stores {stored:,} parameters, its sizes "
                       f"describe a model of {expected:,}")
    return config, CharVocab(chars)


def load_gpt(path: str | os.PathLike) -> tuple[GPT, CharVocab, dict]:
    """A trained model and its vocabulary from a checkpoint, for sampling."""
    arrays, meta = load_checkpoint(path, KIND)
    config, vocab = checked_model(path, arrays, meta)
    model = GPT(config, init=False)
    model.load_params(arrays)
    return model, vocab, meta
