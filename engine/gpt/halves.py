"""A GPT training step on two cores: the batch's two halves side by side, and when to do so.

:class:`HalfBatches` runs forward and backward on each half of a batch in one of two twins
of the model (:mod:`engine.translation.halves` does the same for the encoder-decoder);
:class:`ThreadChooser` measures, as training goes, whether side by side is faster than one
after the other on this machine at this moment. :class:`engine.gpt.train.GPTTrainer` uses both.
"""

from __future__ import annotations

import os

import numpy as np

from engine.gpt.model import GPT


class HalfBatches:
    """Forward and backward on the two halves of a batch, in two twins of one model.

    The twins share the model's parameters (:meth:`GPT.replica`) and keep their own
    activations and gradients, so they can run at the same time: one in a worker thread, one
    in the caller's. numpy lets go of Python's lock inside every matmul and elementwise loop,
    so the two halves really use both cores, like data-parallel training on two GPUs. Each
    twin calls the BLAS with one thread; two OpenBLAS threads per matmul were measured to
    spin-wait and run 2-10x slower whenever another program holds the second core, while two
    halves just share the one free core.

    The loss is the mean over all B*T positions, so the batch's gradient is the average of the
    halves' gradients weighted by their sizes.
    """

    def __init__(self, model: GPT):
        self.model = model
        self.twins = (model.replica(), model.replica())
        self._pool = None

    def _half(self, twin, x, y, rng, backward=True) -> float:
        _, loss = twin.forward(x, y, rng=rng)
        if backward:
            twin.backward()
        return loss

    def loss(self, x, y, parallel: bool) -> float:
        """The batch's loss alone (evaluation: no dropout, no gradients), computed by halves."""
        B = x.shape[0]
        if B == 1:
            return self._half(self.twins[0], x, y, None, backward=False)
        h = B // 2
        a, b = self.twins
        if parallel:
            first = self._executor().submit(self._half, a, x[:h], y[:h], None, False)
            loss_b = self._half(b, x[h:], y[h:], None, backward=False)
            loss_a = first.result()
        else:
            loss_a = self._half(a, x[:h], y[:h], None, backward=False)
            loss_b = self._half(b, x[h:], y[h:], None, backward=False)
        return (h * loss_a + (B - h) * loss_b) / B

    def side_by_side(self, f, a, b) -> None:
        """Run ``f(a)`` in the worker thread and ``f(b)`` in this one; wait for both."""
        first = self._executor().submit(f, a)
        f(b)
        first.result()

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="kqv-half")
        return self._pool

    def loss_and_grads(self, x, y, rngs, parallel: bool) -> float:
        """The batch's loss; its gradient is left in ``model.flat_grads``."""
        B = x.shape[0]
        if B == 1:  # nothing to split
            loss = self._half(self.twins[0], x, y, rngs[0])
            self.model.flat_grads[...] = self.twins[0].flat_grads
            return loss
        h = B // 2
        a, b = self.twins
        if parallel:
            first = self._executor().submit(self._half, a, x[:h], y[:h], rngs[0])
            loss_b = self._half(b, x[h:], y[h:], rngs[1])
            loss_a = first.result()
        else:
            loss_a = self._half(a, x[:h], y[:h], rngs[0])
            loss_b = self._half(b, x[h:], y[h:], rngs[1])
        wa, wb = h / B, (B - h) / B
        g = self.model.flat_grads
        if B % 2 == 0:  # equal halves: (a + b) / 2, two passes and no temporary
            np.add(a.flat_grads, b.flat_grads, out=g)
            g *= 0.5
        else:
            np.multiply(a.flat_grads, wa, out=g)
            g += wb * b.flat_grads
        return wa * loss_a + wb * loss_b


class ThreadChooser:
    """Chooses 1 or 2 threads (halves one after the other, or side by side) by timing.

    On an idle 2-core machine the two halves side by side nearly halve an iteration; when
    another program holds the second core they gain nothing and pay a little for switching.
    Which is faster is a fact of the moment, so with ``fixed=None`` the loop measures it: the
    first iterations alternate 1 and 2, the faster median wins, and every ``recheck``
    iterations the other count gets ``probe`` iterations to win back. Nothing is run twice;
    the probes are ordinary training iterations, and the loss curve does not depend on the
    choice (see :class:`HalfBatches`).
    """

    def __init__(self, fixed: int | None, recheck: int = 100, probe: int = 3):
        self.fixed = fixed
        self.candidates = (1, 2) if fixed is None and (os.cpu_count() or 1) >= 2 else (fixed or 1,)
        self.recheck, self.probe = recheck, probe
        self.times: dict[int, list[float]] = {n: [] for n in self.candidates}
        self.best = self.candidates[-1]
        self.k = 0  # iterations seen
        self.used: dict[int, int] = {}

    def next(self) -> int:
        """The thread count for the coming iteration."""
        if len(self.candidates) == 1:
            return self.candidates[0]
        k, p = self.k, self.probe
        if k <= 2 * p:  # k = 0 warms up; then alternate 2, 1, 2, 1...
            return self.candidates[k % 2]
        other = self.candidates[0] if self.best == self.candidates[1] else self.candidates[1]
        return other if (k - 2 * p - 1) % self.recheck >= self.recheck - p else self.best

    def record(self, n: int, seconds: float) -> None:
        self.k += 1
        self.used[n] = self.used.get(n, 0) + 1
        if len(self.candidates) == 1 or self.k == 1:
            return
        recent = self.times[n]
        recent.append(seconds)
        del recent[: -self.probe]  # only the latest probe's worth of iterations at this count
        if all(self.times[c] for c in self.candidates):
            self.best = min(self.candidates, key=lambda c: float(np.median(self.times[c])))

    def summary(self) -> dict:
        """Iterations run at each thread count."""
        return dict(sorted(self.used.items()))
