"""A training step on two cores: the batch's two halves side by side, in two twins of one model.

The twins share the model's parameters (:meth:`Transformer.replica`) and keep their own
activations and gradients, so one can run in a worker thread while the other runs in the
caller's: numpy lets go of Python's lock inside every matmul and elementwise loop, so the two
halves use both cores, like data-parallel training on two GPUs, elementwise work included
(which a 2-thread BLAS alone would leave on one core). Each twin calls the BLAS with one
thread, as :class:`engine.gpt.halves.HalfBatches` does for the GPT, and for the same reason:
two OpenBLAS threads per matmul spin-wait whenever another program holds the second core.

The loss is the mean over the batch's real target tokens, so each half divides its sum by the
whole batch's count and the batch's gradient is the plain sum of the halves' gradients. Each
half drops the padding columns it does not need (a half's longest sentence may be shorter
than the batch's).
"""

from __future__ import annotations

import numpy as np

from engine.runtime.blas import blas_threads


def _trim(src, tgt_in, tgt_out, pad_id):
    """Drop trailing columns that are padding in every row of this half."""
    s = int(np.flatnonzero((src != pad_id).any(axis=0)).max()) + 1
    t = int(np.flatnonzero((tgt_out != pad_id).any(axis=0)).max()) + 1
    return src[:, :s], tgt_in[:, :t], tgt_out[:, :t]


class HalfBatches:
    """``loss_and_grads(src, tgt_in, tgt_out)`` on two twins; the gradient lands in
    ``model.flat_grads``, exactly what one pass over the whole batch would put there."""

    def __init__(self, model, rngs=(None, None)):
        self.model = model
        self.twins = (model.replica(), model.replica())
        self.rngs = rngs  # one dropout generator per half (None: no dropout)
        self._pool = None

    def _executor(self):
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="kqv-half")
        return self._pool

    def _half(self, twin, rng, batch, smoothing, n_tokens) -> float:
        src, tgt_in, tgt_out = batch
        loss = twin.loss(twin.forward(src, tgt_in, rng=rng), tgt_out, smoothing, n_tokens=n_tokens)
        twin.backward()
        return loss

    def loss_and_grads(self, src, tgt_in, tgt_out, smoothing: float = 0.1, parallel: bool = True) -> float:
        """The batch's loss; its gradient is left in ``model.flat_grads``."""
        with blas_threads(1):  # set once, here: the BLAS's thread count is the whole process's
            return self._loss_and_grads(src, tgt_in, tgt_out, smoothing, parallel)

    def _loss_and_grads(self, src, tgt_in, tgt_out, smoothing, parallel) -> float:
        pad = self.model.config.pad_id
        n = max(int((tgt_out != pad).sum()), 1)
        B = src.shape[0]
        a, b = self.twins
        if B == 1:
            loss = self._half(a, self.rngs[0], (src, tgt_in, tgt_out), smoothing, n)
            self.model.flat_grads[...] = a.flat_grads
            return loss
        h = B // 2
        first = _trim(src[:h], tgt_in[:h], tgt_out[:h], pad)
        second = _trim(src[h:], tgt_in[h:], tgt_out[h:], pad)
        if parallel:
            pending = self._executor().submit(self._half, a, self.rngs[0], first, smoothing, n)
            loss_b = self._half(b, self.rngs[1], second, smoothing, n)
            loss_a = pending.result()
        else:
            loss_a = self._half(a, self.rngs[0], first, smoothing, n)
            loss_b = self._half(b, self.rngs[1], second, smoothing, n)
        np.add(a.flat_grads, b.flat_grads, out=self.model.flat_grads)
        return loss_a + loss_b
