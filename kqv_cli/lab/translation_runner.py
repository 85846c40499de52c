"""Training and measuring the translation Transformer's what-ifs (encoder–decoder variants on
sentence pairs): the translation counterpart of :mod:`kqv_cli.lab.runner`, which calls it.

Variants that differ only in how the trained model translates (the beam) share one training;
each is then measured on the test pairs (validation loss, BLEU, distinct translations, speed)
and shows a few test sentences it translated.
"""

from __future__ import annotations

import math
import time
from dataclasses import fields

import numpy as np

from engine.errors import KqvError
from kqv_cli.lab import cache
from kqv_cli.lab.experiments import Experiment, Variant
from kqv_cli.lab.interleaved import new_run, train_interleaved
from kqv_cli.lab.results import Curve, VariantResult

EXAMPLES = 4  # test sentences shown translated by each variant
TX_METRICS = ("train_loss", "val_loss", "perplexity", "bleu", "distinct", "unigram_loss", "ms_per_iter",
              "ms_per_sentence")


def examples(sources: list[str], hypotheses: list[str], references: list[list[str]],
             k: int | None = None) -> str:
    """``k`` test sentences and their translations, one a line: the first two, then the first ones
    translated wrong (a what-if shows in its mistakes), each wrong one followed by a reference."""
    k = EXAMPLES if k is None else k
    n = len(sources)
    first = list(range(min(2, n, k)))
    later = range(len(first), n)
    wrong = [i for i in later if hypotheses[i] not in references[i]][: k - len(first)]
    right = [i for i in later if i not in wrong][: k - len(first) - len(wrong)]
    lines = []
    for i in sorted(first + wrong + right):
        ok = hypotheses[i] in references[i]
        lines.append(f"{sources[i]} → {hypotheses[i]}"
                     + ("" if ok else f"   (reference: {references[i][0]})"))
    return "\n".join(lines)


class TranslationRuns:
    """The encoder–decoder variants of a translation experiment, on :class:`~kqv_cli.lab.pairs.LabPairs`.

    A variant's ``changes`` name model parts and sizes (:class:`TransformerConfig` fields),
    training settings (:class:`TranslateTrainConfig` fields) or ``beam``, which only changes how
    the trained model translates: variants that differ by their beam alone share one training.
    """

    def __init__(self, exp: Experiment, data, budget: int, seed: int):
        from kqv_cli.lab.pairs import LabPairs

        if not isinstance(data, LabPairs):
            raise KqvError(f"{exp.name} trains a translation model and needs sentence pairs")
        if not data.splits.train or not data.splits.test:
            raise KqvError("the translation experiments need training and test sentence pairs")
        self.exp, self.data, self.budget, self.seed = exp, data, budget, seed

    def settings(self, v: Variant) -> tuple[dict, dict, int]:
        """(model sizes and parts, training settings, beam) of a variant."""
        from engine.translation.train import TranslateTrainConfig
        from kqv_cli.lab.experiments import TX_BASE, TX_TRAIN

        changes = {**TX_BASE, **TX_TRAIN, **self.exp.base, **v.changes}
        beam = changes.pop("beam", 1)
        train_fields = {f.name for f in fields(TranslateTrainConfig)}
        train = {k: changes.pop(k) for k in list(changes) if k in train_fields}
        train.update(max_iters=self.budget, seed=self.seed, bleu_sentences=0, threads=1,
                     eval_interval=self.budget + 1)
        return changes, train, beam

    def train_key(self, v: Variant) -> str:
        sizes, train, _ = self.settings(v)
        return cache.cache_key({"model": sizes, "train": train, "data": self.data.fingerprint})

    def path(self, v: Variant):
        sizes, train, beam = self.settings(v)
        return cache.cache_path("translation", cache.cache_key(
            {"model": sizes, "train": train, "beam": beam, "data": self.data.fingerprint}))

    def train(self, variants: list[Variant], emit, stop):
        """Train each distinct setting once, interleaved; yield every variant's result (None if stopped)."""
        from engine.translation.train import TranslateTrainConfig, TranslateTrainer

        runs: dict[str, dict] = {}
        for v in variants:
            key = self.train_key(v)
            if key not in runs:
                sizes, train, _ = self.settings(v)
                trainer = TranslateTrainer(self.data.splits, sizes, TranslateTrainConfig(**train))
                runs[key] = new_run(trainer, [])
            runs[key]["curves"].append(Curve(v.label, self.budget, emit))
        if not train_interleaved(list(runs.values()), self.budget, stop):
            yield None
            return
        for v in variants:
            if stop():
                yield None
                return
            run = runs[self.train_key(v)]
            yield self.measure(v, run, next(c for c in run["curves"] if c.label == v.label))

    def measure(self, v: Variant, run, curve: Curve) -> VariantResult:
        from engine.translation.evaluate import corpus_bleu, translate_texts

        trainer = run["trainer"]
        sizes, train, beam = self.settings(v)
        config = {**sizes, **{k: train[k] for k in ("lr", "warmup_iters", "smoothing", "batch_size",
                                                    "vocab_size")}, "beam": beam, "iters": self.budget}
        if run["diverged"]:
            return VariantResult(v.label, config, dict.fromkeys(TX_METRICS), curve.points,
                                 diverged=run["diverged"], seconds=run["seconds"])
        # a training shared by several variants (their beams) counts in the first one's time only
        train_seconds = 0.0 if run.get("timed") else run["seconds"]
        run["timed"] = True
        t0 = time.perf_counter()
        val_loss = trainer.val_loss()
        test = self.data.splits.test
        sources, references = [s for s, _ in test], [t for _, t in test]
        t1 = time.perf_counter()
        hypotheses = translate_texts(trainer.model, trainer.vocab, sources, beam=beam)
        ms_per_sentence = 1000 * (time.perf_counter() - t1) / len(sources)
        recent = trainer.losses[-max(1, self.budget // 10):]
        metrics = {"train_loss": float(np.mean(recent)), "val_loss": val_loss,
                   "perplexity": math.exp(min(val_loss, 50.0)), "bleu": corpus_bleu(hypotheses, references),
                   "distinct": len(set(hypotheses)) / len(hypotheses),
                   "unigram_loss": self.unigram_loss(trainer),
                   "ms_per_iter": 1000 * run["seconds"] / self.budget, "ms_per_sentence": ms_per_sentence}
        sample = examples(sources, hypotheses, references)
        return VariantResult(v.label, config, metrics, curve.points, sample=sample,
                             seconds=train_seconds + time.perf_counter() - t0)

    @staticmethod
    def unigram_loss(trainer) -> float:
        """The loss of guessing each target piece from the pieces' frequencies alone: what a model
        that learnt nothing of the source, nor of the words before, would score."""
        counts = np.bincount(np.concatenate([t[1:] for t in trainer.train_ids.tgt]),
                             minlength=trainer.vocab.size)
        p = counts[counts > 0] / counts.sum()
        return float(-(p * np.log(p)).sum())
