"""The layers every model here shares, each a forward/backward pair written out by hand.

Linear, LayerNorm, softmax, dropout and the sinusoidal position code live here; the MLP and
its activations in :mod:`engine.mlp`; attention, its parts (score, scale, mask) and the
self-attention layer in :mod:`engine.attention`; what only one model family has in that
family's package (the GPT's embedding and block in :mod:`engine.gpt.blocks`, the
encoder–decoder's in :mod:`engine.translation.layers`).

Every layer keeps what its backward pass needs from the forward pass (``self.cache``-style
attributes), so ``backward(dout)`` reads like the forward read in reverse: one line of the
forward, one line of the chain rule, side by side in the same class.

Conventions (the lessons state them too):

* Weights are stored ``(in, out)``, so a linear layer is ``x @ w + b`` and reads left to right:
  ``(B*T, C) @ (C, 3*C) -> (B*T, 3*C)``. The digit net stores ``(out, in)`` the way Nielsen and
  PyTorch's ``nn.Linear`` do; ``w`` here is the transpose of PyTorch's ``weight``.
* Inside a linear layer activations are 2-D ``(B*T, C)``: every position of every sequence is
  one row, so one large matmul replaces B small ones (about 1.3x on a whole training step).
  The trace still shows them as ``(B, T, C)``.
* A gradient has the shape of what it differentiates: ``dw`` is shaped like ``w``.
* Trace names follow nanoGPT (``ln_1``, ``q``, ``att``, ``y``, ``fc``...). Activations carry
  the block prefix given as ``prefix`` (``"h0."`` inside a GPT, ``""`` for a layer used on its
  own); parameters carry their full path (``h0.attn.c_attn.w``). Gradients get a ``d`` in front
  of the last part: ``h0.datt``, ``h0.attn.c_attn.dw``.

Speed tricks used here (each one says what it buys where it is used):

* row sums and means as a matmul with a ones vector, not ``np.sum(axis=...)``;
* ``u * u * u`` instead of ``u ** 3`` (numpy's float32 power is ~300x slower);
* gradients written with ``np.matmul(..., out=self.dw)`` straight into the model's flat
  gradient buffer (see :mod:`engine.gpt.model`), so nothing is allocated or zeroed per step.
"""

from __future__ import annotations

import numpy as np

from engine import fused
from engine.errors import KqvError
from engine.trace import NO_TRACE

LN_EPS = 1e-5


def _ones(n: int, dtype) -> np.ndarray:
    return np.ones(n, dtype=dtype)


def init_normal(rng, shape, std, dtype) -> np.ndarray:
    """N(0, std²) initial weights; with ``rng=None``, uninitialised memory for weights that are
    about to be loaded (a checkpoint, GPT-2): drawing 124M random numbers only to overwrite
    them would cost seconds and a second copy of the model in memory."""
    if rng is None:
        return np.empty(shape, dtype=dtype)
    return (rng.standard_normal(shape) * std).astype(dtype)


class Module:
    """Something with parameters: ``params()`` and ``grads()`` list them by full name.

    A layer's parameters are ordinary attributes (``self.w``, ``self.b``); its gradients are
    the same names with a ``d`` (``self.dw``). :class:`engine.gpt.model.GPT` moves them into one flat
    buffer after building, by replacing the attributes with views of that buffer.
    """

    path: str = ""
    param_names: tuple[str, ...] = ()

    def children(self) -> list[Module]:
        return []

    def named_params(self) -> list[tuple[str, Module, str]]:
        """``(full name, owning layer, attribute)`` for every parameter, in a fixed order."""
        out = [(f"{self.path}.{n}" if self.path else n, self, n) for n in self.param_names]
        for child in self.children():
            out += child.named_params()
        return out


# -- linear --------------------------------------------------------------------------------


