"""The layers of the character GPT, each a forward/backward pair written out by hand.

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

import functools
import math

import numpy as np

from engine.errors import KqvError
from engine.trace import NO_TRACE

LN_EPS = 1e-5
GELU_C = math.sqrt(2.0 / math.pi)  # the tanh approximation of GELU (GPT-2, llm.c)


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

    def forward(self, x, tracer=NO_TRACE):
        # the block records the output as ln_1 / ln_2; the internals stay out of the GPT's trace
        out, self.xhat, self.rstd = layernorm_forward(x, self.w, self.b if self.bias else None,
                                                      self.eps)
        return out

    def backward(self, dout, tracer=NO_TRACE, sym=()):
        dx, _, _ = layernorm_backward(dout, self.xhat, self.rstd, self.w, dw=self.dw,
                                      db=self.db if self.bias else None)
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


# -- attention -----------------------------------------------------------------------------


class CausalSelfAttention(Module):
    """Multi-head causal self-attention, all heads at once in one ``(B, nh, T, hs)`` array.

    q, k and v come from one projection ``c_attn`` of width 3*C; each position's query is
    compared (dot product, scaled by 1/√hs) with the keys of itself and every earlier position;
    later positions are masked to -inf so softmax gives them weight 0; the weights average the
    values; the heads are put side by side again and projected by ``c_proj``. The middle part,
    from q, k, v to the weighted values, is :func:`attention_forward` / :func:`attention_backward`.

    ``score``/``scale``/``mask`` are the switches the what-if lab turns on this one code path:
    the standard layer is ``score="dot", scale=True, mask="causal"``. The encoder of the
    translation model uses it with ``mask="none"`` (every source token sees every other) and
    ``seq="S"``, the letter its trace gives the sequence axis (S: source, T: target).
    """

    def __init__(self, n_embd, n_head, rng, prefix="", path=None, bias=True, dropout=0.0,
                 n_layer=1, dtype=np.float32, score="dot", scale=True, mask="causal", seq="T"):
        check_heads(n_embd, n_head)
        self.prefix = prefix
        self.seq = seq
        self.path = f"{prefix}attn" if path is None else path
        self.n_embd, self.n_head, self.hs = n_embd, n_head, n_embd // n_head
        self.dropout = dropout
        self.switches = {"score": score, "scale": scale, "mask": mask}
        self.c_attn = Linear(n_embd, 3 * n_embd, rng, f"{self.path}.c_attn", bias, dtype=dtype,
                             sym=("C", "3*C"))
        # residual projections start smaller (GPT-2): std 0.02/√(2·n_layer)
        std = 0.02 / math.sqrt(2 * n_layer)
        self.c_proj = Linear(n_embd, n_embd, rng, f"{self.path}.c_proj", bias, std=std, dtype=dtype,
                             sym=("C", "C"))

    def children(self):
        return [self.c_attn, self.c_proj]

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, cache=None, key_pad=None, x_name="ln_1"):
        """``x`` is ``(B*T, C)``; returns the attention output ``(B*T, C)``.

        ``rng`` turns dropout on (training); without it the layer is deterministic. ``cache``
        (a :class:`engine.kv_cache.LayerKV`) holds the keys and values of the positions before
        these T: the T new queries attend to all ``t`` positions, and the cache keeps the new
        keys and values for the next call, so generating a token costs one position, not T.
        ``key_pad (B, T)``, True at padding, hides those keys from every query (see
        :func:`attention_forward`). ``x_name`` names the input in the trace's formulas.
        """
        p, nh, C, s = self.prefix, self.n_head, self.n_embd, self.seq
        w = self.c_attn
        tracer.record(f"{w.path}.w", w.w, "weight, stored (in, out)", "forward", ("C", "3*C"))
        qkv = w.forward(x, tracer).reshape(B, T, 3 * C)  # (B*T, C) @ (C, 3*C) -> (B*T, 3*C)
        tracer.record(f"{p}qkv", qkv, w.formula(x_name) + f"   (B*{s}, C) @ (C, 3*C)", "forward",
                      ("B", s, "3*C"))
        q, k, v = split_heads(qkv, nh)  # 3 × (B, nh, T, hs)
        sym_h = ("B", "nh", s, "hs")
        tracer.record(f"{p}q", q, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        tracer.record(f"{p}k", k, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        tracer.record(f"{p}v", v, "split qkv, view (B, T, nh, hs), swap T and nh", "forward", sym_h)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, nh, t, hs): the past positions' and these T
            tracer.record(f"{p}k_cache", k, "the keys of every position so far: cached + this step's",
                          "forward", ("B", "nh", "t", "hs"), "kept, so a new token needs only its own k")
            tracer.record(f"{p}v_cache", v, "the values of every position so far: cached + this step's",
                          "forward", ("B", "nh", "t", "hs"))
        self.q, self.k, self.v = q, k, v
        y, self.att_soft, self.att_keep = attention_forward(
            q, k, v, **self.switches, dropout=self.dropout, rng=rng, tracer=tracer, prefix=p,
            key_pad=key_pad, seq=s)
        y = merge_heads(y)  # (B, T, C)
        tracer.record(f"{p}y", y, f"y_heads swapped back to (B, {s}, nh, hs), viewed as (B, {s}, C)",
                      "forward", ("B", s, "C"))
        tracer.record(f"{self.c_proj.path}.w", self.c_proj.w, "weight, stored (in, out)", "forward",
                      ("C", "C"))
        out = self.c_proj.forward(y.reshape(B * T, C), tracer)  # (B*T, C) @ (C, C) -> (B*T, C)
        out, self.out_keep = dropout_forward(out, self.dropout, rng)
        formula = self.c_proj.formula("y")
        if self.out_keep is not None:
            formula = f"dropout({formula}), p = {self.dropout}"
        tracer.record(f"{p}attn_out", out.reshape(B, T, C), formula + f"   (B*{s}, C) @ (C, C)", "forward",
                      ("B", s, "C"))
        return out

    def backward(self, dout, B, T, tracer=NO_TRACE):
        """``dout`` is ``(B*T, C)``, the gradient of the loss at this layer's output."""
        p, nh, hs, C, s = self.prefix, self.n_head, self.hs, self.n_embd, self.seq
        sym_btc = ("B", s, "C")
        dout = dropout_backward(dout, self.out_keep)
        dy = self.c_proj.backward(dout, tracer, sym_out=sym_btc)  # (B*T, C)
        tracer.record(f"{p}dy", dy.reshape(B, T, C), "dattn_out @ c_proj.wᵀ", "backward", sym_btc)
        dy = dy.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        tracer.record(f"{p}dy_heads", dy, f"dy viewed (B, {s}, nh, hs), swap {s} and nh", "backward",
                      ("B", "nh", s, "hs"))
        dqkv = np.empty((B, T, 3 * C), dtype=dout.dtype)
        # split_heads gives views: attention_backward writing dq, dk, dv fills dqkv
        attention_backward(dy, self.q, self.k, self.v, self.att_soft, keep=self.att_keep,
                           score=self.switches["score"], scale=self.switches["scale"],
                           out=split_heads(dqkv, nh), tracer=tracer, prefix=p, seq=s)
        tracer.record(f"{p}dqkv", dqkv, "dq, dk, dv side by side", "backward", ("B", s, "3*C"))
        return self.c_attn.backward(dqkv.reshape(B * T, 3 * C), tracer,
                                    sym_out=("B", s, "3*C"))  # (B*T, C)


