"""The position-wise feed-forward (the MLP) and its activations, each forward next to its backward.

Every position goes through the same two linear layers on its own: ``C -> hidden -> C`` with an
activation between. GPT-2's is GELU (tanh form) with ``hidden = 4*C``; the 2017 Transformer's
ReLU with ``hidden = d_ff``; Marian's SiLU. Activations are 2-D ``(B*T, C)`` inside, as in
:mod:`engine.layers`.
"""

from __future__ import annotations

import math

import numpy as np

from engine import fused
from engine.errors import KqvError
from engine.layers import Linear, Module, dropout_backward, dropout_forward
from engine.trace import NO_TRACE

GELU_C = math.sqrt(2.0 / math.pi)  # the tanh approximation of GELU (GPT-2, llm.c)


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
        if (fast := fused.kernels_for(tracer)) is not None and act in fast.ACTIVATIONS:
            forward = fast.ACTIVATIONS[act][0]  # the same numbers in fewer passes (engine.fused)
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
        backward = ACTIVATIONS[act][1]
        if (fast := fused.kernels_for(tracer)) is not None and act in fast.ACTIVATIONS:
            backward = fast.ACTIVATIONS[act][1]
        dfc = backward(dg, self.fc, self.act_saved)
        tracer.record(f"{p}dfc", dfc.reshape(B, T, -1), f"d{act} ⊙ {act}′(fc)", "backward", ("B", s, H))
        return self.c_fc.backward(dfc, tracer, sym_out=("B", s, H))  # (B*T, C)
