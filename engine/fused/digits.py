"""The digit net's whole mini-batch step as one compiled call: gather, feedforward, backprop, update.

:meth:`engine.digits.network.Network.backprop_batch` and ``traced_update`` are the reference
(the lessons step through them); ``Network.update_mini_batch`` is the same step in numpy with
buffers allocated once. At the book's mini-batch of 10 an epoch is 5,000 steps of a few hundred
thousand multiply-adds each, and numpy's step spends most of its time on some thirty calls'
overhead: checking, dispatching and (for the small products) OpenBLAS's setup. Here the step is
one call from Python, and inside it nothing the size of the data is allocated.

How the loops are laid out, and why (a 784-30-10 net, ``m`` examples as rows):

* The images are never copied into a mini-batch: the first layer reads ``x[rows[r]]``
  where it stands in the training set.
* z = a wᵀ + b goes four examples by four neurons at a time: every number loaded from an image
  row or a weight row is used four times, with sixteen sums kept in registers, each a SIMD
  vector (``fastmath`` lets LLVM split a sum over lanes).
* nabla_w = δᵀ a (the (n, m) by (m, n_in) product) goes two neurons by four examples at a
  time, one pass over each gradient row per four examples; the last pass updates the weight
  row, while both are in the L1 cache.
* σ in float32 takes its exp from :mod:`engine.fused.expf`, in SIMD: the C library's exp, one
  call per number, cost a third of a mini-batch of 100. The softmax (a few numbers a row)
  and float64 networks keep the C library's.

The same jit settings as :mod:`engine.fused.kernels` (cache, nogil, numpy's error model,
reassociating fastmath without assuming away infinities); every product accumulates in the
array's own dtype, as numpy's float32 matmul does. ``tests/test_network.py`` holds this step to
``traced_update`` (float64 within 1e-12, float32 to rounding) and to the book's formulas.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.fused.expf import exp_float32

jit = njit(cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract", "nsz", "arcp"})

# what the kernel calls the network's functions (Network.activation, Cost.name)
HIDDEN = {"sigmoid": 0, "relu": 1}
COSTS = {"quadratic": 0, "cross-entropy": 1, "log-likelihood": 2}


@jit
def _dense_forward(a, rows, w, b, out):
    """out[r] = w @ a[rows[r]] + b for each r: ``a`` (·, n_in), ``w`` (n, n_in), ``out`` (m, n).

    Four examples by four neurons at a time: sixteen sums in SIMD registers, and each number
    loaded from an image row used four times, each from a weight row four times. The images
    come from all over the training set, so the first four neurons wait on memory; the other
    blocks find the rows in the cache."""
    m = rows.size
    n, k = w.shape
    zero = out.dtype.type(0)
    j = 0
    while j < n:
        if j + 4 <= n:  # four neurons at a time
            w0, w1, w2, w3 = w[j], w[j + 1], w[j + 2], w[j + 3]
            b0, b1, b2, b3 = b[j], b[j + 1], b[j + 2], b[j + 3]
            r = 0
            while r < m:
                if r + 4 <= m:  # by four examples
                    x0, x1, x2, x3 = a[rows[r]], a[rows[r + 1]], a[rows[r + 2]], a[rows[r + 3]]
                    s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
                    s20 = s21 = s22 = s23 = s30 = s31 = s32 = s33 = zero
                    for i in range(k):
                        c0, c1, c2, c3 = w0[i], w1[i], w2[i], w3[i]
                        u = x0[i]
                        s00 += u * c0
                        s01 += u * c1
                        s02 += u * c2
                        s03 += u * c3
                        u = x1[i]
                        s10 += u * c0
                        s11 += u * c1
                        s12 += u * c2
                        s13 += u * c3
                        u = x2[i]
                        s20 += u * c0
                        s21 += u * c1
                        s22 += u * c2
                        s23 += u * c3
                        u = x3[i]
                        s30 += u * c0
                        s31 += u * c1
                        s32 += u * c2
                        s33 += u * c3
                    out[r, j], out[r, j + 1] = s00 + b0, s01 + b1
                    out[r, j + 2], out[r, j + 3] = s02 + b2, s03 + b3
                    out[r + 1, j], out[r + 1, j + 1] = s10 + b0, s11 + b1
                    out[r + 1, j + 2], out[r + 1, j + 3] = s12 + b2, s13 + b3
                    out[r + 2, j], out[r + 2, j + 1] = s20 + b0, s21 + b1
                    out[r + 2, j + 2], out[r + 2, j + 3] = s22 + b2, s23 + b3
                    out[r + 3, j], out[r + 3, j + 1] = s30 + b0, s31 + b1
                    out[r + 3, j + 2], out[r + 3, j + 3] = s32 + b2, s33 + b3
                    r += 4
                else:  # the last examples, one at a time
                    x = a[rows[r]]
                    s0 = s1 = s2 = s3 = zero
                    for i in range(k):
                        xi = x[i]
                        s0 += xi * w0[i]
                        s1 += xi * w1[i]
                        s2 += xi * w2[i]
                        s3 += xi * w3[i]
                    out[r, j], out[r, j + 1] = s0 + b0, s1 + b1
                    out[r, j + 2], out[r, j + 3] = s2 + b2, s3 + b3
                    r += 1
            j += 4
        elif j + 2 <= n:  # two neurons left (30 = 7·4 + 2): two by four examples
            w0, w1, b0, b1 = w[j], w[j + 1], b[j], b[j + 1]
            r = 0
            while r < m:
                end = min(r + 3, m - 1)  # a last block of fewer repeats its last example
                x0, x1, x2, x3 = a[rows[r]], a[rows[min(r + 1, end)]], a[rows[min(r + 2, end)]], a[rows[end]]
                s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
                for i in range(k):
                    c0, c1 = w0[i], w1[i]
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    s00 += u0 * c0
                    s01 += u0 * c1
                    s10 += u1 * c0
                    s11 += u1 * c1
                    s20 += u2 * c0
                    s21 += u2 * c1
                    s30 += u3 * c0
                    s31 += u3 * c1
                out[r, j], out[r, j + 1] = s00 + b0, s01 + b1
                if r + 1 <= end:
                    out[r + 1, j], out[r + 1, j + 1] = s10 + b0, s11 + b1
                if r + 2 <= end:
                    out[r + 2, j], out[r + 2, j + 1] = s20 + b0, s21 + b1
                if r + 3 <= end:
                    out[r + 3, j], out[r + 3, j + 1] = s30 + b0, s31 + b1
                r += 4
            j += 2
        else:  # the last neuron
            wj = w[j]
            for r in range(m):
                x = a[rows[r]]
                s = zero
                for i in range(k):
                    s += x[i] * wj[i]
                out[r, j] = s + b[j]
            j += 1


@jit
def _sigmoid_float32(a):
    """a ← σ(a) = 1 / (1 + e⁻ᵃ) in place, float32, with the SIMD exp of :mod:`engine.fused.expf`:
    the C library's exp, one call per number, took 30 of the 100 µs of a mini-batch of 100."""
    one = np.float32(1)
    for i in range(a.size):
        a[i] = -a[i]
    exp_float32(a)
    for i in range(a.size):
        a[i] = one / (one + a[i])