def split_heads(qkv, n_head):
    """Cut ``qkv (B, T, 3*C)`` into ``q, k, v``, each ``(B, nh, T, hs)`` with ``hs = C / nh``.

    View the 3·C columns as (3, nh, hs): which of q, k, v, which head, which channel of the
    head. Then move the 3 to the front and the head before T: (B, T, 3, nh, hs) ->
    (3, B, nh, T, hs). No number is copied; each head's (T, hs) slice is one matrix.
    """
    B, T, three_c = qkv.shape
    hs = three_c // (3 * n_head)
    return qkv.reshape(B, T, 3, n_head, hs).transpose(2, 0, 3, 1, 4)  # 3 × (B, nh, T, hs)


def merge_heads(y_heads):
    """Put the heads of ``y_heads (B, nh, T, hs)`` side by side again: ``(B, T, C)``, C = nh·hs.

    The transpose back to (B, T, nh, hs) comes first; reshaping (B, nh, T, hs) straight to
    (B, T, C) would give the right shape with heads and positions mixed up.
    """
    B, nh, T, hs = y_heads.shape
    return y_heads.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # (B, T, nh, hs) -> (B, T, C)


@functools.lru_cache(maxsize=64)
def hidden_scores(T, t, mask="causal"):
    """``(T, t)`` booleans, True where a score is hidden; None for no mask. Read-only, built
    once per size.

    The T queries are the last T of the t keys' positions (t = T without a KV cache), so query
    i sits at position t − T + i. The causal mask hides the keys after it (above the diagonal
    when t = T); the what-if "flipped" mask hides the ones before it. One new token (T = 1)
    sees every key.
    """
    if mask == "none" or (mask == "causal" and T == 1):
        return None  # nothing to hide (a generated token sees every key): no mask to apply
    ones = np.ones((T, t), dtype=bool)
    past = t - T
    hidden = np.triu(ones, k=past + 1) if mask == "causal" else np.tril(ones, k=past - 1)
    hidden.flags.writeable = False
    return hidden


