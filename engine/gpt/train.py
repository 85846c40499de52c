"""Training the character GPT: the loop, evaluation, checkpoints, resume, and a NaN guard.

One iteration is nanoGPT's: draw a batch of B random windows from the training text, forward,
backward, clip the gradient's global norm to 1.0, take one AdamW step at the scheduled learning
rate. Every ``eval_interval`` iterations (and at the end) the mean loss over ``eval_iters``
batches of each split is measured, without dropout.

Everything random comes from numpy generators seeded by ``seed`` (batches, dropout, evaluation
batches), and their states travel in the checkpoint, so a run stopped at iteration k and resumed
draws exactly the batches the uninterrupted run would have: the loss curve continues exactly.

The caller (the CLI, a TUI worker, a test) watches through three callbacks: ``on_step`` after
every iteration, ``on_eval`` after every evaluation, ``should_stop`` polled between iterations
(Ctrl-C sets a flag; the loop stops at a whole iteration and saves).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from engine import fused
from engine.data.text import CharVocab, TextData, get_batch
from engine.errors import KqvError, TrainingDiverged
from engine.files.checkpoint import OutputClaim, checked_training_state, load_checkpoint, save_checkpoint
from engine.gpt.checkpoint import KIND, checked_model
from engine.gpt.config import GPTConfig
from engine.gpt.halves import HalfBatches, ThreadChooser
from engine.gpt.model import GPT
from engine.optim import AdamW, clip_grad_norm, lr_at
from engine.runtime.blas import blas_threads
from engine.runtime.memory import check_fits, gpt_memory

# A resumed run continues as it was set up (model, batch, schedule, seed); only its length and
# its reporting may change.
CHANGEABLE_ON_RESUME = ("max_iters", "eval_interval", "eval_iters", "threads", "engine")


@dataclass
class TrainConfig:
    """How to train. The defaults are nanoGPT's shakespeare_char CPU run (batch 12, 2000
    iterations, warm-up, cosine, AdamW) with twice its learning rate: at batch 12×64 the model is
    short of learning rate, and lr 2e-3 ends near val loss 1.82 where nanoGPT's 1e-3 ends near 1.90."""

    batch_size: int = 12
    max_iters: int = 2000
    lr: float = 2e-3
    min_lr: float | None = None  # None: lr / 10 (nanoGPT's rule of thumb; 2e-4 for the default lr)
    warmup_iters: int = 100
    lr_decay_iters: int | None = None  # None: decay over the whole run (max_iters)
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    seed: int = 1337
    threads: int | None = None  # 1: halves one after the other; 2: side by side; None: time both
    # fast: the fused kernels (engine.fused) where numba is installed; readable: the numpy layers
    # the lessons show. The loss curves agree to float32 rounding.
    engine: str = "fast"

    def __post_init__(self):
        for name in ("batch_size", "max_iters", "eval_interval", "eval_iters"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise KqvError(f"{name.replace('_', '-')} must be a positive whole number, got {value!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise KqvError(f"lr must be a positive number, got {self.lr}")
        if self.min_lr is None:
            self.min_lr = self.lr / 10
        if not 0 <= self.min_lr <= self.lr:
            raise KqvError(f"min-lr must be between 0 and lr ({self.lr:g}), got {self.min_lr:g}")
        if not isinstance(self.warmup_iters, int) or self.warmup_iters < 0:
            raise KqvError(f"warmup-iters must be 0 or more, got {self.warmup_iters!r}")
        for name in ("weight_decay", "grad_clip"):
            if not (isinstance(getattr(self, name), (int, float)) and 0 <= getattr(self, name) < math.inf):
                raise KqvError(f"{name} must be a finite number from 0, got {getattr(self, name)!r}")
        for name in ("beta1", "beta2"):
            if not (isinstance(getattr(self, name), (int, float)) and 0 <= getattr(self, name) < 1):
                raise KqvError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.engine not in fused.ENGINES:
            raise KqvError(f"engine must be one of {', '.join(fused.ENGINES)}, not {self.engine!r}")
        if self.threads is not None and self.threads not in (1, 2):
            raise KqvError(f"threads must be 1 or 2 (one per half of the batch), got {self.threads}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def decay_iters(self) -> int:
        return self.lr_decay_iters if self.lr_decay_iters is not None else self.max_iters


@dataclass
class StepInfo:
    iter: int  # iterations done, 1-based
    loss: float
    lr: float
    ms: float  # this iteration's wall time
    tokens_per_s: float  # over the run so far
    elapsed: float  # seconds of training so far (evaluations excluded)


@dataclass
class EvalInfo:
    iter: int
    train_loss: float
    val_loss: float


@dataclass
class TrainResult:
    iters: int
    train_loss: float
    val_loss: float
    ms_per_iter: float
    params: int
    evals: list[EvalInfo] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # every iteration's training loss
    stopped: bool = False  # stopped early by should_stop
    checkpoint: Path | None = None
    threads: dict = field(default_factory=dict)  # iterations run at each BLAS thread count
    engine: str = "readable"  # what really ran: fast only where the fused kernels loaded

    def to_json(self) -> dict:
        return {
            "iters": self.iters,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "ms_per_iter": self.ms_per_iter,
            "params": self.params,
            "evals": [asdict(e) for e in self.evals],
            "stopped": self.stopped,
            "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "threads": {str(k): v for k, v in self.threads.items()},
            "engine": self.engine,
        }


class GPTTrainer:
    """Holds the model, optimiser, data and random generators of one training run."""

    def __init__(self, data: TextData, model_config: GPTConfig, train_config: TrainConfig,
                 out: str | os.PathLike | None = None, resume: str | os.PathLike | None = None):
        self.data, self.tc = data, train_config
        self.out = Path(out) if out is not None else None
        self.evals: list[EvalInfo] = []
        self.losses: list[float] = []
        self.iter = 0
        self.lr = 0.0  # the learning rate of the last step
        self.saved_iter: int | None = None  # the iteration of the last checkpoint written
        if resume is not None:
            arrays, meta = load_checkpoint(resume, KIND)
            model_config, vocab = checked_model(resume, arrays, meta)
            if vocab.chars != data.vocab.chars:
                raise KqvError(
                    f"{resume} was trained on a text with another vocabulary "
                    f"({vocab.size} characters, this text has {data.vocab.size}); "
                    "resume with the same --text"
                )
            if not isinstance(meta.get("train"), dict):
                raise KqvError(f"{resume} is a damaged gpt checkpoint (no training settings); it cannot "
                               "be resumed")
            saved = TrainConfig.from_dict(meta["train"])
            changed = {name: getattr(train_config, name) for name in CHANGEABLE_ON_RESUME}
            self.tc = TrainConfig(**{**asdict(saved), **changed, "lr_decay_iters": saved.decay_iters})
        elif model_config.vocab_size != data.vocab.size:
            raise KqvError(
                f"vocab_size {model_config.vocab_size} does not match the text's {data.vocab.size}"
            )
        if data.train.size <= model_config.block_size or data.val.size <= model_config.block_size:
            raise KqvError(f"the text is too short for block_size={model_config.block_size}")
        need = gpt_memory(model_config, self.tc.batch_size, training=True,
                          data_bytes=data.train.nbytes + data.val.nbytes)
        check_fits(need, "this GPT", "lower --batch-size, --block-size, --n-embd or --n-layer")
        self.model = GPT(model_config, seed=self.tc.seed)
        self.opt = AdamW(self.model.flat_params, self.model.flat_grads, self.model.n_decay,
                         self.tc.weight_decay, (self.tc.beta1, self.tc.beta2))
        self.halves = HalfBatches(self.model)
        self.batch_rng = np.random.default_rng([self.tc.seed, 1])
        self.dropout_rngs = [np.random.default_rng([self.tc.seed, 2, half]) for half in (0, 1)]
        if resume is not None:
            self.model.load_params(arrays)
            self._restore(resume, arrays, meta)
            if self.out is not None and self.out.exists() and os.path.samefile(resume, self.out):
                self.saved_iter = self.iter  # out already holds this iteration: nothing to write yet
        # looked at again before every save: another run writing the same --out meanwhile is
        # left alone, and this run saves beside it (engine.files.checkpoint.OutputClaim)
        self.claim = OutputClaim(self.out) if self.out is not None else None
        self.train_seconds = 0.0
        self.eval_threads = 1  # the loop sets it to the thread count that trains fastest

    def _restore(self, resume, arrays: dict, meta: dict) -> None:
        """Optimiser state, random generators, iteration and history from a checkpoint, each
        checked first: a hand-edited or truncated file is one clear line, never a traceback."""

        def damaged(what: str) -> KqvError:
            return KqvError(f"{resume} cannot be resumed: {what} (kqv sample still reads its weights)")

        m, v, evals, losses = checked_training_state(arrays, meta, self.model.num_params, damaged, "AdamW")
        states = [meta.get("batch_rng"), *(meta.get("dropout_rngs") or [])]
        if len(states) != 1 + len(self.dropout_rngs):
            raise damaged("it lacks some random generators' states")
        try:
            for rng, state in zip([self.batch_rng, *self.dropout_rngs], states, strict=True):
                rng.bit_generator.state = state
        except (TypeError, ValueError, KeyError, OverflowError):
            raise damaged("a random generator's state is not one numpy can restore") from None
        self.opt.load_state({"m": m, "v": v}, meta["adam_t"])
        self.iter = meta["iter"]
        self.evals = [EvalInfo(**e) for e in evals]
        self.losses = list(losses)

    @property
    def vocab(self) -> CharVocab:
        return self.data.vocab

    # -- one iteration -------------------------------------------------------------------------

    def step(self, threads: int = 1) -> float:
        """One training iteration; returns its loss (before the update).

        The batch's two halves go forward and backward in two twins of the model, one after
        the other (``threads=1``) or side by side (``threads=2``); either way the gradient is
        the same, to the last bit.
        """
        tc, model = self.tc, self.model
        x, y = get_batch(self.data.train, tc.batch_size, model.config.block_size, self.batch_rng)
        rngs = self.dropout_rngs if model.config.dropout > 0 else (None, None)
        loss = self.halves.loss_and_grads(x, y, rngs, parallel=threads == 2)
        if not math.isfinite(loss):
            self._diverged(loss)
        clip_grad_norm(model.flat_grads, tc.grad_clip)
        self.lr = lr_at(self.iter, tc.lr, tc.min_lr, tc.warmup_iters, tc.decay_iters)
        self.opt.step(self.lr, parallel=self.halves.side_by_side if threads == 2 else None)
        self.iter += 1
        self.losses.append(loss)
        return loss

    def _diverged(self, loss: float, where: str | None = None):
        where = where or f"at iteration {self.iter + 1}"
        raise TrainingDiverged.in_run(loss, where, self.out, self.saved_iter)

    def estimate_loss(self) -> EvalInfo:
        """Mean loss over ``eval_iters`` batches of each split, no dropout, fixed per iteration."""
        tc, T = self.tc, self.model.config.block_size
        result = {}
        for split, data in (("train", self.data.train), ("val", self.data.val)):
            rng = np.random.default_rng([tc.seed, 3, self.iter, int(split == "val")])
            losses = []
            for _ in range(tc.eval_iters):
                x, y = get_batch(data, tc.batch_size, T, rng)
                losses.append(self.halves.loss(x, y, parallel=self.eval_threads == 2))
            result[split] = float(np.mean(losses))
        info = EvalInfo(self.iter, result["train"], result["val"])
        self.evals = [e for e in self.evals if e.iter != self.iter] + [info]
        return info

    # -- the loop ------------------------------------------------------------------------------

    def run(self, on_step: Callable[[StepInfo], None] | None = None,
            on_eval: Callable[[EvalInfo], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> TrainResult:
        tc = self.tc
        tokens = tc.batch_size * self.model.config.block_size
        stopped = False
        start_iter = self.iter
        chooser = ThreadChooser(tc.threads)
        # parallelism comes from the two halves, never from spinning BLAS threads; a diverging
        # run is caught by its loss (NaN), so numpy's overflow warnings would only be noise
        with blas_threads(1), fused.use(tc.engine), np.errstate(over="ignore", invalid="ignore",
                                                                divide="ignore"):
            engine = fused.running()  # loads the kernels now, or says once why it cannot
            while self.iter < tc.max_iters:
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                if self.iter % tc.eval_interval == 0 and not self._evaluated():
                    self.eval_threads = chooser.best
                    self._evaluate(on_eval)
                threads = chooser.next()
                t0 = time.perf_counter()
                loss = self.step(threads)
                dt = time.perf_counter() - t0
                chooser.record(threads, dt)
                self.train_seconds += dt
                if on_step is not None:
                    done = self.iter - start_iter
                    on_step(StepInfo(self.iter, loss, self.lr, dt * 1000,
                                     done * tokens / max(self.train_seconds, 1e-9), self.train_seconds))
            if not stopped and not self._evaluated():
                self._evaluate(on_eval)
        if self.out is not None and self.saved_iter != self.iter:
            self.save()
        done = self.iter - start_iter
        last = self.evals[-1] if self.evals else EvalInfo(self.iter, float("nan"), float("nan"))
        return TrainResult(
            iters=self.iter, train_loss=last.train_loss, val_loss=last.val_loss,
            ms_per_iter=1000 * self.train_seconds / max(done, 1), params=self.model.num_params,
            evals=list(self.evals), losses=list(self.losses), stopped=stopped,
            checkpoint=self.out, threads=chooser.summary(), engine=engine,
        )

    def _evaluated(self) -> bool:
        return any(e.iter == self.iter for e in self.evals)

    def _evaluate(self, on_eval):
        info = self.estimate_loss()
        if not (math.isfinite(info.train_loss) and math.isfinite(info.val_loss)):
            self._diverged(info.val_loss, where=f"when evaluating at iteration {self.iter}")
        if on_eval is not None:
            on_eval(info)
        if self.out is not None and self.iter > 0:
            self.save()

    # -- checkpoints ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the run's checkpoint to ``path``, or to ``--out`` through its claim (which may
        move it beside ``--out`` when another run wrote there meanwhile; :attr:`out` follows)."""
        arrays = dict(self.model.params)
        arrays["adam.m"], arrays["adam.v"] = self.opt.m, self.opt.v
        meta = {
            "kind": KIND,
            "model": self.model.config.to_dict(),
            "train": {**asdict(self.tc), "lr_decay_iters": self.tc.decay_iters},
            "vocab": self.vocab.chars,
            "iter": self.iter,
            "adam_t": self.opt.t,
            "batch_rng": self.batch_rng.bit_generator.state,
            "dropout_rngs": [rng.bit_generator.state for rng in self.dropout_rngs],
            "evals": [asdict(e) for e in self.evals],
            "losses": self.losses,
            "source": self.data.source,
        }
        if path is None:
            written = self.claim.save(arrays, meta)
            self.out = written
        else:
            written = save_checkpoint(path, arrays, meta)
        self.saved_iter = self.iter
        return written


def split_loss(model: GPT, ids: np.ndarray, batch_size: int = 64) -> float:
    """Mean loss over a whole split cut into non-overlapping windows of block_size (no sampling).

    ``estimate_loss`` averages a few random batches, as nanoGPT does, so its figure moves by
    about ±0.01 with the draw; this one is exact for the model and split. The windows hold the
    same mix of context lengths (0 to T−1 characters before each target) as the random ones.
    """
    T = model.config.block_size
    n = (len(ids) - 1) // T
    x = ids[: n * T].reshape(n, T)
    y = ids[1 : n * T + 1].reshape(n, T)
    total = 0.0
    for start in range(0, n, batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        total += model.forward(xb, yb)[1] * len(xb)
    return total / n