@jit
def _activate(z, fn):
    """In place on ``z`` (m, n), row by row: 0 σ, 1 ReLU, 2 softmax."""
    m, n = z.shape
    one = z.dtype.type(1)
    if fn == 0 and z.itemsize == 4:
        _sigmoid_float32(z.reshape(-1))
        return
    for r in range(m):
        row = z[r]
        if fn == 0:  # σ(z) = 1 / (1 + e⁻ᶻ); e⁻ᶻ = inf gives the right 0
            for j in range(n):
                row[j] = one / (one + math.exp(-row[j]))
        elif fn == 1:
            for j in range(n):
                if row[j] < 0:
                    row[j] = 0
        else:  # softmax: shift by the largest so e^z cannot overflow
            top = row[0]
            for j in range(n):
                top = max(top, row[j])
            total = z.dtype.type(0)
            for j in range(n):
                e = math.exp(row[j] - top)
                row[j] = e
                total += e
            for j in range(n):
                row[j] /= total


@jit
def _gradient_step(delta, a, rows, w, b, g, decay):
    """nabla_w = δᵀ a[rows], nabla_b = Σ_r δ[r]; then w ← decay·w − nabla_w and b ← b − nabla_b.
    ``delta`` (m, n) is already scaled by η/m; ``g`` (n, n_in) holds the partial sums.

    Two neurons by four examples at a time: one pass over two gradient rows per four examples
    (a last block of fewer is padded with zero coefficients). The first block writes the rows
    instead of adding to them, and the last one adds its share and updates the weight rows in
    the same pass, while both are in the cache; with a single block the gradient is never
    stored at all."""
    m = rows.size
    n, k = w.shape
    zero = w.dtype.type(0)
    total = np.zeros(n, w.dtype)  # nabla_b, example by example: rows of δ are contiguous
    for r in range(m):
        dr = delta[r]
        for j in range(n):
            total[j] += dr[j]
    for j in range(n):
        b[j] -= total[j]
    if m == 0:
        return
    blocks = (m + 3) // 4
    spare = np.empty(k, w.dtype)  # the second gradient row of an unpaired last neuron
    j = 0
    while j < n:
        pair = j + 2 <= n
        j1 = j + 1 if pair else j
        g0, w0, w1 = g[j], w[j], w[j1]
        g1 = g[j1] if pair else spare
        for blk in range(blocks):
            r = 4 * blk
            end = min(r + 3, m - 1)  # the block's last example
            r1, r2 = min(r + 1, end), min(r + 2, end)
            x0, x1, x2, x3 = a[rows[r]], a[rows[r1]], a[rows[r2]], a[rows[end]]
            c0, e0 = delta[r, j], delta[r, j1]
            c1, e1 = (delta[r1, j], delta[r1, j1]) if r + 1 <= end else (zero, zero)
            c2, e2 = (delta[r2, j], delta[r2, j1]) if r + 2 <= end else (zero, zero)
            c3, e3 = (delta[end, j], delta[end, j1]) if r + 3 <= end else (zero, zero)
            if not pair:
                e0 = e1 = e2 = e3 = zero
            if blocks == 1:  # the whole gradient in one pass, straight into the weights
                for i in range(k):
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    w0[i] = w0[i] * decay - (c0 * u0 + c1 * u1 + c2 * u2 + c3 * u3)
                if pair:
                    for i in range(k):
                        u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                        w1[i] = w1[i] * decay - (e0 * u0 + e1 * u1 + e2 * u2 + e3 * u3)
            elif blk == 0:
                for i in range(k):
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    g0[i] = c0 * u0 + c1 * u1 + c2 * u2 + c3 * u3
                    g1[i] = e0 * u0 + e1 * u1 + e2 * u2 + e3 * u3
            elif blk < blocks - 1:
                for i in range(k):
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    g0[i] += c0 * u0 + c1 * u1 + c2 * u2 + c3 * u3
                    g1[i] += e0 * u0 + e1 * u1 + e2 * u2 + e3 * u3
            elif pair:  # the last block: its share, then the step
                for i in range(k):
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    w0[i] = w0[i] * decay - (g0[i] + (c0 * u0 + c1 * u1 + c2 * u2 + c3 * u3))
                    w1[i] = w1[i] * decay - (g1[i] + (e0 * u0 + e1 * u1 + e2 * u2 + e3 * u3))
            else:
                for i in range(k):
                    u0, u1, u2, u3 = x0[i], x1[i], x2[i], x3[i]
                    w0[i] = w0[i] * decay - (g0[i] + (c0 * u0 + c1 * u1 + c2 * u2 + c3 * u3))
        j += 2 if pair else 1


