"""``kqv export CKPT --hf DIR``: a character GPT trained in kqv, out as a Hugging Face GPT-2 folder.

The folder holds what ``save_pretrained`` would write for the same model, so
``transformers.GPT2LMHeadModel.from_pretrained(DIR)`` and ``AutoTokenizer.from_pretrained(DIR)``
load it and compute the same next-token probabilities as ``kqv sample``. From there the model
can keep training with PyTorch on GPUs and many machines (transformers, accelerate): kqv stays
a place to learn, not a training framework.

* ``config.json`` and ``model.safetensors``: :func:`engine.hf.gpt2.save_gpt2`;
* ``tokenizer.json``: the character vocabulary (:func:`engine.hf.tokenizer.char_tokenizer_json`);
* ``tokenizer_config.json``: names the generic fast tokenizer, so transformers does not take the
  folder's ``model_type`` (gpt2) to mean GPT-2's own BPE. It names no padding token: one named
  there becomes a special token, and decoding with ``skip_special_tokens`` (as the
  text-generation pipeline does) would drop that character from every text. The README gives
  the one line that sets it for a padded batch (:func:`engine.hf.tokenizer.stand_in`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.errors import KqvError
from engine.files.atomic import atomic_write
from engine.hf.gpt2 import save_gpt2
from engine.hf.tokenizer import TOKENIZER_FILE, char_tokenizer_json

TOKENIZER_CONFIG = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}


def check_folder(folder: Path, force: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise KqvError(f"--hf {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise KqvError(f"--hf {folder} exists and is not empty; choose a new folder or pass --force "
                       "to write over its model files")


def export_checkpoint(checkpoint: str | os.PathLike, folder: str | os.PathLike, force: bool = False) -> Path:
    """Write ``checkpoint`` (a ``kqv train gpt`` checkpoint) into ``folder``; return the folder.
    A ``kqv train translate`` checkpoint becomes a MarianMT folder instead
    (:mod:`engine.hf.marian_export`).

    Refuses a digit-net checkpoint (GPT-2 is a GPT) and a folder that exists with files in it,
    unless ``force`` (then the four files are replaced and the rest left alone).
    """
    from engine.gpt.checkpoint import KIND, load_gpt

    checkpoint, folder = Path(checkpoint), Path(folder)
    try:
        model, vocab, _ = load_gpt(checkpoint)
    except KqvError as exc:
        if "is a digits checkpoint" in str(exc):  # engine.files.checkpoint names the kind it found
            raise KqvError(f"{checkpoint} is a digits checkpoint: only a {KIND} checkpoint (kqv train gpt) "
                           "or a translate one (kqv train translate) has a Hugging Face form") from None
        if "is a translate checkpoint" not in str(exc):
            raise
        model = None  # an encoder-decoder: a MarianMT folder (engine.hf.marian_export)
    check_folder(folder, force)
    if model is None:
        from engine.hf.marian_export import export_translation

        return export_translation(checkpoint, folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save_gpt2(model, folder)
        with atomic_write(folder / TOKENIZER_FILE, "w", encoding="utf-8") as f:
            f.write(char_tokenizer_json(vocab))
        with atomic_write(folder / "tokenizer_config.json", "w", encoding="utf-8") as f:
            json.dump(TOKENIZER_CONFIG, f, indent=2)
    except OSError as exc:
        raise KqvError(f"cannot write {folder}: {exc.strerror or exc}") from None
    return folder