def attention_forward(q, k, v, score="dot", scale=True, mask="causal", dropout=0.0, rng=None,
                      tracer=NO_TRACE, prefix="", key_pad=None, seq="T", key_seq=None):
    """y_heads = softmax(mask(q @ kᵀ / √hs)) @ v, for every sequence and every head at once.

    ``q, k, v (B, nh, T, hs)`` -> ``(y_heads (B, nh, T, hs), att (B, nh, T, T), keep)``:
    ``att`` is the softmax before dropout and ``keep`` the dropout mask (None without
    dropout), both kept for :func:`attention_backward`. The other arguments are the lab's
    what-if switches; the defaults are the standard GPT. With a KV cache, k and v hold
    t ≥ T positions and att is ``(B, nh, T, t)``.

    ``mask="none"`` lets every query see every key: an encoder, or cross-attention, where k
    and v come from another sequence (the source, S positions: att is ``(B, nh, T, S)``).
    ``key_pad (B, t)`` of booleans, True at padding, hides those keys from every query of
    their own sequence: a batch of sentences of different lengths is padded to the longest,
    and no real token may take anything from the padding. Every row must keep one key visible
    (a row hidden entirely would be 0/0 = NaN after softmax). ``seq`` and ``key_seq`` are the
    letters the trace gives the query and key axes (``key_seq`` defaults to ``seq``, or ``t``
    with a KV cache).
    """
    p, T, t, hs = prefix, q.shape[-2], k.shape[-2], q.shape[-1]
    key_seq = key_seq or (seq if t == T else "t")
    sym_h, sym_att = ("B", "nh", seq, "hs"), ("B", "nh", seq, key_seq)
    if score == "squared":  # what-if: (q²) · (k²) instead of q · k
        q, k = q * q, k * k
    if T == 1:  # one generated token: (k @ qᵀ)ᵀ reads the cached k as stored, where a copy of kᵀ
        # would copy the whole cache, every block, every token (37 MB a token at t = 1024 in GPT-2)
        att = (k @ q.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)  # (B, nh, t, 1) -> (B, nh, 1, t)
    else:  # a contiguous copy of kᵀ first: OpenBLAS's batched A @ Bᵀ is slower than A @ B
        att = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2))  # (B, nh, T, hs) @ (B, nh, hs, T)
    if scale:
        att *= 1.0 / math.sqrt(hs)
    tracer.record(f"{p}att_scores", att, f"q @ kᵀ · 1/√hs   (B, nh, {seq}, hs) @ (B, nh, hs, {key_seq})",
                  "forward", sym_att, "1/√hs keeps the scores' variance near 1 whatever hs is")
    hidden = hidden_scores(T, t, mask)
    if hidden is not None:
        np.copyto(att, -np.inf, where=hidden)  # (T, t) broadcasts over B and nh
    if key_pad is not None:
        pad = np.asarray(key_pad, dtype=bool)[:, None, None, :]  # (B, 1, 1, t): one row per sequence
        tracer.record(f"{p}pad_mask", pad, "key is padding: True hides it from every query", "forward",
                      ("B", "1", "1", key_seq), "broadcast over the heads and the queries")
        np.copyto(att, -np.inf, where=pad)
    if key_pad is None:
        what, why = "the upper triangle", "position t may only look at positions ≤ t"
        if mask == "none":
            what, why = "nothing", "every query sees every key"
    else:
        what = "the padding keys" + (" and the upper triangle" if hidden is not None else "")
        why = "no token takes anything from padding"
    tracer.record(f"{p}att_masked", att, f"att_scores with {what} set to -inf",
                  "forward", sym_att, why)
    att = softmax_forward(att, out=att)  # over the last axis: which key each query attends to
    dropped, keep = dropout_forward(att, dropout, rng)
    if keep is None:
        tracer.record(f"{p}att", dropped, "softmax(att_masked) over the last axis", "forward", sym_att,
                      "each row sums to 1: how much query t takes from each earlier position")
    else:
        tracer.record(f"{p}att", dropped, f"dropout(softmax(att_masked)), p = {dropout}", "forward",
                      sym_att, "training: some weights zeroed, the rest scaled by 1/(1 − p); rows "
                      "no longer sum to exactly 1")
    y = dropped @ v  # (B, nh, T, t) @ (B, nh, t, hs) -> (B, nh, T, hs)
    tracer.record(f"{p}y_heads", y, f"att @ v   (B, nh, {seq}, {key_seq}) @ (B, nh, {key_seq}, hs)",
                  "forward", sym_h)
    return y, att, keep