@jit
def _delta_back(delta, w, a, relu, out):
    """δˡ = (δˡ⁺¹ w) ⊙ f′(zˡ), with f′ read off the activations ``a`` (m, n_in): σ′ = a(1 − a),
    ReLU′ = 1 where a > 0. ``delta`` (m, n), ``w`` (n, n_in), ``out`` (m, n_in). Four examples
    at a time, so each weight row is loaded once for four of them: the rows here are short
    (n_in = 30), and a loop's setup costs as much as its arithmetic. A last block of fewer
    computes its last example again, into scratch."""
    m, n = delta.shape
    k = w.shape[1]
    one = out.dtype.type(1)
    zero = out.dtype.type(0)
    spare = np.empty((3, k), out.dtype)  # where a last block of fewer than four writes the rest
    r = 0
    while r < m:
        end = min(r + 3, m - 1)
        q1, q2 = min(r + 1, end), min(r + 2, end)
        o0 = out[r]
        o1 = out[r + 1] if r + 1 <= end else spare[0]
        o2 = out[r + 2] if r + 2 <= end else spare[1]
        o3 = out[r + 3] if r + 3 <= end else spare[2]
        for i in range(k):
            o0[i] = zero
        for i in range(k):
            o1[i] = zero
        for i in range(k):
            o2[i] = zero
        for i in range(k):
            o3[i] = zero
        for j in range(n):
            c0, c1, c2, c3 = delta[r, j], delta[q1, j], delta[q2, j], delta[end, j]
            wj = w[j]
            for i in range(k):
                wi = wj[i]
                o0[i] += c0 * wi
                o1[i] += c1 * wi
                o2[i] += c2 * wi
                o3[i] += c3 * wi
        for q in range(r, end + 1):
            o, aq = out[q], a[q]
            for i in range(k):
                if relu:
                    if aq[i] <= 0:
                        o[i] = 0
                else:
                    o[i] *= aq[i] * (one - aq[i])
        r += 4


