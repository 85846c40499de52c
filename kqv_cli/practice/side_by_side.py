"""Train a model twice, once with the learner's functions in it and once as the engine has it.

Both runs start from the same seed and see the same data in the same order with the same
settings; the only difference is whose arithmetic runs at the seams
(:mod:`kqv_cli.practice.digits_seam`, :mod:`kqv_cli.practice.gpt_seam`). With a right solution
the two agree to float rounding; a wrong one shows in the accuracy or the loss curve.

* :func:`run_digits`: one epoch of the book's chapter-1 net, then both nets' test accuracy;
* :func:`run_gpt`: the lab's small character GPT, the two runs interleaved iteration by
  iteration (as the lab trains its variants), so their loss curves grow together.

The caller watches through callbacks and may stop between steps (``should_stop``, Ctrl-C);
nothing here writes a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import fused
from engine.data.text import TextData
from engine.errors import TrainingDiverged
from engine.gpt.model import GPTConfig
from engine.gpt.train import GPTTrainer, TrainConfig
from engine.runtime.blas import blas_threads
from kqv_cli.lab.experiments import GPT_BASE, GPT_TRAIN
from kqv_cli.practice.digits_seam import LearnerNetwork, ReadableNetwork
from kqv_cli.practice.gpt_seam import learner_adamw, swap_in
from kqv_cli.practice.learner_process import LearnerCodeFailed, LearnerProcess
from kqv_cli.practice.run_plan import ENGINE, GPT_ITERS, YOURS, RunPlan

# -- the digit net --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigitSettings:
    """The book's chapter-1 run, for one epoch (the exercises are written for this network)."""

    sizes: tuple[int, ...] = (784, 30, 10)
    epochs: int = 1
    batch_size: int = 10  # m
    eta: float = 3.0
    seed: int = 0


@dataclass
class DigitsOutcome:
    correct: dict[str, int | None]  # test images right, per run (None: that run did not finish)
    total: int  # test images
    cost: dict[str, float | None]  # the training cost after the epoch(s)
    weight_gap: float | None  # the largest |w_yours − w_engine| over every weight and bias
    stopped: bool = False