class Linear(Module):
    """``y = x @ w + b`` with ``w`` stored ``(in, out)``.

    ``x`` is 2-D, ``(N, in)``: the caller flattens ``(B, T, C)`` to ``(B*T, C)`` first.
    """

    param_names = ("w", "b")

    def __init__(self, n_in, n_out, rng, path, bias=True, std=0.02, dtype=np.float32, sym=()):
        self.path = path
        self.n_in, self.n_out, self.bias = n_in, n_out, bias
        self.sym = sym  # the weight's symbolic shape for the trace, e.g. ("C", "3*C")
        self.param_names = ("w", "b") if bias else ("w",)
        self.w = init_normal(rng, (n_in, n_out), std, dtype)
        # np.zeros, not zeros_like: calloc'd, a gradient costs no memory until it is written
        self.dw = np.zeros(self.w.shape, dtype=dtype)
        if bias:
            self.b = np.zeros(n_out, dtype=dtype)
            self.db = np.zeros(self.b.shape, dtype=dtype)

    def formula(self, x_name: str) -> str:
        """What this layer computes, for a trace label: ``ln_1 @ c_attn.w + c_attn.b``."""
        short = self.path.rsplit(".", 1)[-1]
        return f"{x_name} @ {short}.w" + (f" + {short}.b" if self.bias else "")

    def forward(self, x, tracer=NO_TRACE):
        self.x = x  # kept for dw = xᵀ @ dout
        out = x @ self.w  # (N, in) @ (in, out) -> (N, out)
        if self.bias:
            out += self.b  # (out,) broadcasts over the N rows
        return out

    def backward(self, dout, tracer=NO_TRACE, sym_out=()):
        np.matmul(self.x.T, dout, out=self.dw)  # (in, N) @ (N, out) -> (in, out), like w
        tracer.record(f"{self.path}.dw", self.dw, "xᵀ @ dout   (in, N) @ (N, out)", "backward", self.sym)
        if self.bias:
            # summing dout over the rows; a ones-vector matmul is ~6x faster than dout.sum(0)
            np.matmul(_ones(dout.shape[0], dout.dtype), dout, out=self.db)
            tracer.record(f"{self.path}.db", self.db, "Σ_rows dout", "backward", sym_out[-1:])
        return dout @ self.w.T  # (N, out) @ (out, in) -> (N, in)


# -- layer norm ----------------------------------------------------------------------------


class LayerNorm(Module):
    """Normalise each row to mean 0 and variance 1, then scale by ``w`` and shift by ``b``.

    The variance is the biased one (divide by C) and ε sits inside the square root, as in
    PyTorch and GPT-2 (whose config calls it ``layer_norm_epsilon``). The arithmetic is
    :func:`layernorm_forward` / :func:`layernorm_backward`.
    """

    def __init__(self, n, path, bias=True, dtype=np.float32, eps=LN_EPS):
        self.path = path
        self.bias = bias
        self.eps = eps
        self.param_names = ("w", "b") if bias else ("w",)
        self.w = np.ones(n, dtype=dtype)
        self.dw = np.zeros(self.w.shape, dtype=dtype)
        if bias:
            self.b = np.zeros(n, dtype=dtype)
            self.db = np.zeros(self.b.shape, dtype=dtype)

    def formula(self, x_name: str, expand: bool = False) -> str:
        """What this layer computes, for a trace label: ``LayerNorm(x)``, or with ``expand`` the
        arithmetic too."""
        if not expand:
            return f"LayerNorm({x_name})"
        return f"LayerNorm({x_name}) = ({x_name} − mean)/√(var + ε) · w" + (" + b" if self.bias else "")

    def grad_formula(self, dout_name: str) -> str:
        """The gradient this layer passes back, for a trace label."""
        return f"LayerNorm′ᵀ({dout_name})"

    def forward(self, x, tracer=NO_TRACE):
        # the block records the output as ln_1 / ln_2; the internals stay out of the GPT's trace.
        # An untraced run may take the same arithmetic fused into one pass (engine.fused).
        fast = fused.kernels_for(tracer)
        forward = layernorm_forward if fast is None else fast.layernorm_forward
        out, self.xhat, self.rstd = forward(x, self.w, self.b if self.bias else None, self.eps)
        return out

    def backward(self, dout, tracer=NO_TRACE, sym=()):
        fast = fused.kernels_for(tracer)
        backward = layernorm_backward if fast is None else fast.layernorm_backward
        dx, _, _ = backward(dout, self.xhat, self.rstd, self.w, dw=self.dw, db=self.db if self.bias else None)
        tracer.record(f"{self.path}.dw", self.dw, "Σ_rows dout ⊙ x̂", "backward", sym[-1:])
        if self.bias:
            tracer.record(f"{self.path}.db", self.db, "Σ_rows dout", "backward", sym[-1:])
        return dx