def attention_backward(dy, q, k, v, att, keep=None, score="dot", scale=True, out=None,
                       tracer=NO_TRACE, prefix="", seq="T", key_seq=None):
    """The forward read backwards: from ``dy (B, nh, T, hs)``, the gradient at y_heads, to
    ``(dq, dk, dv)``: dq ``(B, nh, T, hs)``, dk and dv shaped like k and v.

    ``att`` and ``keep`` are what :func:`attention_forward` returned. ``out``, when given, is
    three arrays to write dq, dk, dv into (the layer passes views of its dqkv buffer). Masked
    scores (causal or padding) need no backward of their own: their att is 0. ``seq`` and
    ``key_seq`` name the axes for the trace, as in the forward.
    """
    p, hs = prefix, q.shape[-1]
    key_seq = key_seq or seq
    sym_h, sym_k, sym_att = ("B", "nh", seq, "hs"), ("B", "nh", key_seq, "hs"), ("B", "nh", seq, key_seq)
    if out is not None:
        dq, dk, dv = out
    else:
        dq, dk, dv = np.empty_like(q), np.empty_like(k), np.empty_like(v)
    # y_heads = att @ v; as in forward, A @ B beats A @ Bᵀ
    datt = dy @ np.ascontiguousarray(v.transpose(0, 1, 3, 2))  # (B, nh, T, hs) @ (B, nh, hs, T)
    tracer.record(f"{p}datt", datt, "dy_heads @ vᵀ", "backward", sym_att)
    dropped = att if keep is None else att * keep
    np.matmul(dropped.transpose(0, 1, 3, 2), dy, out=dv)  # (B, nh, T, T) @ (B, nh, T, hs)
    tracer.record(f"{p}dv", dv, "attᵀ @ dy_heads", "backward", sym_k)
    # masked entries have att = 0, so their gradient is 0: the mask needs no backward
    datt = dropout_backward(datt, keep)
    dscores = softmax_backward(datt, att, out=datt)  # in place: datt was recorded, not needed again
    if scale:
        dscores *= 1.0 / math.sqrt(hs)
    tracer.record(f"{p}datt_scores", dscores, "att ⊙ (datt − Σ_row datt ⊙ att) · 1/√hs", "backward",
                  sym_att)
    if score == "squared":  # att_scores = q² @ (k²)ᵀ: the chain rule adds a factor 2q (2k)
        np.multiply(dscores @ (k * k), 2 * q, out=dq)
        np.multiply(dscores.transpose(0, 1, 3, 2) @ (q * q), 2 * k, out=dk)
    else:
        np.matmul(dscores, k, out=dq)  # (B, nh, T, T) @ (B, nh, T, hs) -> (B, nh, T, hs)
        np.matmul(dscores.transpose(0, 1, 3, 2), q, out=dk)
    tracer.record(f"{p}dq", dq, "datt_scores @ k", "backward", sym_h)
    tracer.record(f"{p}dk", dk, "datt_scoresᵀ @ q", "backward", sym_k)
    return dq, dk, dv


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


