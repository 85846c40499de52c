"""Training an experiment's variants side by side and measuring them.

GPT variants are trained *interleaved*: iteration k of every variant runs before iteration
k+1 of any, each with its own model, optimiser and random streams (so each variant's numbers
are exactly those of a run alone). Their loss curves grow together, which is what the Lab
screen shows live. Digit nets train in about a second per epoch and run one after another.

The caller watches through ``on_event`` (small dataclasses: :class:`Point` for a curve,
:class:`VariantDone` when a variant is measured) and may stop between iterations with
``should_stop``. Finished variants are cached (:mod:`kqv_cli.lab.cache`); a stopped run
caches nothing it did not finish. What a run gives back is in :mod:`kqv_cli.lab.results`; the
translation Transformer's variants train in :mod:`kqv_cli.lab.translation_runner`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from engine.data.text import TextData, decode_fast
from engine.errors import KqvError, TrainingDiverged
from engine.gpt.model import GPTConfig
from engine.gpt.train import GPTTrainer, TrainConfig
from engine.runtime.blas import blas_threads
from kqv_cli.lab import cache
from kqv_cli.lab.experiments import DIGITS_BASE, GPT_BASE, GPT_TRAIN, Experiment, Variant
from kqv_cli.lab.interleaved import new_run, train_interleaved
from kqv_cli.lab.measures import probe, real_words_per_100, words_of
from kqv_cli.lab.results import Curve, LabResult, Point, VariantDone, VariantResult, cached_result
from kqv_cli.lab.translation_runner import TranslationRuns

SAMPLE_CHARS = 300
PROBE_WINDOWS = 256
SUBSET = 1000  # validation images scored at each point of a digit curve


def run_experiment(exp: Experiment, data, *, budget: int | None = None, seed: int = 0, fresh: bool = False,
                   on_event: Callable | None = None, should_stop: Callable[[], bool] | None = None,
                   threads: int = 1, data_key: str | None = None) -> LabResult:
    """Train (or read from the cache) every variant of ``exp`` and measure it.

    ``data`` is a :class:`~engine.data.text.TextData` for a GPT experiment and the ``(train,
    validation, test)`` digits for a digit-net one. ``budget`` overrides the experiment's
    (GPT: iterations; digit net: epochs). ``fresh`` ignores the cache and retrains.
    ``threads``: BLAS threads. One, because the lab's matrices are small: a second thread was
    measured 10x slower per GPT iteration (127 ms against 12) with the other core busy.
    ``data_key`` (:func:`cache.data_here`, when ``data`` is the lab's default) notes a finished
    run in the cache's index, so the Lab screen can mark the experiment cached.
    """
    budget = exp.budget if budget is None else int(budget)
    if budget <= 0:
        raise KqvError(f"the budget must be at least 1 {exp.unit}, got {budget}")
    emit = on_event or (lambda event: None)
    stop = should_stop or (lambda: False)
    if exp.kind == "gpt":
        if not isinstance(data, TextData):
            raise KqvError(f"{exp.name} trains a GPT and needs a text")
        runs = GPTRuns(exp, data, budget, seed)
        source = data.source or "the given text"
    elif exp.kind == "translation":
        runs = TranslationRuns(exp, data, budget, seed)
        source = data.source
    else:
        runs = DigitRuns(exp, data, budget, seed)
        source = data[0].source
    paths = {v.label: runs.path(v) for v in exp.variants}
    done: dict[str, VariantResult] = {}
    todo: list[Variant] = []
    for v in exp.variants:
        result = None if fresh else cached_result(paths[v.label], v.label)
        if result is not None:
            done[v.label] = result
            for x, y in result.curve:
                emit(Point(v.label, x, y))
            emit(VariantDone(result))
        else:
            todo.append(v)
    stopped = False
    if todo:
        with blas_threads(threads):
            for result in runs.train(todo, emit, stop):
                if result is None:  # stopped
                    stopped = True
                    break
                done[result.label] = result
                cache.write_cached(paths[result.label], {"result": result.to_json()})
                emit(VariantDone(result))
    ordered = [done[v.label] for v in exp.variants if v.label in done]
    if data_key is not None and not stopped:
        cache.record_run(cache.run_key(exp.name, budget, seed, data_key), list(paths.values()))
    return LabResult(exp, budget, seed, source, ordered, stopped=stopped)


# -- the GPT ------------------------------------------------------------------------------


class GPTRuns:
    def __init__(self, exp: Experiment, data: TextData, budget: int, seed: int):
        self.exp, self.data, self.budget, self.seed = exp, data, budget, seed
        self.fingerprint = cache.data_fingerprint(data.train, data.val)
        self._known_words: set[str] | None = None

    def configs(self, v: Variant) -> tuple[GPTConfig, TrainConfig]:
        model = {**GPT_BASE, **self.exp.base, **v.changes}
        train = {k: model.pop(k) for k in list(model) if k in GPT_TRAIN}
        cfg = GPTConfig(vocab_size=self.data.vocab.size, **model)
        tc = TrainConfig(**{**GPT_TRAIN, **train}, max_iters=self.budget, eval_interval=self.budget + 1,
                         seed=self.seed, threads=1)
        return cfg, tc

    def path(self, v: Variant):
        cfg, tc = self.configs(v)
        train = asdict(tc)
        train.pop("threads")
        return cache.cache_path("gpt", cache.cache_key(
            {"model": cfg.to_dict(), "train": train, "data": self.fingerprint,
             "vocab": self.data.vocab.chars}))

    @property
    def unigram_loss(self) -> float:
        """The loss of guessing each character from the letter frequencies alone (no context)."""
        p = np.bincount(self.data.train, minlength=self.data.vocab.size) / self.data.train.size
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    @property
    def known_words(self) -> set[str]:
        if self._known_words is None:
            self._known_words = words_of(decode_fast(self.data.vocab, self.data.train))
        return self._known_words

    def train(self, variants: list[Variant], emit, stop):
        """Yield each variant's result once all have trained (None if stopped first)."""
        runs = []
        for v in variants:
            cfg, tc = self.configs(v)
            trainer = GPTTrainer(self.data, cfg, tc)
            runs.append({**new_run(trainer, [Curve(v.label, self.budget, emit)]), "v": v})
        if not train_interleaved(runs, self.budget, stop):
            yield None
            return
        for run in runs:
            yield self.measure(run)

    def measure(self, run) -> VariantResult:
        trainer, v = run["trainer"], run["v"]
        t0 = time.perf_counter()
        cfg, tc = trainer.model.config, trainer.tc
        config = {**cfg.to_dict(), **{k: getattr(tc, k) for k in GPT_TRAIN}, "iters": self.budget}
        if run["diverged"]:
            return VariantResult(v.label, config, dict.fromkeys(GPT_METRICS), run["curves"][0].points,
                                 diverged=run["diverged"], seconds=run["seconds"])
        ev = trainer.estimate_loss()
        metrics = {"train_loss": ev.train_loss, "val_loss": ev.val_loss,
                   **probe(trainer.model, self.data.val, PROBE_WINDOWS, self.seed)}
        vocab = self.data.vocab
        start = vocab.encode(vocab.start_char)
        ids = trainer.model.generate(start, SAMPLE_CHARS, temperature=0.8, top_k=None,
                                     rng=np.random.default_rng([self.seed, 11]))
        sample = vocab.decode(ids[1:])
        metrics["words"] = real_words_per_100(sample, self.known_words)
        metrics["ms_per_iter"] = 1000 * run["seconds"] / self.budget
        metrics["unigram_loss"] = self.unigram_loss
        return VariantResult(v.label, config, metrics, run["curves"][0].points, sample=sample,
                             seconds=run["seconds"] + time.perf_counter() - t0)


GPT_METRICS = ("train_loss", "val_loss", "next_loss", "entropy", "entropy_uniform", "words", "ms_per_iter",
               "unigram_loss")


# -- the digit net ---------------------------------------------------------------------------


class DigitRuns:
    def __init__(self, exp: Experiment, data, budget: int, seed: int):
        from engine.data.mnist import Digits

        if not (isinstance(data, tuple) and len(data) == 3 and all(isinstance(d, Digits) for d in data)):
            raise KqvError(f"{exp.name} trains the digit net and needs (train, validation, test) digits")
        self.exp, self.budget, self.seed = exp, budget, seed
        self.train_set, self.validation, _ = data
        if len(self.train_set) == 0 or len(self.validation) == 0:
            raise KqvError("the digit experiments need training and validation images")
        self.fingerprint = cache.data_fingerprint(self.train_set.x, self.train_set.labels,
                                                  self.validation.x, self.validation.labels)

    def settings(self, v: Variant) -> dict:
        return {**DIGITS_BASE, **self.exp.base, **v.changes, "epochs": self.budget}

    def path(self, v: Variant):
        return cache.cache_path("digits", cache.cache_key(
            {"settings": self.settings(v), "data": self.fingerprint, "source": self.train_set.source,
             "seed": self.seed}))

    def train(self, variants: list[Variant], emit, stop):
        for v in variants:
            result = self.train_one(v, emit, stop)
            yield result
            if result is None:
                return

    def train_one(self, v: Variant, emit, stop) -> VariantResult | None:
        from engine.digits.network import Network

        s = self.settings(v)
        net = Network(s["sizes"], activation=s["activation"], cost=s["cost"], seed=self.seed)
        vx, vy = self.validation.x, self.validation.labels
        sub_x, sub_y = vx[:SUBSET], vy[:SUBSET]
        curve = Curve(v.label, 1, emit)
        curve.add(0, 0.0, net.evaluate(sub_x, sub_y) / len(sub_y))
        per_epoch = 10
        metrics = {"first_tenth": None, "epoch1": None, "accuracy": None, "train_cost": None}
        state = {"epoch": 1, "stopped": False}

        def on_batch(done, total):
            step = max(1, total // per_epoch)
            if done % step == 0 or done == total:
                acc = net.evaluate(sub_x, sub_y) / len(sub_y)
                if state["epoch"] == 1 and metrics["first_tenth"] is None:
                    metrics["first_tenth"] = acc
                curve.add(0, state["epoch"] - 1 + done / total, acc)

        def on_epoch(r):
            acc = r.validation_correct / r.validation_total
            if r.epoch == 1:
                metrics["epoch1"] = acc
            metrics["accuracy"], metrics["train_cost"] = acc, r.train_cost
            state["epoch"] = r.epoch + 1

        def should_stop():
            state["stopped"] = state["stopped"] or stop()
            return state["stopped"]

        t0 = time.perf_counter()
        diverged = None
        try:
            net.SGD((self.train_set.x, self.train_set.labels), self.budget, s["batch_size"], s["eta"],
                    seed=self.seed, schedule=s["schedule"], validation_data=(vx, vy),
                    on_batch=on_batch, on_epoch=on_epoch, should_stop=should_stop)
        except TrainingDiverged as exc:
            diverged = str(exc).split(":")[0]
            metrics = dict.fromkeys(metrics)
        if state["stopped"]:
            return None
        return VariantResult(v.label, s, metrics, curve.points, diverged=diverged,
                             seconds=time.perf_counter() - t0)