def layernorm_forward(x, w, b, eps=LN_EPS, tracer=NO_TRACE):
    """out = (x − mean) / √(var + ε) · w + b, each row of ``x (N, C)`` on its own.

    ``w (C,)`` scales and ``b (C,)`` (or None) shifts. Returns ``(out (N, C), xhat (N, C),
    rstd (N,))``; x̂ and 1/√(var + ε) are what the backward needs.
    """
    mean_vec = np.full(x.shape[-1], 1.0 / x.shape[-1], dtype=x.dtype)
    # row means as a matmul with a (1/C) vector: ~6x faster than x.mean(axis=-1) here
    mean = x @ mean_vec  # (N, C) @ (C,) -> (N,)
    tracer.record("mean", mean, "Σ_c x / C, each row", "forward", ("N",))
    xc = x - mean[:, None]  # (N, C)
    var = (xc * xc) @ mean_vec  # (N,) biased: divided by C, not C − 1
    tracer.record("var", var, "Σ_c (x − mean)² / C", "forward", ("N",))
    rstd = 1.0 / np.sqrt(var + eps)  # (N,)
    tracer.record("rstd", rstd, "1 / √(var + ε)", "forward", ("N",), "ε inside the root")
    xhat = xc
    xhat *= rstd[:, None]  # (N, C), in place: xc is not needed again
    tracer.record("xhat", xhat, "(x − mean) · rstd", "forward", ("N", "C"))
    out = xhat * w
    if b is not None:
        out += b
    tracer.record("out", out, "x̂ ⊙ w + b", "forward", ("N", "C"))
    return out, xhat, rstd


def layernorm_backward(dout, xhat, rstd, w, dw=None, db=None, tracer=NO_TRACE):
    """From ``dout (N, C)`` back to ``(dx (N, C), dw (C,), db (C,))``.

    ``xhat`` and ``rstd`` come from :func:`layernorm_forward`. ``dw``/``db``, when given, are
    arrays to write the parameter gradients into (the model's gradient buffer).
    """
    ones = _ones(dout.shape[0], dout.dtype)
    dw = np.matmul(ones, dout * xhat, out=dw)  # (C,) Σ_rows dout ⊙ x̂
    tracer.record("dw", dw, "Σ_rows dout ⊙ x̂", "backward", ("C",))
    db = np.matmul(ones, dout, out=db)  # (C,) Σ_rows dout
    tracer.record("db", db, "Σ_rows dout", "backward", ("C",))
    dxhat = dout * w  # (N, C)
    tracer.record("dxhat", dxhat, "dout ⊙ w", "backward", ("N", "C"))
    # dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)), all means over the row
    mean_vec = np.full(xhat.shape[-1], 1.0 / xhat.shape[-1], dtype=xhat.dtype)
    m1 = dxhat @ mean_vec  # (N,)
    m2 = (dxhat * xhat) @ mean_vec  # (N,)
    dx = dxhat
    dx -= m1[:, None]
    dx -= xhat * m2[:, None]
    dx *= rstd[:, None]
    tracer.record("dx", dx, "rstd · (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂))", "backward", ("N", "C"))
    return dx, dw, db


# -- softmax -------------------------------------------------------------------------------


def softmax_forward(x, tracer=NO_TRACE, sym=(), out=None):
    """Softmax over the last axis: p = exp(x − max) / Σ exp(x − max), each row summing to 1.

    Subtracting the row's maximum changes nothing in exact arithmetic (the factor e^−max
    cancels above and below the line) but keeps exp from overflowing on large scores. A −∞
    entry (masked) becomes exactly 0. ``x (..., n)`` -> ``p (..., n)``; ``sym`` names the
    shape for the trace. ``out=x`` works in place (attention does: x is not needed again).
    """
    p = np.subtract(x, x.max(axis=-1, keepdims=True), out=out)
    np.exp(p, out=p)
    p /= (p @ _ones(p.shape[-1], p.dtype))[..., None]  # row sums by matmul: ~6x faster than sum
    tracer.record("p", p, "exp(x − max) / Σ exp(x − max) over the last axis", "forward", sym)
    return p