# -- MLP -----------------------------------------------------------------------------------


def gelu_forward(x):
    """GELU, tanh form: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Returns (out, tanh) for backward."""
    t = x * x  # x·x·x, never x**3: numpy's float32 power is ~300x slower than two multiplies
    t *= 0.044715 * GELU_C
    t += GELU_C
    t *= x  # √(2/π)(x + 0.044715x³), written as x·(√(2/π) + √(2/π)·0.044715·x²)
    np.tanh(t, out=t)
    out = t * 0.5
    out += 0.5
    out *= x
    return out, t


def gelu_backward(dout, x, t):
    """d GELU/dx = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²), with t the forward's tanh."""
    inner = x * x
    inner *= 3 * 0.044715 * GELU_C
    inner += GELU_C  # √(2/π)(1 + 3·0.044715x²)
    sech2 = t * t
    np.subtract(1.0, sech2, out=sech2)  # 1 − t²
    sech2 *= inner
    sech2 *= x
    sech2 += t
    sech2 += 1.0
    sech2 *= 0.5
    sech2 *= dout
    return sech2


def relu_forward(x):
    """ReLU, max(0, x): the 2017 Transformer's activation. Returns (out, None)."""
    return np.maximum(x, 0), None


def relu_backward(dout, x, _saved=None):
    """d ReLU/dx is 1 where x > 0 and 0 elsewhere (0 at x = 0 too, as PyTorch takes it)."""
    return dout * (x > 0)


def silu_forward(x):
    """SiLU (swish), x·σ(x), Marian's activation. Returns (out, σ(x)) for the backward."""
    sig = np.negative(x)
    np.exp(sig, out=sig)
    sig += 1.0
    np.reciprocal(sig, out=sig)  # σ(x) = 1 / (1 + e^−x)
    return x * sig, sig


def silu_backward(dout, x, sig):
    """d(x·σ(x))/dx = σ(x) + x·σ(x)(1 − σ(x)) = σ(x)·(1 + x·(1 − σ(x)))."""
    d = 1.0 - sig
    d *= x
    d += 1.0
    d *= sig
    d *= dout
    return d


# name -> (forward, backward, the trace's formula): forward(x) -> (out, saved) and
# backward(dout, x, saved) -> dx, so the MLP treats every activation alike
ACTIVATIONS = {
    "gelu": (gelu_forward, gelu_backward, "½·fc·(1 + tanh(√(2/π)(fc + 0.044715·fc³)))"),
    "relu": (relu_forward, relu_backward, "max(0, fc)"),
    "silu": (silu_forward, silu_backward, "fc · σ(fc) = fc / (1 + e^−fc)"),
}