def run_digits(plan: RunPlan, files: dict[str, Path], train, test, settings: DigitSettings = DigitSettings(),
               on_batch: Callable[[str, int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> DigitsOutcome:
    """Train the learner's net, then the engine's, on ``train`` and count right answers on ``test``
    (:class:`~engine.data.mnist.Digits`). ``on_batch(run, done, total)``, run "yours" or "engine"."""
    stop = should_stop or (lambda: False)
    correct: dict[str, int | None] = {YOURS: None, ENGINE: None}
    cost: dict[str, float | None] = {YOURS: None, ENGINE: None}
    s = settings
    with LearnerProcess({e: files[e] for e in plan.yours}) as learner:
        yours = LearnerNetwork(s.sizes, learner, frozenset(plan.yours), s.seed)
        engine = ReadableNetwork(s.sizes, s.seed)
        for who, net in ((YOURS, yours), (ENGINE, engine)):
            try:
                report = None if on_batch is None else (lambda d, t, w=who: on_batch(w, d, t))
                results = net.SGD((train.x, train.labels), s.epochs, s.batch_size, s.eta, seed=s.seed,
                                  schedule="constant", test_data=(test.x, test.labels), on_batch=report,
                                  should_stop=stop, compiled=False)  # each step through update_mini_batch
            except TrainingDiverged as exc:
                if who == YOURS:
                    said = str(exc).split(";")[0]
                    raise LearnerCodeFailed(f"with your functions the training {said}") from None
                raise
            if len(results) < s.epochs:
                return DigitsOutcome(correct, len(test), cost, None, stopped=True)
            correct[who], cost[who] = results[-1].test_correct, results[-1].train_cost
        gap = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in
                  zip(yours.weights + yours.biases, engine.weights + engine.biases, strict=True))
    return DigitsOutcome(correct, len(test), cost, gap)


# -- the character GPT ----------------------------------------------------------------------------

EVAL_ITERS = 10  # batches of each split for the loss after training
SAMPLE_CHARS = 80  # written by each trained model, temperature 0.8, from the same seed


def gpt_configs(data: TextData, iters: int, seed: int) -> tuple[GPTConfig, TrainConfig]:
    """The lab's small GPT (2 blocks, C = 64, T = 32) and its settings, on the readable engine."""
    cfg = GPTConfig(vocab_size=data.vocab.size, **GPT_BASE)
    train = {**GPT_TRAIN, "eval_iters": EVAL_ITERS}
    tc = TrainConfig(**train, max_iters=iters, eval_interval=iters + 1, seed=seed, threads=1,
                     engine="readable")
    return cfg, tc


@dataclass
class GPTOutcome:
    losses: dict[str, list[float]] = field(default_factory=lambda: {YOURS: [], ENGINE: []})
    val_loss: dict[str, float | None] = field(default_factory=lambda: {YOURS: None, ENGINE: None})
    samples: dict[str, str] = field(default_factory=dict)  # what each trained model writes
    stopped: bool = False

    @property
    def iters(self) -> int:
        return min(len(v) for v in self.losses.values())

    @property
    def largest_gap(self) -> float:
        """The largest |loss_yours − loss_engine| over the iterations both ran."""
        pairs = zip(self.losses[YOURS], self.losses[ENGINE], strict=False)
        return max((abs(a - b) for a, b in pairs), default=0.0)


def run_gpt(plan: RunPlan, files: dict[str, Path], data: TextData, iters: int = GPT_ITERS, seed: int = 1337,
            on_step: Callable[[int, float, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> GPTOutcome:
    """Train the GPT with the learner's parts and the engine's GPT side by side for ``iters``
    iterations; ``on_step(iteration, loss_yours, loss_engine)`` after each."""
    cfg, tc = gpt_configs(data, iters, seed)
    outcome = GPTOutcome()
    stop = should_stop or (lambda: False)
    parts = frozenset(plan.yours)
    with (LearnerProcess({e: files[e] for e in plan.yours}) as learner, fused.use("readable"),
          blas_threads(1), np.errstate(over="ignore", invalid="ignore", divide="ignore")):
        trainers = {YOURS: GPTTrainer(data, cfg, tc), ENGINE: GPTTrainer(data, cfg, tc)}
        for twin in trainers[YOURS].halves.twins:
            swap_in(twin, learner, parts)
        if "adamw" in parts:
            trainers[YOURS].opt = learner_adamw(trainers[YOURS].opt, learner)
        for it in range(1, iters + 1):
            if stop():
                outcome.stopped = True
                return outcome
            for who, trainer in trainers.items():
                outcome.losses[who].append(_step(trainer, who, it))
            if on_step is not None:
                on_step(it, outcome.losses[YOURS][-1], outcome.losses[ENGINE][-1])
        vocab = data.vocab
        for who, trainer in trainers.items():
            outcome.val_loss[who] = trainer.estimate_loss().val_loss
            # the engine's sampling on the weights each run trained (the twins share them)
            ids = trainer.model.generate(vocab.encode(vocab.start_char), SAMPLE_CHARS, temperature=0.8,
                                         rng=np.random.default_rng([seed, 11]))
            outcome.samples[who] = vocab.decode(ids[1:])
    return outcome


def _step(trainer: GPTTrainer, who: str, it: int) -> float:
    try:
        loss = trainer.step(threads=1)
    except TrainingDiverged:
        loss = math.nan
    if not math.isfinite(loss) and who == YOURS:
        raise LearnerCodeFailed(f"with your functions the loss became {loss} at iteration {it}, where "
                                "the engine's stayed finite; a NaN or inf comes out of one of them "
                                "(`kqv practice check` each)")
    return loss
