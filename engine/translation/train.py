"""Training the encoder–decoder Transformer to translate, as "Attention Is All You Need" did.

The recipe is the paper's, at a CPU size:

* one byte-level BPE vocabulary for both languages (:mod:`engine.data.bpe`), learnt from the
  training split only, so the test sentences never shape it;
* batches of sentences of similar length, padded to the longest: a batch of 64 five-piece
  sentences should not pay for one sentence of 30 pieces. Each epoch shuffles the pairs, sorts
  them by length inside pools of 50 batches, cuts the batches and shuffles their order;
* the source is ``pieces + </s>``; the decoder reads ``<s> + pieces`` and learns to write
  ``pieces + </s>``, one position ahead (teacher forcing);
* label-smoothed cross-entropy (ε = 0.1: the target keeps 0.9, the rest is spread over the
  vocabulary) with padding ignored; Adam with β₂ = 0.98 and ε = 1e-9; the learning rate
  ``C^-0.5 · min(step^-0.5, step · warmup^-1.5)`` scaled by ``--lr``.

Every epoch's order comes from a generator seeded by ``(seed, epoch)``, so the iteration alone
says where a resumed run is; the dropout generator's state travels in the checkpoint. A run
stopped at iteration k and resumed draws exactly the batches and dropout masks of the
uninterrupted run.

At the end the test split is translated (greedy and beam search) and scored with sacrebleu
against every translation the file gives for each test sentence.
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
from engine.data.bpe import PAD_ID, BPEVocab
from engine.data.pairs import PairSplits
from engine.errors import KqvError, TrainingDiverged
from engine.files.checkpoint import OutputClaim, load_checkpoint, save_checkpoint
from engine.gpt.train import ThreadChooser
from engine.optim import AdamW, clip_grad_norm, noam_lr
from engine.runtime.blas import blas_threads
from engine.runtime.memory import check_fits, translation_memory
from engine.translation.batches import encode_pairs, epoch_batches
from engine.translation.checkpoint import KIND, checked_model, restore_training, training_checkpoint
from engine.translation.halves import HalfBatches
from engine.translation.model import Transformer, TransformerConfig

# A resumed run continues as it was set up; only its length and its reporting may change.
CHANGEABLE_ON_RESUME = ("max_iters", "eval_interval", "bleu_sentences", "beam", "threads")


@dataclass
class TranslateTrainConfig:
    """How to train (the model's sizes are a :class:`TransformerConfig`)."""

    batch_size: int = 64  # sentence pairs per batch
    max_iters: int = 1600
    lr: float = 1.0  # scales the paper's schedule
    warmup_iters: int = 400
    smoothing: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 200
    vocab_size: int = 8000
    seed: int = 1337
    bleu_sentences: int = 1000  # test source sentences translated at the end (0: no BLEU)
    beam: int = 4  # the beam of the second BLEU (1: greedy only)
    threads: int | None = None  # 1: halves one after the other; 2: side by side; None: time both

    def __post_init__(self):
        for name in ("batch_size", "max_iters", "eval_interval", "warmup_iters"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise KqvError(f"{name.replace('_', '-')} must be a positive whole number, got {value!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise KqvError(f"lr must be a positive number (it scales the warm-up schedule), got {self.lr}")
        if not 0 <= self.smoothing < 1:
            raise KqvError(f"label smoothing must be in [0, 1), got {self.smoothing}")
        if not (0 <= self.grad_clip < math.inf):
            raise KqvError(f"grad-clip must be a finite number from 0, got {self.grad_clip}")
        if isinstance(self.bleu_sentences, bool) or not isinstance(self.bleu_sentences, int) \
                or self.bleu_sentences < 0:
            raise KqvError(f"bleu-sentences must be a whole number from 0, got {self.bleu_sentences!r}")
        check_beam(self.beam)
        if self.threads is not None and self.threads not in (1, 2):
            raise KqvError(f"threads must be 1 or 2 (one per half of the batch), got {self.threads}")

    @classmethod
    def from_dict(cls, d: dict) -> TranslateTrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


MAX_BEAM = 64  # wider beams cost time and memory and, on this model, no BLEU


def check_beam(beam) -> int:
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or not 1 <= beam <= MAX_BEAM:
        raise KqvError(f"--beam must be a whole number from 1 (greedy) to {MAX_BEAM}, got {beam!r}")
    return int(beam)


# -- the record of a run -------------------------------------------------------------------------


@dataclass
class StepInfo:
    iter: int
    loss: float
    lr: float
    ms: float
    tokens_per_s: float  # target pieces per second over the run so far
    elapsed: float


@dataclass
class EvalInfo:
    iter: int
    train_loss: float  # mean smoothed loss of the training batches since the last evaluation
    val_loss: float  # cross-entropy per target piece on the validation split, no smoothing


@dataclass
class TranslateResult:
    iters: int
    train_loss: float
    val_loss: float
    ms_per_iter: float
    params: int
    train_seconds: float
    evals: list[EvalInfo] = field(default_factory=list)
    bleu: dict = field(default_factory=dict)  # {"greedy": 31.2, "beam4": 32.0, "sentences": 1000, ...}
    examples: list[dict] = field(default_factory=list)  # a few test translations
    stopped: bool = False
    checkpoint: Path | None = None
    threads: dict = field(default_factory=dict)  # iterations run at each thread count

    def to_json(self) -> dict:
        return {
            "iters": self.iters, "train_loss": self.train_loss, "val_loss": self.val_loss,
            "ms_per_iter": self.ms_per_iter, "params": self.params, "train_seconds": self.train_seconds,
            "evals": [asdict(e) for e in self.evals], "bleu": self.bleu, "examples": self.examples,
            "stopped": self.stopped, "checkpoint": str(self.checkpoint) if self.checkpoint else None,
            "threads": {str(k): v for k, v in self.threads.items()},
        }


# -- the trainer ---------------------------------------------------------------------------------


class TranslateTrainer:
    """Holds the vocabulary, model, optimiser and data of one training run."""

    def __init__(self, splits: PairSplits, sizes: dict, train_config: TranslateTrainConfig,
                 out: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
                 on_note: Callable[[str], None] | None = None):
        """``sizes`` are :class:`TransformerConfig` fields except ``vocab_size`` (set by the
        vocabulary); with ``resume`` they and the training settings come from the checkpoint."""
        self.splits, self.tc = splits, train_config
        self.out = Path(out) if out is not None else None
        self.evals: list[EvalInfo] = []
        self.losses: list[float] = []
        self.iter, self.lr, self.saved_iter = 0, 0.0, None
        if resume is not None:
            arrays, meta = load_checkpoint(resume, KIND)
            config, self.vocab = checked_model(resume, arrays, meta)
            if meta.get("pairs") != splits.source or meta.get("n_pairs") != splits.n_pairs:
                raise KqvError(f"{resume} was trained on {meta.get('pairs')!r} ({meta.get('n_pairs')} "
                               f"pairs), not on {splits.source} ({splits.n_pairs} pairs); resume with the "
                               "same --pairs")
            if not isinstance(meta.get("train"), dict):
                raise KqvError(f"{resume} is a damaged translate checkpoint (no training settings)")
            saved = TranslateTrainConfig.from_dict(meta["train"])
            changed = {name: getattr(train_config, name) for name in CHANGEABLE_ON_RESUME}
            self.tc = TranslateTrainConfig(**{**asdict(saved), **changed})
        else:
            texts = [side for pair in splits.pairs("train") for side in pair]
            self.vocab = BPEVocab.train(texts, self.tc.vocab_size)
            config = TransformerConfig(vocab_size=self.vocab.size, **sizes)
        self.train_ids, dropped = encode_pairs(self.vocab, splits.pairs("train"), config.max_len)
        self.val_ids, _ = encode_pairs(self.vocab, splits.pairs("val"), config.max_len)
        if dropped and on_note is not None:
            many = f"{dropped:,} training pairs are" if dropped > 1 else "1 training pair is"
            on_note(f"{many} longer than the model's {config.max_len} positions and left out")
        if len(self.train_ids) == 0:
            raise KqvError(f"no training pair of {splits.source} fits in {config.max_len} positions")
        self.src_lens = np.array([len(s) for s in self.train_ids.src])
        self.tgt_lens = np.array([len(t) for t in self.train_ids.tgt])
        longest = int(max(self.src_lens.max(), self.tgt_lens.max()))
        need = translation_memory(config, self.tc.batch_size, longest, training=True)
        check_fits(need, "this Transformer", "lower --batch-size, --n-embd or --n-layer")
        self.model = Transformer(config, seed=self.tc.seed)
        self.config = config
        self.opt = AdamW(self.model.flat_params, self.model.flat_grads, n_decay=0, weight_decay=0.0,
                         betas=(0.9, 0.98), eps=1e-9)
        # one dropout generator per half of the batch (engine.translation.halves.HalfBatches)
        self.dropout_rngs = [np.random.default_rng([self.tc.seed, 2, half]) for half in (0, 1)]
        self.halves = HalfBatches(self.model, rngs=tuple(self.dropout_rngs) if config.dropout > 0
                                  else (None, None))
        self._epoch, self._batches = -1, []
        if resume is not None:
            self.model.load_state_dict({k: v for k, v in arrays.items() if not k.startswith("adam.")})
            self.iter, evals, self.losses = restore_training(self, resume, arrays, meta)
            self.evals = [EvalInfo(**e) for e in evals]
            if self.out is not None and self.out.exists() and os.path.samefile(resume, self.out):
                self.saved_iter = self.iter
        # looked at again before every save: another run writing the same --out meanwhile is
        # left alone, and this run saves beside it (engine.files.checkpoint.OutputClaim)
        self.claim = OutputClaim(self.out) if self.out is not None else None
        self.train_seconds = 0.0
        self.tokens = 0

    # -- one iteration ---------------------------------------------------------------------------

    def next_batch(self) -> np.ndarray:
        """The pair indices of iteration ``self.iter``: epoch and place follow from the count."""
        per_epoch = math.ceil(len(self.train_ids) / self.tc.batch_size)
        epoch, k = divmod(self.iter, per_epoch)
        if epoch != self._epoch:
            rng = np.random.default_rng([self.tc.seed, 1, epoch])
            self._batches = epoch_batches(self.src_lens, self.tgt_lens, self.tc.batch_size, rng)
            self._epoch = epoch
        return self._batches[k]

    @property
    def epoch(self) -> float:
        return self.iter * self.tc.batch_size / len(self.train_ids)

    def step(self, threads: int = 1) -> float:
        """One training iteration; returns its (smoothed) loss before the update.

        The batch's two halves go forward and backward in two twins of the model, one after
        the other (``threads=1``) or side by side (``threads=2``); the gradient is the same."""
        tc, model = self.tc, self.model
        src, tgt_in, tgt_out = self.train_ids.batch(self.next_batch())
        loss = float(self.halves.loss_and_grads(src, tgt_in, tgt_out, tc.smoothing, parallel=threads == 2))
        if not math.isfinite(loss):
            self._diverged(loss)
        if tc.grad_clip > 0:
            clip_grad_norm(model.flat_grads, tc.grad_clip)
        self.lr = noam_lr(self.iter + 1, model.config.n_embd, tc.warmup_iters, tc.lr)
        self.opt.step(self.lr)
        self.iter += 1
        self.losses.append(loss)
        self.tokens += int((tgt_out != PAD_ID).sum())
        return loss

    def _diverged(self, loss: float, where: str | None = None):
        where = where or f"at iteration {self.iter + 1}"
        raise TrainingDiverged.in_run(loss, where, self.out, self.saved_iter)

    def val_loss(self, batch_size: int = 128) -> float:
        """Cross-entropy per target piece over the whole validation split (no dropout, no smoothing)."""
        ids = self.val_ids if len(self.val_ids) else self.train_ids
        order = np.argsort([len(t) for t in ids.tgt], kind="stable")
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            src, tgt_in, tgt_out = ids.batch(order[start:start + batch_size])
            n = int((tgt_out != PAD_ID).sum())
            total += float(self.model.loss(self.model.forward(src, tgt_in), tgt_out, smoothing=0.0)) * n
            count += n
        return total / max(count, 1)

    # -- the loop --------------------------------------------------------------------------------

    def run(self, on_step: Callable[[StepInfo], None] | None = None,
            on_eval: Callable[[EvalInfo], None] | None = None,
            should_stop: Callable[[], bool] | None = None,
            on_bleu: Callable[[str], None] | None = None) -> TranslateResult:
        tc = self.tc
        stopped = False
        start_iter = self.iter
        chooser = ThreadChooser(tc.threads)
        # the fused kernels (engine.fused) for the elementwise work, as the GPT's trainer does
        with blas_threads(1), fused.use("fast"), np.errstate(over="ignore", invalid="ignore",
                                                             divide="ignore"):
            while self.iter < tc.max_iters:
                if should_stop is not None and should_stop():
                    stopped = True
                    break
                threads = chooser.next()
                t0 = time.perf_counter()
                loss = self.step(threads)
                dt = time.perf_counter() - t0
                chooser.record(threads, dt)
                self.train_seconds += dt
                if on_step is not None:
                    on_step(StepInfo(self.iter, loss, self.lr, dt * 1000,
                                     self.tokens / max(self.train_seconds, 1e-9), self.train_seconds))
                if self.iter % tc.eval_interval == 0 or self.iter == tc.max_iters:
                    self._evaluate(on_eval)
            if self.out is not None and self.saved_iter != self.iter:
                self.save()
            bleu, examples = ({}, []) if stopped else self.test_bleu(on_bleu)
        done = self.iter - start_iter
        last = self.evals[-1] if self.evals else EvalInfo(self.iter, float("nan"), float("nan"))
        return TranslateResult(
            iters=self.iter, train_loss=last.train_loss, val_loss=last.val_loss,
            ms_per_iter=1000 * self.train_seconds / max(done, 1), params=self.model.num_params,
            train_seconds=self.train_seconds, evals=list(self.evals), bleu=bleu, examples=examples,
            stopped=stopped, checkpoint=self.out, threads=chooser.summary(),
        )

    def _evaluate(self, on_eval):
        if any(e.iter == self.iter for e in self.evals):
            return
        since = self.evals[-1].iter if self.evals else 0
        recent = self.losses[since:] or self.losses[-1:]
        info = EvalInfo(self.iter, float(np.mean(recent)), self.val_loss())
        if not math.isfinite(info.val_loss):
            self._diverged(info.val_loss, where=f"when evaluating at iteration {self.iter}")
        self.evals.append(info)
        if on_eval is not None:
            on_eval(info)
        if self.out is not None:
            self.save()

    def test_bleu(self, on_bleu: Callable[[str], None] | None = None) -> tuple[dict, list[dict]]:
        """BLEU on the first ``bleu_sentences`` test sentences, greedy and with the beam."""
        from engine.translation.evaluate import corpus_bleu, translate_texts

        groups = self.splits.test[: self.tc.bleu_sentences]
        if not groups:
            return {}, []
        sources = [s for s, _ in groups]
        references = [t for _, t in groups]
        bleu: dict = {"sentences": len(groups), "references": sum(map(len, references))}
        hyps = {}
        for beam in sorted({1, self.tc.beam}):
            name = "greedy" if beam == 1 else f"beam{beam}"
            if on_bleu is not None:
                on_bleu(f"translating {len(groups):,} test sentences ({name.replace('beam', 'beam ')})")
            t0 = time.perf_counter()
            hyps[name] = translate_texts(self.model, self.vocab, sources, beam=beam)
            bleu[name] = corpus_bleu(hyps[name], references)
            bleu[f"{name}_seconds"] = round(time.perf_counter() - t0, 2)
        best = "greedy" if self.tc.beam == 1 else f"beam{self.tc.beam}"
        examples = [{"source": s, "translation": h, "references": r}
                    for s, h, r in list(zip(sources, hyps[best], references, strict=True))[:5]]
        return bleu, examples

    # -- checkpoints -----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the run's checkpoint to ``path``, or to ``--out`` through its claim (which may
        move it beside ``--out`` when another run wrote there meanwhile; :attr:`out` follows)."""
        arrays, meta = training_checkpoint(self)
        if path is None:
            written = self.claim.save(arrays, meta)
            self.out = written
        else:
            written = save_checkpoint(path, arrays, meta)
        self.saved_iter = self.iter
        return written