class MLP(Module):
    """Two linear layers with an activation between: C -> hidden -> C, every position alone.

    GPT-2's is GELU with ``hidden = 4*C``; the 2017 Transformer's feed-forward is ReLU with
    ``hidden = d_ff`` (2048 for C = 512: also 4·C), Marian's SiLU. ``activation`` picks one
    of :data:`ACTIVATIONS`; ``sym_hidden`` and ``seq`` are the letters the trace gives the
    hidden width and the sequence axis.
    """

    def __init__(self, n_embd, rng, prefix="", path=None, bias=True, dropout=0.0, n_layer=1,
                 dtype=np.float32, hidden=None, activation="gelu", sym_hidden="4*C", seq="T"):
        if activation not in ACTIVATIONS:
            raise KqvError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        hidden = 4 * n_embd if hidden is None else hidden
        self.prefix = prefix
        self.dropout = dropout
        self.activation, self.sym_hidden, self.seq = activation, sym_hidden, seq
        self.path = f"{prefix}mlp" if path is None else path
        self.c_fc = Linear(n_embd, hidden, rng, f"{self.path}.c_fc", bias, dtype=dtype,
                           sym=("C", sym_hidden))
        std = 0.02 / math.sqrt(2 * n_layer)
        self.c_proj = Linear(hidden, n_embd, rng, f"{self.path}.c_proj", bias, std=std, dtype=dtype,
                             sym=(sym_hidden, "C"))

    def children(self):
        return [self.c_fc, self.c_proj]

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, x_name="ln_2"):
        p, H, s, act = self.prefix, self.sym_hidden, self.seq, self.activation
        tracer.record(f"{self.c_fc.path}.w", self.c_fc.w, "weight, stored (in, out)", "forward", ("C", H))
        self.fc = self.c_fc.forward(x, tracer)  # (B*T, C) @ (C, 4*C) -> (B*T, 4*C)
        tracer.record(f"{p}fc", self.fc.reshape(B, T, -1),
                      self.c_fc.formula(x_name) + f"   (B*{s}, C) @ (C, {H})", "forward", ("B", s, H))
        forward, _, formula = ACTIVATIONS[act]
        g, self.act_saved = forward(self.fc)
        tracer.record(f"{p}{act}", g.reshape(B, T, -1), formula, "forward", ("B", s, H))
        tracer.record(f"{self.c_proj.path}.w", self.c_proj.w, "weight, stored (in, out)", "forward", (H, "C"))
        out = self.c_proj.forward(g, tracer)  # (B*T, 4*C) @ (4*C, C) -> (B*T, C)
        out, self.out_keep = dropout_forward(out, self.dropout, rng)
        formula = self.c_proj.formula(act)
        if self.out_keep is not None:
            formula = f"dropout({formula}), p = {self.dropout}"
        tracer.record(f"{p}mlp_out", out.reshape(B, T, -1), formula + f"   (B*{s}, {H}) @ ({H}, C)",
                      "forward", ("B", s, "C"))
        return out

    def backward(self, dout, B, T, tracer=NO_TRACE):
        p, H, s, act = self.prefix, self.sym_hidden, self.seq, self.activation
        dout = dropout_backward(dout, self.out_keep)
        dg = self.c_proj.backward(dout, tracer, sym_out=("B", s, "C"))  # (B*T, 4*C)
        tracer.record(f"{p}d{act}", dg.reshape(B, T, -1), "dmlp_out @ c_proj.wᵀ", "backward", ("B", s, H))
        dfc = ACTIVATIONS[act][1](dg, self.fc, self.act_saved)
        tracer.record(f"{p}dfc", dfc.reshape(B, T, -1), f"d{act} ⊙ {act}′(fc)", "backward", ("B", s, H))
        return self.c_fc.backward(dfc, tracer, sym_out=("B", s, H))  # (B*T, C)


# -- block ---------------------------------------------------------------------------------


