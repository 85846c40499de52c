"""One generated token through the GPT, fast: the big products in BLAS, everything between them
in one compiled pass each.

With a KV cache a new token is one row through every block (:mod:`engine.kv_cache`), and its
time is the time to read every weight matrix once from memory: 494 MB for GPT-2 small, a
memory-bandwidth bound of some tens of milliseconds. The readable forward
(:meth:`engine.gpt.model.GPT.forward`) spends another few milliseconds a token between those
products, some twenty numpy calls a block on rows of 768 numbers, each a pass over memory that
the product before it has pushed out of the cache. Here each stretch between two products is one
kernel call:

* LayerNorm, or the residual add (with the projection's bias) followed by the next LayerNorm;
* attention: the qkv bias added, the new k and v written into the cache at position t, and for
  every head the scores against all t + 1 keys, their softmax and the weighted sum of the values;
* GELU with the first MLP layer's bias, its tanh from a SIMD exp (:mod:`engine.fused.expf`).

The products themselves are numpy's (OpenBLAS, on however many threads the caller allows),
written into buffers allocated once. The arithmetic is the readable layers' in the same order,
in float32, with sums (a row's mean and variance, a softmax's total) accumulated in float64 as
in :mod:`engine.fused.kernels`; ``tests/test_fused_decode.py`` holds the logits to the readable
forward's, token after token.

Only the standard GPT is decoded here (learned or fixed positions, dot-product scores, the
causal mask, LayerNorm, residual blocks, GELU): :func:`decodes` says whether a model is one;
any other runs the readable forward.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.fused.expf import exp_float32
from engine.mlp import GELU_C
from engine.trace import NO_TRACE

jit = njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"})


@jit
def _add_layernorm(x, d, bias, add, w, b, eps, out):
    """With ``add``: x ← x + d + bias (the residual, in place); then out = LayerNorm(x) · w + b.
    Rows of ``x (B, C)`` each on its own; the readable :func:`engine.layers.layernorm_forward`."""
    B, C = x.shape
    for i in range(B):
        row = x[i]
        if add:
            for j in range(C):
                row[j] = row[j] + (d[i, j] + bias[j])
        s = 0.0
        for j in range(C):
            s += row[j]
        mean = s / C
        v = 0.0
        for j in range(C):
            c = row[j] - mean
            v += c * c
        r = 1.0 / math.sqrt(v / C + eps)
        m, rr = x.dtype.type(mean), x.dtype.type(r)
        o = out[i]
        for j in range(C):
            o[j] = (row[j] - m) * rr * w[j] + b[j]


@jit
def _attend(qkv, bias, K, V, t0, n_head, scale, att, y):
    """One new position's attention, every sequence and head: ``qkv (B, 3C)`` before its bias;
    ``K, V (B, nh, block_size, hs)`` the cache, this position's k and v written at ``t0``;
    ``att`` scratch of at least t0 + 1; ``y (B, C)`` the heads side by side."""
    B = qkv.shape[0]
    C = qkv.shape[1] // 3
    hs = C // n_head
    t = t0 + 1
    ty = y.dtype.type
    for b in range(B):
        for h in range(n_head):
            q0, k0, v0 = h * hs, C + h * hs, 2 * C + h * hs
            kt, vt = K[b, h, t0], V[b, h, t0]
            for d in range(hs):
                kt[d] = qkv[b, k0 + d] + bias[k0 + d]
                vt[d] = qkv[b, v0 + d] + bias[v0 + d]
            q = qkv[b, q0 : q0 + hs] + bias[q0 : q0 + hs]  # (hs,), a small copy
            Kh, Vh = K[b, h], V[b, h]
            top = ty(-np.inf)
            for j in range(t):
                s = ty(0)
                kj = Kh[j]
                for d in range(hs):
                    s += q[d] * kj[d]
                s *= scale
                att[j] = s
                top = max(top, s)
            total = 0.0
            for j in range(t):
                e = math.exp(att[j] - top)
                att[j] = e
                total += e
            inv = ty(1.0 / total)
            yh = y[b, q0 : q0 + hs]
            for d in range(hs):
                yh[d] = 0
            for j in range(t):
                p = att[j] * inv
                vj = Vh[j]
                for d in range(hs):
                    yh[d] += p * vj[d]


@jit
def _bias_gelu(x, bias, c, c3, half):
    """x ← GELU(x + bias) in place, the tanh form of :func:`engine.mlp.gelu_forward`:
    ½u(1 + tanh(y)), y = u(c + c3·u²). tanh(y) = ±(1 − e)/(1 + e) with e = e^(−2|y|), the exp in
    SIMD (:mod:`engine.fused.expf`; the C library's tanh took a millisecond a token). Only
    tanh's absolute error reaches GELU (through 1 + t), so the cancellation in 1 − e for small
    |y| costs nothing."""
    B, H = x.shape
    one = x.dtype.type(1)
    e = np.empty(H, x.dtype)
    for i in range(B):
        row = x[i]
        for j in range(H):
            u = row[j] + bias[j]
            row[j] = u
            e[j] = -2 * abs(u * (c + c3 * u * u))
        if x.itemsize == 4:
            exp_float32(e)
        else:
            for j in range(H):
                e[j] = math.exp(e[j])
        for j in range(H):
            u = row[j]
            t = (one - e[j]) / (one + e[j])
            if u < 0:  # tanh is odd, and y has u's sign (c + c3·u² > 0)
                t = -t
            row[j] = half * u * (one + t)


def warm(dtype=np.float32) -> None:
    """Call every kernel once on tiny arrays of the types a model's decoding passes: numba compiles
    (the first time on a machine) or reads its cache at a kernel's first call, 50-100 ms each,
    which would otherwise land on the first generated tokens. :func:`engine.fused.preload` runs
    this on its own thread while a GPT-2's weights are read."""
    ty = np.dtype(dtype).type
    x, d, w, b = np.ones((1, 4), dtype), np.zeros((1, 4), dtype), np.ones(4, dtype), np.zeros(4, dtype)
    _add_layernorm(x, d, b, True, w, b, ty(1e-5), np.empty((1, 4), dtype))
    K, V = np.zeros((1, 1, 2, 4), dtype), np.zeros((1, 1, 2, 4), dtype)
    _attend(np.zeros((1, 12), dtype), np.zeros(12, dtype), K, V, 0, 1, ty(0.5), np.empty(2, dtype), d)
    _bias_gelu(x, b, ty(GELU_C), ty(GELU_C * 0.044715), ty(0.5))


def decodes(model) -> bool:
    """Whether :class:`Decoder` computes ``model``'s forward: the standard GPT's parts only."""
    cfg = model.config
    return cfg.score == "dot" and cfg.mask == "causal" and cfg.residual and cfg.layernorm


class Decoder:
    """``decoder(idx, cache)``: the logits ``(B, 1, V)`` of the one new token per sequence
    ``idx (B, 1)``, its keys and values added to ``cache``, as ``model.forward(idx, cache=cache)``
    computes them. Buffers are made once per batch size; the parameters are the model's own
    arrays, read at each call, so new weights loaded into the model are used at once."""

    def __init__(self, model):
        cfg = model.config
        self.model = model
        self.n_head, self.eps = cfg.n_head, model.dtype.type(cfg.ln_eps)
        self.scale = model.dtype.type(1.0 / math.sqrt(cfg.head_size) if cfg.scale else 1.0)
        zeros = {n: np.zeros(n, model.dtype) for n in (cfg.n_embd, 3 * cfg.n_embd, 4 * cfg.n_embd)}

        def bias(layer):  # a model without biases adds zeros
            return layer.b if getattr(layer, "b", None) is not None else zeros[layer.w.shape[-1]]

        self.layers = [(blk.ln_1.w, bias(blk.ln_1), blk.attn.c_attn.w, bias(blk.attn.c_attn),
                        blk.attn.c_proj.w, bias(blk.attn.c_proj), blk.ln_2.w, bias(blk.ln_2),
                        blk.mlp.c_fc.w, bias(blk.mlp.c_fc), blk.mlp.c_proj.w, bias(blk.mlp.c_proj))
                       for blk in model.h]
        self.ln_f = (model.ln_f.w, bias(model.ln_f))
        self._buffers: dict[int, tuple] = {}
        ty = model.dtype.type
        self._gelu = (ty(GELU_C), ty(GELU_C * 0.044715), ty(0.5))

    def _for(self, B: int):
        if B not in self._buffers:
            cfg, dt = self.model.config, self.model.dtype
            C = cfg.n_embd
            self._buffers[B] = (np.empty((B, C), dt), np.empty((B, 3 * C), dt), np.empty((B, C), dt),
                                np.empty((B, C), dt), np.empty((B, 4 * C), dt), np.empty(cfg.block_size, dt))
        return self._buffers[B]

    def __call__(self, idx, cache):
        model = self.model
        B = idx.shape[0]
        cache.check_room(1)
        t0 = cache.t
        x = np.ascontiguousarray(model.embed.forward(idx, NO_TRACE, t0))  # (B, C): the residual stream
        h, qkv, y, d, fc, att = self._for(B)
        eps = self.eps
        add, bias_d = False, self.ln_f[1]  # nothing to add before the first LayerNorm
        for weights, kv in zip(self.layers, cache.layers, strict=True):
            w1, b1, wa, ba, wp, bp, w2, b2, wf, bf, wm, bm = weights
            _add_layernorm(x, d, bias_d, add, w1, b1, eps, h)  # h = ln_1(x), after the last block's MLP
            np.matmul(h, wa, out=qkv)  # (B, C) @ (C, 3C)
            _attend(qkv, ba, kv.k, kv.v, t0, self.n_head, self.scale, att, y)
            np.matmul(y, wp, out=d)  # (B, C) @ (C, C)
            _add_layernorm(x, d, bp, True, w2, b2, eps, h)  # x += attn_out; h = ln_2(x)
            np.matmul(h, wf, out=fc)  # (B, C) @ (C, 4C)
            _bias_gelu(fc, bf, *self._gelu)
            np.matmul(fc, wm, out=d)  # (B, 4C) @ (4C, C): the MLP's output, added at the next norm
            add, bias_d = True, bm
        cache.advance(1)
        _add_layernorm(x, d, bias_d, add, *self.ln_f, eps, h)  # ln_f
        logits = h @ model._head(B, False)  # (B, C) @ (C, V): one row reads wte as stored
        return logits.reshape(B, 1, -1)
