"""The real model a lesson can run on instead of its own small one, for ``kqv learn --model``,
``kqv lessons show --model`` and the lesson screen's ``g`` key alike: one table, one check.

The attention lesson runs on GPT-2, the translation lesson on MarianMT; each folder is checked
to hold that model and to fit in memory before anything loads it.
"""

from __future__ import annotations

# the lessons that can run on a real model: (its name, the --model the g key uses by default,
# the command that downloads it)
REAL_MODELS = {"attention": ("GPT-2", "gpt2", "kqv data gpt2"),
               "translation": ("MarianMT", "opus-mt-en-fr", "kqv data marian")}
MODEL_LESSONS = "--model runs the attention lesson on GPT-2 or the translation lesson on MarianMT"


def real_model_folder(lesson_id: str, model: str):
    """The folder of the real model ``model`` names for ``lesson_id`` (GPT-2 for attention, MarianMT
    for translation), checked to be one and to fit in memory; KqvError (one line) otherwise."""
    from engine.errors import KqvError
    from engine.hf.hub import model_folder

    if lesson_id == "translation":
        from engine.hf import marian
        from engine.hf.hub import MARIAN_MODELS, marian_name

        folder = model_folder(marian_name(model), MARIAN_MODELS)
        marian.check_marian_fits(marian.read_config(folder), folder)  # not Marian, or too big
        return folder
    if lesson_id != "attention":
        raise KqvError(f"{MODEL_LESSONS}, not the {lesson_id} lesson")
    from engine.hf.gpt2 import check_gpt2_fits, read_config

    folder = model_folder(model)
    check_gpt2_fits(read_config(folder), folder)  # not GPT-2, or too big: one line, here
    return folder
