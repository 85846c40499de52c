"""The fused kernels: each readable function's arithmetic as one or two compiled passes.

Every kernel here has a readable twin that defines what it must compute (named in its
docstring); ``tests/test_fused.py`` holds each to its twin. The rules that shape them:

* ``@njit(cache=True)``: compiled once per machine (a few seconds in all, the first time) and
  loaded from numba's cache after that; ``nogil=True`` so the batch's two halves
  (:class:`engine.gpt.halves.HalfBatches`) run them on two cores at once.
* No numba ``parallel=True``: the halves already use both cores, and numba's default thread pool
  must not be entered from two threads at once.
* ``error_model="numpy"``: a division by zero gives inf as in numpy instead of a Python
  exception, so no branch sits in the loop and LLVM can use SIMD (10x on AdamW's loop).
* ``fastmath`` lets LLVM reorder sums (so a row's sum uses SIMD lanes) but not assume away
  infinities: a masked attention score is −∞ on purpose.
* exp and tanh stay numpy's (``np.exp(a, out=a)`` between two kernels): numpy's are SIMD, while a
  compiled loop calls the C library once per number, 10-100x slower here.
* Row sums accumulate in float64; element arithmetic runs in the array's own dtype, with the
  constants cast to it, so a float32 model computes in float32 as the readable code does.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.mlp import GELU_C

jit = njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"})


# -- GELU (engine.mlp.gelu_forward / gelu_backward) -----------------------------------------------


@jit
def _gelu_inner(x, u, c, c3):
    for i in range(x.size):
        xi = x[i]
        u[i] = xi * (c + c3 * xi * xi)  # √(2/π)(x + 0.044715x³)


@jit
def _gelu_outer(x, t, out, half):
    for i in range(x.size):
        out[i] = half * x[i] * (1 + t[i])  # ½x(1 + tanh(u))


def gelu_forward(x):
    """:func:`engine.mlp.gelu_forward` in three passes (one is numpy's SIMD tanh): ``(out, t)``."""
    x1, t, out = x.reshape(-1), np.empty_like(x), np.empty_like(x)
    ty = x.dtype.type
    _gelu_inner(x1, t.reshape(-1), ty(GELU_C), ty(GELU_C * 0.044715))
    np.tanh(t, out=t)
    _gelu_outer(x1, t.reshape(-1), out.reshape(-1), ty(0.5))
    return out, t


@jit
def _gelu_backward(dout, x, t, dx, c, c3, half):
    for i in range(x.size):
        xi, ti = x[i], t[i]
        dx[i] = dout[i] * half * ((1 + ti) + xi * (1 - ti * ti) * (c + c3 * xi * xi))


def gelu_backward(dout, x, t):
    """:func:`engine.mlp.gelu_backward` in one pass."""
    dx = np.empty_like(x)
    ty = x.dtype.type
    _gelu_backward(np.ascontiguousarray(dout).reshape(-1), x.reshape(-1), t.reshape(-1), dx.reshape(-1),
                   ty(GELU_C), ty(3 * 0.044715 * GELU_C), ty(0.5))
    return dx


ACTIVATIONS = {"gelu": (gelu_forward, gelu_backward)}  # an activation not here runs readable


# -- LayerNorm (engine.layers.layernorm_forward / layernorm_backward) -----------------------------


@jit
def _layernorm_forward(x, w, b, eps, out, xhat, rstd):
    N, C = x.shape
    for i in range(N):
        s = 0.0
        for j in range(C):
            s += x[i, j]
        mean = s / C
        v = 0.0
        for j in range(C):
            d = x[i, j] - mean
            v += d * d
        r = 1.0 / math.sqrt(v / C + eps)  # biased variance, ε inside the root
        rstd[i] = r
        m, rr = x.dtype.type(mean), x.dtype.type(r)
        for j in range(C):
            h = (x[i, j] - m) * rr
            xhat[i, j] = h
            out[i, j] = h * w[j] + b[j]


def layernorm_forward(x, w, b, eps):
    """:func:`engine.layers.layernorm_forward` in one pass per row: ``(out, xhat, rstd)``."""
    x = np.ascontiguousarray(x)
    N, C = x.shape
    out, xhat, rstd = np.empty_like(x), np.empty_like(x), np.empty(N, dtype=x.dtype)
    _layernorm_forward(x, w, np.zeros_like(w) if b is None else b, float(eps), out, xhat, rstd)
    return out, xhat, rstd


@jit
def _layernorm_backward(dout, xhat, rstd, w, dx, dw, db):
    N, C = dout.shape
    dw64, db64 = np.zeros(C), np.zeros(C)
    for i in range(N):
        m1, m2 = 0.0, 0.0
        for j in range(C):
            g = dout[i, j] * w[j]  # dx̂
            m1 += g
            m2 += g * xhat[i, j]
            dw64[j] += dout[i, j] * xhat[i, j]
            db64[j] += dout[i, j]
        mean1, mean2 = dout.dtype.type(m1 / C), dout.dtype.type(m2 / C)
        r = rstd[i]
        for j in range(C):
            dx[i, j] = (dout[i, j] * w[j] - mean1 - xhat[i, j] * mean2) * r
    for j in range(C):
        dw[j] = dw64[j]
        db[j] = db64[j]


def layernorm_backward(dout, xhat, rstd, w, dw=None, db=None):
    """:func:`engine.layers.layernorm_backward` in one pass per row: ``(dx, dw, db)``, written into
    ``dw`` and ``db`` when given (``db=None`` for a LayerNorm without a bias: computed, dropped)."""
    dout = np.ascontiguousarray(dout)
    dx = np.empty_like(dout)
    dw = np.empty_like(w) if dw is None else dw
    db_out = np.empty_like(w) if db is None else db
    _layernorm_backward(dout, xhat, rstd, w, dx, dw, db_out)
    return dx, dw, db_out


# -- attention's masked softmax (engine.attention.attention_forward / _backward) -----------------


@jit
def _scale_mask_shift(s, scale, hidden, masked, pad, padded, rows_per_seq):
    """Each row of ``s (R, t)``: scores · scale, −∞ where hidden or padding, minus the row's
    largest. Row r is query r % T of sequence r // (nh·T) (``rows_per_seq``)."""
    R, t = s.shape
    T = hidden.shape[0]
    neg = -np.inf
    for r in range(R):
        i = r % T  # the query's row in the (T, t) mask
        b = r // rows_per_seq  # the sequence, for its padding
        top = neg
        for j in range(t):
            z = s[r, j] * scale
            if (masked and hidden[i, j]) or (padded and pad[b, j]):
                z = neg
            s[r, j] = z
            if z > top:
                top = z
        for j in range(t):
            s[r, j] -= top


@jit
def _normalise_rows(e):
    R, t = e.shape
    for r in range(R):
        total = 0.0
        for j in range(t):
            total += e[r, j]
        inv = e.dtype.type(1.0 / total)
        for j in range(t):
            e[r, j] *= inv


def softmax_forward(scores, scale, hidden, key_pad=None):
    """softmax(mask(scores · scale)) over the last axis, in place in ``scores (B, nh, T, t)``.

    The readable attention's scale, mask, max, subtract, exp, sum and divide (seven passes)
    as a kernel, numpy's exp, and a kernel. ``hidden (T, t)`` of booleans (True: −∞), or None;
    ``key_pad (B, t)`` (True: padding, −∞ for every query of that sequence), or None.
    """
    scores = np.ascontiguousarray(scores)  # (the product of q and k is already: no copy)
    B, nh, T, t = scores.shape
    rows = scores.reshape(-1, t)  # a view, so the kernels write into scores
    masked, padded = hidden is not None, key_pad is not None
    mask = hidden if masked else np.zeros((1, t), dtype=np.bool_)
    pad = np.ascontiguousarray(key_pad, dtype=np.bool_) if padded else np.zeros((1, t), dtype=np.bool_)
    _scale_mask_shift(rows, scores.dtype.type(scale), mask, masked, pad, padded, nh * T)
    np.exp(rows, out=rows)
    _normalise_rows(rows)
    return scores


@jit
def _softmax_backward(dp, p, scale):
    R, t = dp.shape
    for r in range(R):
        s = 0.0
        for j in range(t):
            s += dp[r, j] * p[r, j]
        row = dp.dtype.type(s)
        for j in range(t):
            dp[r, j] = p[r, j] * (dp[r, j] - row) * scale


def softmax_backward(datt, att, scale):
    """From ``datt`` at att = softmax(...) back to the raw scores (before the forward's scale), in
    place in ``datt``: ``att ⊙ (datt − Σ_row datt ⊙ att) · scale``, one pass."""
    datt, t = np.ascontiguousarray(datt), datt.shape[-1]
    _softmax_backward(datt.reshape(-1, t), np.ascontiguousarray(att).reshape(-1, t), datt.dtype.type(scale))
    return datt


# -- cross-entropy (engine.gpt.model.cross_entropy_forward / _backward) ---------------------------


@jit
def _shift_rows(logits, targets, z, zt):
    N, V = logits.shape
    for i in range(N):
        top = logits[i, 0]
        for j in range(V):
            if logits[i, j] > top:
                top = logits[i, j]
        for j in range(V):
            z[i, j] = logits[i, j] - top
        zt[i] = z[i, targets[i]]


@jit
def _loss_and_normalise(e, zt):
    N, V = e.shape
    loss = 0.0
    for i in range(N):
        total = 0.0
        for j in range(V):
            total += e[i, j]
        loss += math.log(total) - zt[i]  # −log p[target] = log Σ eᶻ − z[target]
        inv = e.dtype.type(1.0 / total)
        for j in range(V):
            e[i, j] *= inv
    return loss / N


def cross_entropy_forward(logits, targets):
    """:func:`engine.gpt.model.cross_entropy_forward`: ``(loss, probs)`` in a kernel, numpy's exp
    and a kernel."""
    logits = np.ascontiguousarray(logits)
    targets = _checked(targets, logits.shape[1])
    probs, zt = np.empty_like(logits), np.empty(logits.shape[0], dtype=logits.dtype)
    _shift_rows(logits, targets, probs, zt)
    np.exp(probs, out=probs)
    return float(_loss_and_normalise(probs, zt)), probs


def _checked(targets, V):
    """The targets as int64, each a row index below V: a compiled loop does not check its
    indices, so an id out of range would read or write outside the array, where numpy raises."""
    targets = np.ascontiguousarray(targets, dtype=np.int64)
    if targets.size and (targets.min() < 0 or targets.max() >= V):
        raise IndexError(f"a target id is outside 0..{V - 1}")
    return targets


@jit
def _cross_entropy_backward(probs, targets, inv_n):
    N, V = probs.shape
    for i in range(N):
        probs[i, targets[i]] -= 1
        for j in range(V):
            probs[i, j] *= inv_n


def cross_entropy_backward(probs, targets):
    """:func:`engine.gpt.model.cross_entropy_backward` in place in ``probs``, one pass."""
    targets = _checked(targets, probs.shape[1])
    _cross_entropy_backward(probs, targets, probs.dtype.type(1.0 / probs.shape[0]))
    return probs


# -- AdamW (engine.optim.adamw_update), one pass over the flat buffers -----------------------------


@jit
def _adamw(p, g, m, v, decay, b1, b2, c1, c2, rbc2, eps, step):
    for i in range(p.size):
        gi = g[i]
        mi = b1 * m[i] + c1 * gi  # m = β₁m + (1−β₁)g
        vi = b2 * v[i] + c2 * (gi * gi)  # v = β₂v + (1−β₂)g²
        m[i] = mi
        v[i] = vi
        p[i] = p[i] * decay - mi / (np.sqrt(vi) * rbc2 + eps) * step  # p·(1 − lr·λ) − lr·m̂/(√v̂ + ε)


def adamw_update(p, g, m, v, part, n_decay, t, lr, beta1, beta2, eps, weight_decay):
    """:func:`engine.optim.adamw_update` on ``p[part]`` of a flat buffer in one pass, decaying the
    entries before ``n_decay`` (the 2-D weights) and not the rest."""
    ty = p.dtype.type
    constants = (ty(beta1), ty(beta2), ty(1.0 - beta1), ty(1.0 - beta2), ty(1.0 / math.sqrt(1.0 - beta2**t)),
                 ty(eps), ty(lr / (1.0 - beta1**t)))
    split = min(max(part.start, n_decay), part.stop)
    for lo, hi, decay in ((part.start, split, 1.0 - lr * weight_decay), (split, part.stop, 1.0)):
        if hi > lo:
            _adamw(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], ty(decay), *constants)