@jit
def sgd_step(x, y, pg, meta, work, coef, rows):
    """One step of gradient descent on the examples ``x[rows]``, labels ``y[rows]`` (one-hot).

    ``pg`` (2, P) holds the network's parameters in row 0 (each layer's w (n, n_in), then b (n,))
    and its gradients in row 1; ``meta`` is [hidden, cost, n1, n2, ..., nL]: the hidden layers'
    function (:data:`HIDDEN`), the cost (:data:`COSTS`), the layer sizes; ``work`` is scratch for
    the activations and deltas, at least 2·m·Σ n2..nL long; ``coef`` is [η/m, 1 − ηλ/n]. Few
    arguments, because numba checks each one's type at every call, some 0.2 µs an array.
    ``pg[0]`` is updated in place.
    """
    params, grads = pg[0], pg[1]
    relu, cost = meta[0] == 1, meta[1]
    sizes = meta[2:]
    scale, decay = coef[0], coef[1]
    m = rows.size
    layers = sizes.size - 1
    ident = np.arange(m)  # the rows of a scratch matrix, in order
    half = work.size // 2
    acts, deltas = work[:half], work[half:]
    # where each layer's w, b, activations and deltas start in the flat buffers
    w_at = np.empty(layers, np.int64)
    a_at = np.empty(layers, np.int64)
    p, q = 0, 0
    for i in range(layers):
        w_at[i] = p
        a_at[i] = q
        p += sizes[i + 1] * (sizes[i] + 1)
        q += m * sizes[i + 1]
    # feedforward: acts[i] holds layer i + 2's activations, examples as rows
    for i in range(layers):
        n_in, n = sizes[i], sizes[i + 1]
        w = params[w_at[i] : w_at[i] + n * n_in].reshape(n, n_in)
        b = params[w_at[i] + n * n_in : w_at[i] + n * n_in + n]
        out = acts[a_at[i] : a_at[i] + m * n].reshape(m, n)
        if i == 0:
            _dense_forward(x, rows, w, b, out)
        else:
            _dense_forward(acts[a_at[i - 1] : a_at[i]].reshape(m, n_in), ident, w, b, out)
        if i < layers - 1:
            _activate(out, 1 if relu else 0)
        else:
            _activate(out, 2 if cost == 2 else 0)
    # output error δᴸ = a − y, times σ′ = a(1 − a) for the quadratic cost, times η/m
    n = sizes[layers]
    a = acts[a_at[layers - 1] : a_at[layers - 1] + m * n].reshape(m, n)
    delta = deltas[a_at[layers - 1] : a_at[layers - 1] + m * n].reshape(m, n)
    one = a.dtype.type(1)
    for r in range(m):
        yr = y[rows[r]]
        for j in range(n):
            d = a[r, j] - yr[j]
            if cost == 0:
                d *= a[r, j] * (one - a[r, j])
            delta[r, j] = d * scale
    # backward, layer by layer: δ for the layer below (with this layer's w before its update),
    # then this layer's gradients and step
    for i in range(layers - 1, -1, -1):
        n_in, n = sizes[i], sizes[i + 1]
        w = params[w_at[i] : w_at[i] + n * n_in].reshape(n, n_in)
        b = params[w_at[i] + n * n_in : w_at[i] + n * n_in + n]
        g = grads[w_at[i] : w_at[i] + n * n_in].reshape(n, n_in)
        delta = deltas[a_at[i] : a_at[i] + m * n].reshape(m, n)
        if i == 0:
            _gradient_step(delta, x, rows, w, b, g, decay)
        else:
            below = acts[a_at[i - 1] : a_at[i]].reshape(m, n_in)
            _delta_back(delta, w, below, relu, deltas[a_at[i - 1] : a_at[i]].reshape(m, n_in))
            _gradient_step(delta, below, ident, w, b, g, decay)
