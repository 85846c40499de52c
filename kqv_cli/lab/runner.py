"""Training an experiment's variants side by side and measuring them.

GPT variants are trained *interleaved*: iteration k of every variant runs before iteration
k+1 of any, each with its own model, optimiser and random streams (so each variant's numbers
are exactly those of a run alone). Their loss curves grow together, which is what the Lab
screen shows live. Digit nets train in about a second per epoch and run one after another.

The caller watches through ``on_event`` (small dataclasses: :class:`Point` for a curve,
:class:`VariantDone` when a variant is measured) and may stop between iterations with
``should_stop``. Finished variants are cached (:mod:`kqv_cli.lab.cache`); a stopped run
caches nothing it did not finish.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from engine.data.text import TextData, decode_fast
from engine.errors import KqvError, TrainingDiverged
from engine.gpt.model import GPTConfig
from engine.gpt.train import GPTTrainer, TrainConfig
from engine.runtime.blas import blas_threads
from kqv_cli.lab import cache
from kqv_cli.lab.experiments import DIGITS_BASE, GPT_BASE, GPT_TRAIN, Experiment, Variant
from kqv_cli.lab.measures import probe, real_words_per_100, words_of

CURVE_POINTS = 120  # points kept per curve: plenty for a terminal chart
SAMPLE_CHARS = 300
PROBE_WINDOWS = 256
SUBSET = 1000  # validation images scored at each point of a digit curve


@dataclass
class Point:
    """A new point of a variant's curve: GPT (iteration, smoothed train loss), digits (epoch, accuracy)."""

    label: str
    x: float
    y: float


@dataclass
class VariantDone:
    result: VariantResult


@dataclass
class VariantResult:
    label: str
    config: dict  # every setting the variant trained with
    metrics: dict  # name -> number (None when it could not be measured, e.g. diverged)
    curve: list = field(default_factory=list)  # [[x, y], ...]
    sample: str = ""
    diverged: str | None = None  # the reason, when training blew up
    seconds: float = 0.0
    cached: bool = False

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("cached")
        return d


@dataclass
class LabResult:
    experiment: Experiment
    budget: int
    seed: int
    data: str
    variants: list[VariantResult]
    stopped: bool = False

    @property
    def by_label(self) -> dict[str, VariantResult]:
        return {v.label: v for v in self.variants}

    @property
    def verdict(self) -> str:
        """The explanation, written from this run's numbers (empty when the run was stopped)."""
        if self.stopped or len(self.variants) < len(self.experiment.variants):
            return ""
        return self.experiment.verdict(self.by_label)

    @property
    def seconds(self) -> float:
        return sum(v.seconds for v in self.variants if not v.cached)

    def to_json(self) -> dict:
        exp = self.experiment
        return {
            "experiment": exp.name, "kind": exp.kind, "question": exp.question, "budget": self.budget,
            "budget_unit": exp.unit, "seed": self.seed, "data": self.data, "stopped": self.stopped,
            "variants": [{**v.to_json(), "cached": v.cached} for v in self.variants],
            "verdict": self.verdict, "seconds": round(self.seconds, 3),
        }