class Block(Module):
    """One transformer block, pre-LN as in GPT-2: x + attn(ln_1(x)), then + mlp(ln_2(·)).

    ``residual=False`` and ``layernorm=False`` are what-if switches (the lab's "without
    residuals" and "without LayerNorm"); the standard block has both on.
    """

    def __init__(self, n_embd, n_head, rng, prefix="", bias=True, dropout=0.0, n_layer=1,
                 dtype=np.float32, residual=True, layernorm=True, ln_eps=LN_EPS, **attn_switches):
        self.prefix = prefix
        self.path = prefix.rstrip(".")
        self.residual, self.layernorm = residual, layernorm
        self.ln_1 = LayerNorm(n_embd, f"{prefix}ln_1", bias, dtype, ln_eps)
        self.attn = CausalSelfAttention(n_embd, n_head, rng, prefix, bias=bias, dropout=dropout,
                                        n_layer=n_layer, dtype=dtype, **attn_switches)
        self.ln_2 = LayerNorm(n_embd, f"{prefix}ln_2", bias, dtype, ln_eps)
        self.mlp = MLP(n_embd, rng, prefix, bias=bias, dropout=dropout, n_layer=n_layer, dtype=dtype)

    def children(self):
        return ([self.ln_1] if self.layernorm else []) + [self.attn] + (
            [self.ln_2] if self.layernorm else []) + [self.mlp]

    def forward(self, x, B, T, tracer=NO_TRACE, rng=None, cache=None):
        """``x`` is ``(B*T, C)``; so is the result. ``rng`` turns dropout on (training);
        ``cache`` is this block's keys and values of earlier positions (generation)."""
        p, sym = self.prefix, ("B", "T", "C")
        h = self.ln_1.forward(x, tracer) if self.layernorm else x
        tracer.record(f"{p}ln_1", h.reshape(B, T, -1), "LayerNorm(x) = (x − mean)/√(var + ε) · w"
                      + (" + b" if self.ln_1.bias else ""), "forward", sym)
        a = self.attn.forward(h, B, T, tracer, rng, cache)
        x_attn = x + a if self.residual else a
        tracer.record(f"{p}x_attn", x_attn.reshape(B, T, -1), "x + attn_out (the residual)", "forward", sym)
        h = self.ln_2.forward(x_attn, tracer) if self.layernorm else x_attn
        tracer.record(f"{p}ln_2", h.reshape(B, T, -1), "LayerNorm(x_attn)", "forward", sym)
        m = self.mlp.forward(h, B, T, tracer, rng)
        x_out = x_attn + m if self.residual else m
        tracer.record(f"{p}x_out", x_out.reshape(B, T, -1), "x_attn + mlp_out (the residual)", "forward", sym)
        return x_out

    def backward(self, dx_out, B, T, tracer=NO_TRACE):
        p, sym = self.prefix, ("B", "T", "C")
        tracer.record(f"{p}dx_out", dx_out.reshape(B, T, -1), "gradient arriving from above", "backward", sym)
        dh = self.mlp.backward(dx_out, B, T, tracer)
        tracer.record(f"{p}dln_2", dh.reshape(B, T, -1), "dfc @ c_fc.wᵀ", "backward", sym)
        if self.layernorm:
            dh = self.ln_2.backward(dh, tracer, sym)
        # the residual passes the gradient through unchanged and adds the branch's
        dx_attn = dx_out + dh if self.residual else dh
        tracer.record(f"{p}dx_attn", dx_attn.reshape(B, T, -1), "dx_out + LayerNorm′ᵀ(dln_2)", "backward",
                      sym)
        dh = self.attn.backward(dx_attn, B, T, tracer)
        tracer.record(f"{p}dln_1", dh.reshape(B, T, -1), "dqkv @ c_attn.wᵀ", "backward", sym)
        if self.layernorm:
            dh = self.ln_1.backward(dh, tracer, sym)
        return dx_attn + dh if self.residual else dh


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