def softmax_backward(dp, p, tracer=NO_TRACE, sym=(), out=None):
    """From ``dp``, the gradient at ``p = softmax(x)``, to ``dx``; both shaped like p.

    The Jacobian of one row is diag(p) − p pᵀ, so dx = p ⊙ (dp − Σ_j dp_j p_j), row by row.
    ``out=dp`` works in place.
    """
    row = (dp * p) @ _ones(p.shape[-1], p.dtype)  # (...,) Σ_j dp_j p_j of every row
    dx = np.subtract(dp, row[..., None], out=out)
    dx *= p
    tracer.record("dx", dx, "p ⊙ (dp − Σ_row dp ⊙ p)", "backward", sym)
    return dx

# -- heads ---------------------------------------------------------------------------------


def head_counts(n_embd: int, most: int | None = None) -> list[int]:
    """Every head count that divides ``n_embd`` (up to ``most``), smallest first."""
    top = n_embd if most is None else min(n_embd, most)
    return [h for h in range(1, top + 1) if n_embd % h == 0]


def check_heads(n_embd: int, n_head: int) -> None:
    """Refuse a head count that does not divide the embedding width, listing every one that does."""
    if n_head <= 0 or n_embd <= 0:
        raise KqvError(f"n_embd and n_head must be positive, got n_embd={n_embd}, n_head={n_head}")
    if n_embd % n_head != 0:
        valid = ", ".join(str(h) for h in head_counts(n_embd))
        raise KqvError(
            f"n_embd={n_embd} is not divisible by n_head={n_head}: each head takes n_embd/n_head "
            f"columns; use n_head in {{{valid}}} or an n_embd that is a multiple of {n_head}"
        )

# -- dropout -------------------------------------------------------------------------------


def dropout_forward(x, p, rng):
    """Inverted dropout: zero each entry with probability p, scale the rest by 1/(1−p).

    Returns ``(out, keep)``; ``keep`` (already scaled) is what the backward multiplies by.
    Without an rng (evaluation, sampling) or with p = 0 it is the identity.
    """
    if rng is None or p <= 0:
        return x, None
    keep = (rng.random(x.shape, dtype=np.float32) >= p).astype(x.dtype)
    keep *= 1.0 / (1.0 - p)
    return x * keep, keep


def dropout_backward(dout, keep):
    return dout if keep is None else dout * keep

# -- positions -----------------------------------------------------------------------------


def sinusoidal_positions(T: int, C: int, dtype=np.float32, tracer=NO_TRACE,
                         layout: str = "interleaved") -> np.ndarray:
    """The original Transformer's fixed position code, ``(T, C)``, sin and cos interleaved.

    PE(pos, 2i) = sin(pos / 10000^(2i/C)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/C)): each
    pair of columns is a clock turning at its own speed, fast in the first columns, slow in
    the last. GPT-2 and nanoGPT learn their position embeddings instead.

    ``layout="halves"`` puts the same numbers in another column order: all the sines first,
    then all the cosines (Marian, and fairseq's and tensor2tensor's code). A model trained with
    one order must be run with the same one.
    """
    if layout not in ("interleaved", "halves"):
        raise KqvError(f"layout must be interleaved or halves, not {layout!r}")
    pos = np.arange(T, dtype=np.float64)[:, None]  # (T, 1)
    two_i = np.arange(0, C, 2, dtype=np.float64)  # (ceil(C/2),)
    angle = pos / np.power(10000.0, two_i / C)  # (T, ceil(C/2))
    tracer.record("angle", angle, "pos / 10000^(2i/C)", "forward", ("T", "(C+1)//2"),
                  "column pair i turns 1/10000^(2i/C) radians per position")
    pe = np.empty((T, C), dtype=np.float64)
    if layout == "interleaved":
        pe[:, 0::2] = np.sin(angle)
        pe[:, 1::2] = np.cos(angle[:, : C // 2])
        tracer.record("pe", pe, "sin(angle) in the even columns, cos(angle) in the odd ones", "forward",
                      ("T", "C"))
    else:
        half = angle.shape[1]  # ceil(C/2) sines, then floor(C/2) cosines
        pe[:, :half] = np.sin(angle)
        pe[:, half:] = np.cos(angle[:, : C - half])
        tracer.record("pe", pe, "sin(angle) in the first half of the columns, cos(angle) in the second",
                      "forward", ("T", "C"))
    return pe.astype(dtype)
