"""AdamW, the learning-rate schedule and gradient clipping, over one flat parameter vector.

The GPT keeps all parameters in one float32 vector and all gradients in another, 2-D weights
first (:mod:`engine.gpt.model`). That makes each part here a few whole-model numpy passes:

* clipping: if the gradient's global norm ‖g‖ exceeds 1.0, scale g by 1/‖g‖;
* AdamW: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², then p ← p − lr·m̂/(√v̂ + ε), with m̂ and v̂
  corrected for their start at zero; weight decay shrinks the 2-D weights by lr·λ first
  (decoupled from the gradient, Loshchilov & Hutter), never the biases or LayerNorm gains;
* schedule: linear warm-up from 0 to ``lr`` over ``warmup_iters``, then a cosine down to
  ``min_lr`` at ``lr_decay_iters`` (nanoGPT's schedule).
"""

from __future__ import annotations

import math

import numpy as np

from engine import fused
from engine.trace import NO_TRACE


def lr_at(it: int, lr: float, min_lr: float, warmup_iters: int, lr_decay_iters: int) -> float:
    """The learning rate for iteration ``it`` (0-based)."""
    if it < warmup_iters:
        return lr * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    progress = (it - warmup_iters) / max(1, lr_decay_iters - warmup_iters)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def noam_lr(step: int, d_model: int, warmup_steps: int, scale: float = 1.0) -> float:
    """The learning rate of "Attention Is All You Need" for ``step`` (counted from 1):
    ``scale · C^-0.5 · min(step^-0.5, step · warmup^-1.5)``.

    It rises linearly for ``warmup_steps`` steps, peaks at ``scale · (C · warmup)^-0.5`` and
    then falls as 1/√step: wide models (large C) take smaller steps, and the warm-up keeps
    Adam's first, badly estimated, second moments from throwing the weights far.
    """
    step = max(step, 1)
    return scale * d_model**-0.5 * min(step**-0.5, step * max(warmup_steps, 1) ** -1.5)


def clip_grad_norm(grads: np.ndarray, max_norm: float = 1.0) -> float:
    """Scale ``grads`` in place so its global L2 norm is at most ``max_norm``; return the norm before."""
    norm = math.sqrt(float(np.dot(grads, grads)))  # one BLAS dot over the whole model
    if norm > max_norm:
        grads *= max_norm / (norm + 1e-6)
    return norm


class AdamW:
    """Adam with decoupled weight decay on the first ``n_decay`` entries (the 2-D weights)."""

    def __init__(self, params: np.ndarray, grads: np.ndarray, n_decay: int, weight_decay: float = 0.1,
                 betas=(0.9, 0.99), eps: float = 1e-8):
        self.params, self.grads, self.n_decay = params, grads, n_decay
        self.weight_decay, self.beta1, self.beta2, self.eps = weight_decay, betas[0], betas[1], eps
        self.m = np.zeros_like(params)
        self.v = np.zeros_like(params)
        self.t = 0
        self._tmp = np.empty_like(params)  # scratch, so a step allocates nothing

    def step(self, lr: float, parallel=None) -> None:
        """One update of every parameter. ``parallel(f, a, b)``, when given, runs ``f(a)`` and
        ``f(b)`` at the same time: the update is elementwise, so two halves of the vector can
        go to two cores (~1 ms less per GPT iteration) with the same result to the last bit."""
        self.t += 1
        n = self.params.size
        if parallel is None:
            self._update(lr, slice(0, n))
        else:
            parallel(lambda part: self._update(lr, part), slice(0, n // 2), slice(n // 2, n))

    def _update(self, lr: float, part: slice) -> None:
        if (fast := fused.kernels_for()) is not None:  # the same update in one pass (engine.fused)
            fast.adamw_update(self.params, self.grads, self.m, self.v, part, self.n_decay, self.t, lr,
                              self.beta1, self.beta2, self.eps, self.weight_decay)
            return
        # the 2-D weights come first in the vector: only that front part is decayed
        split = min(max(part.start, self.n_decay), part.stop)
        for sub, weight_decay in ((slice(part.start, split), self.weight_decay),
                                  (slice(split, part.stop), 0.0)):
            if sub.stop > sub.start:
                adamw_update(self.params[sub], self.grads[sub], self.m[sub], self.v[sub], self.t, lr,
                             self.beta1, self.beta2, self.eps, weight_decay, tmp=self._tmp[sub])

    def state(self) -> dict:
        return {"m": self.m, "v": self.v}

    def load_state(self, arrays: dict, t: int) -> None:
        self.m[...] = arrays["m"]
        self.v[...] = arrays["v"]
        self.t = int(t)


def adamw_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay, tmp=None, tracer=NO_TRACE):
    """One AdamW step on one array ``p`` with gradient ``g``, in place; returns ``(p, m, v)``.

    ``m`` and ``v`` (shaped like p) are the running means of g and g², ``t`` the step's number
    counted from 1. In order: decay p by lr·λ (decoupled: the gradient never sees it), update
    m and v, then step p by lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). ``tmp``, when
    given, is scratch space shaped like p, so a step allocates nothing.
    """
    tmp = np.empty_like(p) if tmp is None else tmp
    sym = ("n_in", "n_out") if p.ndim == 2 else ()  # a weight stored (in, out), for the trace
    if weight_decay:
        p *= 1.0 - lr * weight_decay
    m *= beta1
    np.multiply(g, 1.0 - beta1, out=tmp)
    m += tmp  # m = β₁m + (1−β₁)g
    tracer.record("m", m, "β₁·m + (1−β₁)·g", "update", sym)
    v *= beta2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - beta2
    v += tmp  # v = β₂v + (1−β₂)g²
    tracer.record("v", v, "β₂·v + (1−β₂)·g²", "update", sym)
    # lr·m̂/(√v̂ + ε) = lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + ε): the bias corrections as two scalars
    np.sqrt(v, out=tmp)
    tmp *= 1.0 / math.sqrt(1.0 - beta2**t)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1.0 - beta1**t)
    tracer.record("update", tmp, "lr · m̂ / (√v̂ + ε)", "update", sym)
    p -= tmp
    tracer.record("p", p, "p·(1 − lr·λ) − update", "update", sym)
    return p, m, v
