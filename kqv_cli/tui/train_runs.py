"""What the Train screen's runs start from, and the lines that say how they went.

The defaults are the commands' own (``kqv train gpt``, ``kqv train translate``, ``kqv train
digits``), each loaded through :mod:`kqv_cli.services`; a test hands the screen smaller ones. The
rest turns a run's numbers into the screen's words: the time left at the pace so far, a GPT
run's last line, the digit net's guesses on a row of validation images.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rich.text import Text

from kqv_cli.services import sampling


def default_gpt_setup():
    """(data, model config, train config): `kqv train gpt`'s defaults on Tiny Shakespeare."""
    from engine.gpt.model import GPTConfig
    from engine.gpt.train import TrainConfig
    from kqv_cli.services import datasets

    cfg = GPTConfig()
    data = datasets.text(None, cfg.block_size, offline=datasets.APP_OFFLINE)  # downloaded if need be
    cfg.vocab_size = data.vocab.size
    return data, cfg, TrainConfig()


QUICK_GPT_ITERS = 200  # the quick GPT run: a first falling curve and a sample, not a model that writes well


def quick_run(tc):
    """The train config ``tc`` cut to :data:`QUICK_GPT_ITERS` iterations, its schedule scaled with
    it: warm-up a tenth of the run, the cosine over the whole run, four evaluations (each writes a
    sample, so the text is seen to change as the loss falls)."""
    n = min(QUICK_GPT_ITERS, tc.max_iters)
    return dataclasses.replace(tc, max_iters=n, lr_decay_iters=None,
                               warmup_iters=min(tc.warmup_iters, n // 10),
                               eval_interval=min(tc.eval_interval, max(1, n // 4)))


def default_translate_setup():
    """(pairs, model sizes, train config): `kqv train translate`'s defaults on the English-French
    pairs (found on this machine or downloaded), with BLEU on 200 test sentences to end sooner."""
    from engine.data.eng_fra import fetch_eng_fra
    from engine.data.pairs import load_pairs
    from engine.translation.train import TranslateTrainConfig
    from kqv_cli.commands.translate import sizes

    splits = load_pairs(fetch_eng_fra())
    return splits, sizes(128, 4, 2, 0.1, "post", "relu"), TranslateTrainConfig(bleu_sentences=200)


def default_digits_setup():
    """((train, validation, test), settings): the book's chapter-1 run, on MNIST if here."""
    from kqv_cli.services.datasets import digits_here

    return digits_here(), {"sizes": [784, 30, 10], "epochs": 30, "batch_size": 10, "eta": 3.0}


DIGITS_SHOWN = 20  # validation images the digit net reads for `s`


def digits_guesses(net, validation, n: int = DIGITS_SHOWN) -> Text:
    """The digit net on ``n`` validation images: each label and its guess, wrong ones in red."""
    labels, guesses = sampling.digit_guesses(net, validation, n)
    line = Text(f"the digit net reads {n} validation images (label→guess): ")
    for label, guess in zip(labels, guesses, strict=True):
        line.append(f"{label}→{guess} ", style="green" if label == guess else "bold red")
    line.append(f" {int(np.sum(guesses == labels))}/{n} right")
    return line


def time_left(done: float, total: float, elapsed: float) -> str:
    """ "about 40 s left", "about 3 min left": the rest of a run at the pace so far."""
    if done <= 0:
        return "time left unknown yet"
    seconds = elapsed / done * max(total - done, 0)
    return f"about {seconds:.0f} s left" if seconds < 90 else f"about {seconds / 60:.0f} min left"


def duration(seconds: float) -> str:
    """ "45 s", "3 min 20 s", "1 h 5 min": how long a run has trained."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


RECENT = 20  # iterations averaged for "the loss now" of a cancelled run


def gpt_summary(result) -> str:
    """The end of a GPT run in one line. A cancelled run's last evaluation may be far behind (at
    iteration 0 it is the untrained 4.2), so its latest training loss leads, named as such."""
    if not result.stopped:
        return (f"GPT done at iteration {result.iters}: train {result.train_loss:.4f}, "
                f"val {result.val_loss:.4f}, {result.ms_per_iter:.0f} ms/iter")
    recent = result.losses[-RECENT:]
    now = (f"loss {sum(recent) / len(recent):.4f} (mean of the last {len(recent)} iterations)"
           if recent else "no iteration finished")
    last_eval = result.evals[-1] if result.evals else None
    evaluated = (f"; last evaluation at iteration {last_eval.iter}: val {last_eval.val_loss:.4f}"
                 if last_eval is not None else "")
    return f"GPT cancelled at iteration {result.iters}: {now}{evaluated}"
