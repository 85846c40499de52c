"""A translation checkpoint: what a training run writes, what resuming it reads, and the model read back.

:func:`training_checkpoint` is the arrays and metadata a
:class:`engine.translation.train.TranslateTrainer` saves (weights, Adam state, the dropout
generators' states, the record so far); :func:`restore_training` checks them and puts a resumed
run back where it stopped. :func:`checked_model` trusts nothing in a checkpoint's metadata until
it agrees with the stored arrays and with this machine's memory; :func:`load_translator` builds
the trained model from it (``kqv translate``, the lesson, the export to MarianMT).
"""

from __future__ import annotations

import os
from dataclasses import asdict

from engine.data.bpe import BPEVocab
from engine.errors import KqvError
from engine.files.checkpoint import checked_training_state, load_checkpoint
from engine.runtime.memory import check_fits, translation_memory
from engine.translation.model import Transformer, TransformerConfig

KIND = "translate"  # what a translation checkpoint says it is, so another command's file is refused


# -- the training run's state --------------------------------------------------------------------


def training_checkpoint(trainer) -> tuple[dict, dict]:
    """The arrays and metadata of a :class:`~engine.translation.train.TranslateTrainer`'s run:
    everything a resumed run needs to draw the same batches and dropout masks."""
    arrays = dict(trainer.model.state_dict())
    arrays["adam.m"], arrays["adam.v"] = trainer.opt.m, trainer.opt.v
    meta = {
        "kind": KIND,
        "model": asdict(trainer.model.config),
        "train": asdict(trainer.tc),
        "vocab": trainer.vocab.to_json(),
        "iter": trainer.iter,
        "adam_t": trainer.opt.t,
        "dropout_rngs": [rng.bit_generator.state for rng in trainer.dropout_rngs],
        "evals": [asdict(e) for e in trainer.evals],
        "losses": trainer.losses,
        "pairs": trainer.splits.source,
        "n_pairs": trainer.splits.n_pairs,
    }
    return arrays, meta


def restore_training(trainer, resume, arrays: dict, meta: dict) -> tuple[int, list[dict], list[float]]:
    """Checks a checkpoint's training state and restores the trainer's Adam state and dropout
    generators from it; returns the iteration, the evaluations (dicts) and the losses so far."""

    def damaged(what: str) -> KqvError:
        return KqvError(f"{resume} cannot be resumed: {what} (kqv translate still reads its weights)")

    m, v, evals, losses = checked_training_state(arrays, meta, trainer.model.num_params, damaged)
    states = meta.get("dropout_rngs")
    if not isinstance(states, list) or len(states) != len(trainer.dropout_rngs):
        raise damaged("it lacks its dropout generators' states")
    try:
        for rng, state in zip(trainer.dropout_rngs, states, strict=True):
            rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError, OverflowError):
        raise damaged("a dropout generator's state is not one numpy can restore") from None
    trainer.opt.load_state({"m": m, "v": v}, meta["adam_t"])
    return meta["iter"], evals, list(losses)



# -- reading a checkpoint back --------------------------------------------------------------------


def checked_model(path, arrays: dict, meta: dict) -> tuple[TransformerConfig, BPEVocab]:
    """The model's sizes and vocabulary from a checkpoint, once they agree with each other, with
    the arrays stored and with this machine's memory: nothing is built before that."""
    model = meta.get("model")
    if not isinstance(model, dict):
        raise KqvError(f"{path} is a damaged translate checkpoint (no model sizes)")
    try:
        config = TransformerConfig.from_dict(model)
    except (KqvError, TypeError, ValueError) as exc:
        raise KqvError(f"{path} is a damaged translate checkpoint: {exc}") from None
    vocab = BPEVocab.from_json(meta.get("vocab"), where=str(path))
    if vocab.size != config.vocab_size:
        raise KqvError(f"{path} is a damaged translate checkpoint: its vocabulary has {vocab.size} pieces "
                       f"but its embedding has {config.vocab_size} rows")
    check_fits(translation_memory(config, 1, config.max_len, training=False), f"the model in {path}",
               "it is larger than this machine can hold")
    return config, vocab


def load_translator(path: str | os.PathLike) -> tuple[Transformer, BPEVocab, dict]:
    """A trained translation model and its vocabulary from a checkpoint."""
    arrays, meta = load_checkpoint(path, KIND)
    config, vocab = checked_model(path, arrays, meta)
    weights = {k: v for k, v in arrays.items() if not k.startswith("adam.")}
    model = Transformer(config, init=False)
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as exc:
        raise KqvError(f"{path} is a damaged translate checkpoint: its weights do not fit its sizes "
                       f"({exc})") from None
    return model, vocab, meta