def run_experiment(exp: Experiment, data, *, budget: int | None = None, seed: int = 0, fresh: bool = False,
                   on_event: Callable | None = None, should_stop: Callable[[], bool] | None = None,
                   threads: int = 1) -> LabResult:
    """Train (or read from the cache) every variant of ``exp`` and measure it.

    ``data`` is a :class:`~engine.data.text.TextData` for a GPT experiment and the ``(train,
    validation, test)`` digits for a digit-net one. ``budget`` overrides the experiment's
    (GPT: iterations; digit net: epochs). ``fresh`` ignores the cache and retrains.
    ``threads``: BLAS threads. One, because the lab's matrices are small: a second thread was
    measured 10x slower per GPT iteration (127 ms against 12) with the other core busy.
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
    return LabResult(exp, budget, seed, source, ordered, stopped=stopped)


def cached_result(path, label: str) -> VariantResult | None:
    """The cached result at ``path`` under this ``label`` (the same settings may have been
    trained under another experiment's label), or None for a miss or a file of another shape."""
    doc = cache.read_cached(path)
    raw = doc.get("result") if doc is not None else None
    if not _is_result(raw):
        return None  # a miss: the variant is trained again and the entry rewritten
    return VariantResult(**{**raw, "label": label}, cached=True)


def _is_result(raw) -> bool:
    """Whether a cache entry has every field of a :class:`VariantResult` with the right type, and
    numbers to judge by (a hand-edited ``curve: 5`` or empty ``metrics`` is not a result)."""

    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if not (isinstance(raw, dict) and set(raw) == {f.name for f in fields(VariantResult)} - {"cached"}):
        return False
    metrics, curve = raw["metrics"], raw["curve"]
    return (isinstance(raw["label"], str) and isinstance(raw["config"], dict)
            and isinstance(raw["sample"], str) and number(raw["seconds"])
            and (raw["diverged"] is None or isinstance(raw["diverged"], str))
            and isinstance(metrics, dict) and bool(metrics)
            and all(isinstance(k, str) and (v is None or number(v)) for k, v in metrics.items())
            and isinstance(curve, list)
            and all(isinstance(p, list) and len(p) == 2 and all(map(number, p)) for p in curve))


class Curve:
    """Collects a curve's points, keeping about CURVE_POINTS of them for the record."""

    def __init__(self, label: str, total: float, emit):
        self.label, self.emit = label, emit
        self.every = max(1, math.ceil(total / CURVE_POINTS))
        self.points: list[list[float]] = []

    def add(self, k: int, x: float, y: float, last: bool = False) -> None:
        if k % self.every == 0 or last:
            self.points.append([x, y])
            self.emit(Point(self.label, x, y))


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
            runs.append({"v": v, "trainer": GPTTrainer(self.data, cfg, tc), "seconds": 0.0, "ema": 0.0,
                         "curve": Curve(v.label, self.budget, emit), "diverged": None})
        beta = 0.9
        for it in range(self.budget):
            if stop():
                yield None
                return
            for run in runs:
                if run["diverged"]:
                    continue
                t0 = time.perf_counter()
                try:
                    loss = run["trainer"].step()
                except TrainingDiverged as exc:
                    run["diverged"] = str(exc).split(";")[0]
                    continue
                finally:
                    run["seconds"] += time.perf_counter() - t0
                # smoothed loss, corrected for the average's start at 0 (as Adam corrects m)
                run["ema"] = beta * run["ema"] + (1 - beta) * loss
                run["curve"].add(it, it + 1, run["ema"] / (1 - beta ** (it + 1)), last=it == self.budget - 1)
        for run in runs:
            yield self.measure(run)

    def measure(self, run) -> VariantResult:
        trainer, v = run["trainer"], run["v"]
        t0 = time.perf_counter()
        cfg, tc = trainer.model.config, trainer.tc
        config = {**cfg.to_dict(), **{k: getattr(tc, k) for k in GPT_TRAIN}, "iters": self.budget}
        if run["diverged"]:
            return VariantResult(v.label, config, dict.fromkeys(GPT_METRICS), run["curve"].points,
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
        return VariantResult(v.label, config, metrics, run["curve"].points, sample=sample,
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



# -- the translation Transformer ---------------------------------------------------------------

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
                runs[key] = {"trainer": trainer, "seconds": 0.0, "ema": 0.0, "diverged": None, "curves": []}
            runs[key]["curves"].append(Curve(v.label, self.budget, emit))
        beta = 0.9
        for it in range(self.budget):
            if stop():
                yield None
                return
            for run in runs.values():
                if run["diverged"]:
                    continue
                t0 = time.perf_counter()
                try:
                    loss = run["trainer"].step()
                except TrainingDiverged as exc:
                    run["diverged"] = str(exc).split(";")[0]
                    continue
                finally:
                    run["seconds"] += time.perf_counter() - t0
                run["ema"] = beta * run["ema"] + (1 - beta) * loss
                for curve in run["curves"]:
                    curve.add(it, it + 1, run["ema"] / (1 - beta ** (it + 1)), last=it == self.budget - 1)
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