class Embedding(Module):
    """Token embedding ``wte (V, C)`` plus position embedding ``wpe (block_size, C)``.

    ``pos="learned"`` learns ``wpe`` (GPT-2, nanoGPT); ``"sinusoidal"`` adds the fixed code of
    :func:`sinusoidal_positions` and has no ``wpe`` to learn; ``"none"`` adds nothing (the
    what-if "bag of characters").
    """

    def __init__(self, vocab_size, block_size, n_embd, rng, pos="learned", dtype=np.float32):
        self.path = ""
        self.pos = pos
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.param_names = ("wte", "wpe") if pos == "learned" else ("wte",)
        self.wte = init_normal(rng, (vocab_size, n_embd), 0.02, dtype)
        self.dwte = np.zeros(self.wte.shape, dtype=dtype)
        if pos == "learned":
            self.wpe = init_normal(rng, (block_size, n_embd), 0.02, dtype)
            self.dwpe = np.zeros(self.wpe.shape, dtype=dtype)
        elif pos == "sinusoidal":
            self.pe = sinusoidal_positions(block_size, n_embd, dtype)
        # With the fixed code (entries ±1, row norm about √(C/2)) the 2017 paper multiplies the
        # token rows by √C, or the position would drown out which token it is.
        self.emb_scale = math.sqrt(n_embd) if pos == "sinusoidal" else 1.0

    def forward(self, idx, tracer=NO_TRACE, start=0):
        """``idx (B, T)`` of token ids at positions ``start .. start+T−1`` -> ``x (B*T, C)``.

        ``start`` is above 0 only when generating with a KV cache: the new tokens come after
        the ``start`` positions already in the cache."""
        B, T = idx.shape
        self.idx = idx
        tracer.record("idx", idx, "token ids, one row per sequence", "forward", ("B", "T"))
        tracer.record("wte", self.wte, "token embedding table, one row per token of the vocabulary",
                      "forward", ("V", "C"))
        tok_emb = self.wte[idx]  # (B, T, C): row idx[b, t] of wte
        if self.emb_scale != 1.0:
            tok_emb *= self.emb_scale
            tracer.record("tok_emb", tok_emb, "wte[idx] · √C", "forward", ("B", "T", "C"),
                          "the 2017 paper's √C: rows of ~0.02 against a position code of ±1")
        else:
            tracer.record("tok_emb", tok_emb, "wte[idx]", "forward", ("B", "T", "C"))
        # pos_emb is recorded inside the branch that ran, so the code pane marks that branch
        if self.pos == "learned":
            tracer.record("wpe", self.wpe, "position embedding table, learned", "forward",
                          ("block_size", "C"))
            pos_emb = self.wpe[start : start + T]  # (T, C)
            tracer.record("pos_emb", pos_emb, "wpe[0:T]" if start == 0 else f"wpe[{start}:{start}+T]",
                          "forward", ("T", "C"))
        elif self.pos == "sinusoidal":
            pos_emb = self.pe[start : start + T]  # (T, C)
            tracer.record("pos_emb", pos_emb, "PE(t, 2i) = sin(t/10000^(2i/C)), "
                          "PE(t, 2i+1) = cos(t/10000^(2i/C))", "forward", ("T", "C"))
        else:
            pos_emb = np.zeros((T, self.n_embd), dtype=self.wte.dtype)  # (T, C)
            tracer.record("pos_emb", pos_emb, "no position information (what-if)", "forward", ("T", "C"))
        x = tok_emb + pos_emb  # (B, T, C) + (T, C) broadcasts over B
        tracer.record("x", x, "tok_emb + pos_emb", "forward", ("B", "T", "C"))
        return x.reshape(B * T, self.n_embd)

    def backward(self, dx, tracer=NO_TRACE, accumulate=False):
        """Add the gradient of the two tables. ``accumulate`` adds to ``dwte`` (tied LM head)."""
        B, T = self.idx.shape
        if self.pos == "learned":
            # Σ over the batch: a ones-vector matmul over (B, T*C)
            dpos = _ones(B, dx.dtype) @ dx.reshape(B, T * self.n_embd)
            self.dwpe[:T] = dpos.reshape(T, self.n_embd)
            self.dwpe[T:] = 0
            tracer.record("dwpe", self.dwpe, "Σ_b dx[b]  (rows ≥ T stay 0)", "backward", ("block_size", "C"))
        # dwte[v] = Σ of dx over the positions holding token v: a one-hot matmul, ~8x faster
        # than np.add.at(dwte, idx, dx)
        onehot = np.zeros((B * T, self.vocab_size), dtype=dx.dtype)
        onehot[np.arange(B * T), self.idx.reshape(-1)] = 1
        if self.emb_scale != 1.0:
            dx = dx * self.emb_scale
        if accumulate:
            lookup = onehot.T @ dx  # (V, B*T) @ (B*T, C) -> (V, C)
            tracer.record("dwte_lookup", lookup, "onehot(idx)ᵀ @ dx: each position's dx added to its "
                          "token's row", "backward", ("V", "C"))
            self.dwte += lookup
        else:
            np.matmul(onehot.T, dx, out=self.dwte)  # (V, B*T) @ (B*T, C) -> (V, C)
