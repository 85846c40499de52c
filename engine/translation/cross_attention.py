"""The decoder's attention over the source: the one layer that joins the encoder to the decoder.

:class:`CrossAttention` is self-attention with its keys and values taken from elsewhere: the
queries come from the target, the keys and values from the encoder's output (the memory), with
no causal mask and the source's padding hidden. The layers that wire it in
(:class:`engine.translation.layers.DecoderLayer`) and its what-if twin
(:class:`engine.translation.layers.NoCrossAttention`) are in :mod:`engine.translation.layers`.
"""

from __future__ import annotations

import numpy as np

from engine.attention import attention_backward, attention_forward, merge_heads
from engine.attention_parts import NO_MASK
from engine.layers import Linear, Module, check_heads, dropout_backward, dropout_forward
from engine.trace import NO_TRACE


class CrossAttention(Module):
    """The decoder's attention over the source: queries from the target, keys and values from
    the encoder's output (the memory).

    ``c_q (C, C)`` makes the T queries from the decoder's stream, ``c_kv (C, 2*C)`` the S keys
    and values from the memory; :func:`attention_forward` with no causal mask (a target token
    may read the whole source) and the source's padding hidden; ``c_proj`` as in self-attention.
    When decoding, the memory never changes, so :meth:`memory_kv` computes each layer's keys
    and values once per sentence and every new token reuses them.
    """

    def __init__(self, n_embd, n_head, prefix, dropout, dtype):
        check_heads(n_embd, n_head)
        self.prefix, self.path = f"{prefix}cross.", f"{prefix}cross"
        self.n_embd, self.n_head, self.hs = n_embd, n_head, n_embd // n_head
        self.dropout = dropout
        C = n_embd
        self.c_q = Linear(C, C, None, f"{self.path}.c_q", dtype=dtype, sym=("C", "C"))
        self.c_kv = Linear(C, 2 * C, None, f"{self.path}.c_kv", dtype=dtype, sym=("C", "2*C"))
        self.c_proj = Linear(C, C, None, f"{self.path}.c_proj", dtype=dtype, sym=("C", "C"))

    def children(self):
        return [self.c_q, self.c_kv, self.c_proj]

    def memory_kv(self, memory, B, S, tracer=NO_TRACE):
        """``memory (B*S, C)`` -> this layer's ``k, v``, each ``(B, nh, S, hs)`` (views)."""
        p, nh, hs, C = self.prefix, self.n_head, self.hs, self.n_embd
        kv = self.c_kv.forward(memory, tracer).reshape(B, S, 2 * C)  # (B*S, C) @ (C, 2*C)
        tracer.record(f"{p}kv", kv, "memory @ c_kv.w + c_kv.b   (B*S, C) @ (C, 2*C)", "forward",
                      ("B", "S", "2*C"))
        k, v = kv.reshape(B, S, 2, nh, hs).transpose(2, 0, 3, 1, 4)  # 2 × (B, nh, S, hs)
        tracer.record(f"{p}k", k, "split kv, view (B, S, nh, hs), swap S and nh", "forward",
                      ("B", "nh", "S", "hs"), "the source tokens' keys: what each one is")
        tracer.record(f"{p}v", v, "split kv, view (B, S, nh, hs), swap S and nh", "forward",
                      ("B", "nh", "S", "hs"), "the source tokens' values: what each one passes on")
        return k, v

    def forward(self, x, memory, B, T, S, key_pad, tracer=NO_TRACE, rng=None, kv=None, x_name="ln_1"):
        """``x (B*T, C)`` (the decoder's stream), ``memory (B*S, C)`` -> ``(B*T, C)``.

        ``key_pad (B, S)`` is True at the source's padding. ``kv``, when given (decoding), is
        this layer's keys and values already computed from the memory."""
        p, nh, hs, C = self.prefix, self.n_head, self.hs, self.n_embd
        q = self.c_q.forward(x, tracer)  # (B*T, C) @ (C, C) -> (B*T, C)
        q = q.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        tracer.record(f"{p}q", q, f"{x_name} @ c_q.w + c_q.b, viewed (B, T, nh, hs), swap T and nh",
                      "forward", ("B", "nh", "T", "hs"), "the target tokens' questions")
        k, v = self.memory_kv(memory, B, S, tracer) if kv is None else kv  # (B, nh, S, hs)
        self.q, self.k, self.v = q, k, v
        y, self.att_soft, self.att_keep = attention_forward(
            q, k, v, mask=NO_MASK, dropout=self.dropout, rng=rng, tracer=tracer, prefix=p,
            key_pad=key_pad, seq="T", key_seq="S")  # att (B, nh, T, S)
        y = merge_heads(y)  # (B, T, C)
        tracer.record(f"{p}y", y, "y_heads swapped back to (B, T, nh, hs), viewed as (B, T, C)",
                      "forward", ("B", "T", "C"))
        out = self.c_proj.forward(y.reshape(B * T, C), tracer)  # (B*T, C) @ (C, C)
        out, self.out_keep = dropout_forward(out, self.dropout, rng)
        tracer.record(f"{p}attn_out", out.reshape(B, T, C), "y @ c_proj.w + c_proj.b   (B*T, C) @ (C, C)"
                      + (f", dropout p = {self.dropout}" if self.out_keep is not None else ""),
                      "forward", ("B", "T", "C"))
        return out

    def backward(self, dout, B, T, S, tracer=NO_TRACE):
        """From ``dout (B*T, C)`` to ``(dx (B*T, C), dmemory (B*S, C))``: the gradient splits
        between the decoder's stream (through the queries) and the memory (keys and values)."""
        p, nh, hs, C = self.prefix, self.n_head, self.hs, self.n_embd
        dout = dropout_backward(dout, self.out_keep)
        dy = self.c_proj.backward(dout, tracer, sym_out=("B", "T", "C"))  # (B*T, C)
        tracer.record(f"{p}dy", dy.reshape(B, T, C), "dattn_out @ c_proj.wᵀ", "backward", ("B", "T", "C"))
        dy = dy.reshape(B, T, nh, hs).transpose(0, 2, 1, 3)  # (B, nh, T, hs)
        dq = np.empty((B, T, C), dtype=dout.dtype)
        dkv = np.empty((B, S, 2 * C), dtype=dout.dtype)
        dk, dv = dkv.reshape(B, S, 2, nh, hs).transpose(2, 0, 3, 1, 4)  # views: writing them fills dkv
        attention_backward(dy, self.q, self.k, self.v, self.att_soft, keep=self.att_keep,
                           out=(dq.reshape(B, T, nh, hs).transpose(0, 2, 1, 3), dk, dv),
                           tracer=tracer, prefix=p, seq="T", key_seq="S")
        tracer.record(f"{p}dkv", dkv, "dk, dv side by side", "backward", ("B", "S", "2*C"))
        dx = self.c_q.backward(dq.reshape(B * T, C), tracer, sym_out=("B", "T", "C"))  # (B*T, C)
        dmemory = self.c_kv.backward(dkv.reshape(B * S, 2 * C), tracer, sym_out=("B", "S", "2*C"))
        return dx, dmemory  # (B*T, C), (B*S, C)
