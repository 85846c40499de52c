"""A character-level GPT in numpy, the size of nanoGPT's CPU run on Tiny Shakespeare.

The model is GPT-2's shape at a small scale: token and position embeddings, ``n_layer``
pre-LN transformer blocks (causal self-attention then an MLP, each added back to the residual
stream), a final LayerNorm, and a language-model head that reuses the token embedding
(``logits = ln_f @ wteᵀ``, weight tying). Every layer's forward and backward pass is written
out in :mod:`engine.gpt.blocks`, :mod:`engine.attention` and :mod:`engine.layers`; this module
picks the parts its config (:mod:`engine.gpt.config`) names, wires them together and owns the
parameters.

Shapes, with the names the trace uses: ``B`` sequences of ``T`` characters, ``C = n_embd``
channels, ``nh`` heads of ``hs = C // nh`` channels each, ``V`` characters in the vocabulary.
Weights are stored ``(in, out)``, so every linear layer reads ``x @ w``: ``(B*T, C) @ (C, 3*C)``.

All parameters live in one flat float32 buffer (and all gradients in another); the arrays
in :attr:`GPT.params` and :attr:`GPT.grads` are views into it. To the reader they are ordinary
named arrays; to the optimiser the whole model is one vector, so AdamW and gradient clipping
are a handful of numpy calls instead of a handful per tensor. 2-D weights come first in the
buffer, so "weight decay on 2-D weights only" is one slice.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine import fused
from engine.attention_parts import MASKS, SCALES, SCORES
from engine.errors import KqvError
from engine.gpt.blocks import Embedding
from engine.gpt.config import BLOCKS, NORMS, POSITIONS, GPTConfig
from engine.gpt.loss import cross_entropy_backward, cross_entropy_forward
from engine.gpt.sampling import sample_next
from engine.kv_cache import KVCache
from engine.layers import dropout_backward, dropout_forward
from engine.params import flat_slice, pack
from engine.runtime.blas import FasterThreads
from engine.trace import NO_TRACE


class GPT:
    """The whole model: ``forward(idx, targets)`` -> ``(logits, loss)``, ``backward()`` -> grads."""

    # generate with the fused one-token decoder (engine.fused.decode) instead of forward: set
    # for models that only run inference and are big enough to repay loading numba (GPT-2)
    fast_decode = False

    def __init__(self, config: GPTConfig, seed: int = 1337, dtype=np.float32, init: bool = True):
        """``init=False`` leaves the weights unset, for a model whose weights are loaded next
        (:meth:`load_params`, :mod:`engine.hf.gpt2`): no random draws, no second copy."""
        self.config = config
        self.dtype = np.dtype(dtype)
        self._build_layers(np.random.default_rng(seed) if init else None)
        self._pack(fill=init)
        # a contiguous (C, V) copy of wte for the LM head, made on demand for models that run
        # inference only (a loaded GPT-2: :meth:`keep_head_copy`); see :meth:`_head`
        self.head_copy, self._wte_t = False, None

    def _build_layers(self, rng: np.random.Generator | None) -> None:
        """The modules, with the parts the config names (a what-if swaps one of them)."""
        cfg, C = self.config, self.config.n_embd
        block, norm = BLOCKS[cfg.residual], NORMS[cfg.layernorm]
        attn_parts = {"score": SCORES[cfg.score], "scale": SCALES[cfg.scale], "mask": MASKS[cfg.mask]}
        # GPT-2 initialisation: N(0, 0.02) everywhere, residual projections 0.02/√(2·n_layer)
        self.embed = Embedding(cfg.vocab_size, cfg.block_size, C, rng, POSITIONS[cfg.pos], self.dtype)
        self.h = [
            block(C, cfg.n_head, rng, prefix=f"h{i}.", bias=cfg.bias, dropout=cfg.dropout,
                  n_layer=cfg.n_layer, dtype=self.dtype, norm=norm, ln_eps=cfg.ln_eps, **attn_parts)
            for i in range(cfg.n_layer)
        ]
        self.ln_f = norm(C, "ln_f", cfg.bias, self.dtype, cfg.ln_eps)

    # -- parameters ----------------------------------------------------------------------------

    def modules(self):
        return [self.embed, *self.h, self.ln_f]

    def replica(self) -> GPT:
        """A twin that shares this model's parameters (the very same arrays) but has its own
        gradients and its own remembered activations: two twins can run forward and backward on
        two halves of a batch at the same time (see :class:`engine.gpt.halves.HalfBatches`)."""
        twin = GPT.__new__(GPT)
        twin.config, twin.dtype = self.config, self.dtype
        twin.head_copy, twin._wte_t = False, None
        twin._build_layers(None)  # no weights of its own: _pack points them at ours
        twin._pack(shared=self.flat_params)
        return twin

    def _pack(self, shared: np.ndarray | None = None, fill: bool = True) -> None:
        """Move every parameter and gradient into one flat buffer each (2-D weights first,
        :func:`engine.params.pack`). With ``shared``, the parameters are views of that buffer
        (another model's) instead; ``fill=False`` leaves the buffer unset (weights loaded next).
        """
        entries = [e for m in self.modules() for e in m.named_params()]
        packed = pack(entries, self.dtype, fill=fill, shared=shared)
        self.flat_params, self.flat_grads = packed.flat_params, packed.flat_grads
        self.params, self.grads, self.n_decay = packed.params, packed.grads, packed.n_decay

    @property
    def num_params(self) -> int:
        return int(self.flat_params.size)

    def flat_slice(self, name: str) -> slice:
        """Where parameter ``name`` sits in :attr:`flat_params` and :attr:`flat_grads`, and so in
        an optimizer's m and v, which follow the same layout: ``opt.m[model.flat_slice(n)]``."""
        return flat_slice(self.flat_params, self.params[name])

    def load_params(self, arrays: dict[str, np.ndarray]) -> None:
        """Copy named arrays in (a checkpoint); every name and shape must match this model."""
        missing = sorted(set(self.params) - set(arrays))
        if missing:
            raise KqvError(f"checkpoint lacks parameters {', '.join(missing[:3])}: another model shape")
        for name, view in self.params.items():
            if arrays[name].shape != view.shape:
                raise KqvError(
                    f"checkpoint parameter {name} is {arrays[name].shape}, the model needs {view.shape}"
                )
            view[...] = arrays[name]
        self._wte_t = None  # wte changed: the head's copy is stale

    def keep_head_copy(self) -> None:
        """Let the LM head keep a contiguous (C, V) copy of wte (V·C·4 bytes more: 154 MB for
        GPT-2 small) for forward passes over several positions; for inference-only models."""
        self.head_copy = True

    def _head(self, rows: int, training: bool) -> np.ndarray:
        """wteᵀ (C, V), the tied head's weight, for ``rows`` rows of ln_f.

        One row (a generated token) reads wte as it is stored: numpy makes ``x @ wte.T`` a
        matrix-vector product over wte's rows, already the fastest way through it. Several rows
        make it a matrix product, and OpenBLAS's A @ Bᵀ at (13, 768) @ (768, 50257) measured
        1.5-2.5x slower than A @ B against a contiguous copy of wteᵀ: a model that keeps one
        (:meth:`keep_head_copy`) uses it outside training. :meth:`backward` and
        :meth:`load_params` drop it, since both come before wte changes.
        """
        wte = self.embed.wte
        if rows == 1 or training or not self.head_copy:
            return wte.T  # (C, V), a view
        if self._wte_t is None:
            self._wte_t = np.ascontiguousarray(wte.T)  # (C, V), made once
        return self._wte_t

    def dims(self, B: int, T: int, t: int | None = None) -> dict[str, int]:
        """The named dimensions of a run with B sequences of T tokens (for the tracer); ``t``
        is the positions the KV cache holds after the run, when generating with one."""
        cfg = self.config
        dims = {"B": B, "T": T, "C": cfg.n_embd, "nh": cfg.n_head, "hs": cfg.head_size,
                "V": cfg.vocab_size, "block_size": cfg.block_size, "n_layer": cfg.n_layer}
        return dims if t is None else {**dims, "t": t}

    def kv_cache(self, B: int = 1) -> KVCache:
        """An empty KV cache for generating B sequences with this model."""
        cfg = self.config
        return KVCache(cfg.n_layer, B, cfg.n_head, cfg.block_size, cfg.head_size, self.dtype)

    # -- forward and backward ----------------------------------------------------------------

    def forward(self, idx, targets=None, tracer=NO_TRACE, rng=None, cache: KVCache | None = None,
                last_only: bool = False):
        """``idx (B, T)`` of token ids -> ``(logits (B, T, V), loss or None)``.

        ``targets (B, T)`` are the next characters; with them the mean cross-entropy loss is
        computed and the forward pass is remembered for :meth:`backward`. ``rng`` turns
        dropout on (training only). ``cache`` (generation): ``idx`` continues the ``cache.t``
        positions already in it, and their keys and values are not computed again.
        ``last_only`` (generation, as nanoGPT samples): logits ``(B, 1, V)`` of the last
        position only, the one the next token is drawn from; the head does T times less work.
        """
        idx = np.asarray(idx)
        if idx.ndim != 2:
            raise KqvError(f"idx must be (B, T), got shape {idx.shape}")
        B, T = idx.shape
        cfg = self.config
        if T > cfg.block_size:
            raise KqvError(f"a sequence of {T} tokens is longer than block_size={cfg.block_size}")
        if last_only and targets is not None:
            raise KqvError("last_only gives the last position's logits: the loss needs all of them")
        start = 0
        if cache is not None:
            cache.check_room(T)
            start = cache.t
        self.B, self.T = B, T
        x = self.embed.forward(idx, tracer, start)  # (B*T, C)
        x, self.emb_keep = dropout_forward(x, cfg.dropout, rng)
        for i, block in enumerate(self.h):
            tracer.section(f"block {i}")
            x = block.forward(x, B, T, tracer, rng, None if cache is None else cache.layers[i])  # (B*T, C)
        if cache is not None:
            cache.advance(T)
        tracer.section("head")
        xf = self.ln_f.forward(x, tracer)  # (B*T, C)
        tracer.record("ln_f", xf.reshape(B, T, -1), f"{self.ln_f.formula('x')} after the last block",
                      "forward", ("B", "T", "C"))
        self.xf = xf
        if last_only:
            xf, T = xf.reshape(B, T, -1)[:, -1], 1  # (B, C): the last position of each sequence
        logits = xf @ self._head(xf.shape[0], targets is not None)  # (B*T, C) @ (C, V) -> (B*T, V)
        tracer.record("logits", logits.reshape(B, T, -1), "ln_f @ wteᵀ   (B*T, C) @ (C, V)", "forward",
                      ("B", "1" if last_only else "T", "V"),
                      "the LM head reuses the token embedding (weight tying)")
        loss = None
        if targets is not None:
            self.targets = np.asarray(targets).reshape(-1)
            fast = fused.kernels_for(tracer)  # None: the readable function below (engine.fused)
            forward = cross_entropy_forward if fast is None else fast.cross_entropy_forward
            loss, self.probs = forward(logits, self.targets)  # probs kept for backward
            tracer.record("loss", np.asarray(loss, dtype=self.dtype), "mean over B*T of −log p[target]",
                          "forward", ())
        return logits.reshape(B, T, -1), loss

    def backward(self, tracer=NO_TRACE) -> None:
        """Fill :attr:`grads` with d(loss)/d(parameter) for the last forward with targets."""
        B, T = self.B, self.T
        sym = ("B", "T", "C")
        self._wte_t = None  # training is about to change wte: the head's copy would be stale
        tracer.section("backward")
        if (fast := fused.kernels_for(tracer)) is not None:
            dlogits = fast.cross_entropy_backward(self.probs, self.targets)  # in place, one pass
        else:
            dlogits = cross_entropy_backward(self.probs, self.targets, out=self.probs)  # (B*T, V)
        tracer.record("dlogits", dlogits.reshape(B, T, -1), "(softmax(logits) − onehot(targets)) / (B*T)",
                      "backward", ("B", "T", "V"))
        wte = self.embed.wte
        np.matmul(dlogits.T, self.xf, out=self.embed.dwte)  # (V, B*T) @ (B*T, C): the head's share
        tracer.record("dwte_head", self.embed.dwte, "dlogitsᵀ @ ln_f   (V, B*T) @ (B*T, C)", "backward",
                      ("V", "C"), "the tied head's share of wte's gradient")
        dxf = dlogits @ wte  # (B*T, V) @ (V, C) -> (B*T, C)
        tracer.record("dln_f", dxf.reshape(B, T, -1), "dlogits @ wte", "backward", sym)
        dx = self.ln_f.backward(dxf, tracer, sym)
        for block in reversed(self.h):
            dx = block.backward(dx, B, T, tracer)
        dx = dropout_backward(dx, self.emb_keep)
        tracer.record("dx", dx.reshape(B, T, -1), "gradient at tok_emb + pos_emb", "backward", sym)
        self.embed.backward(dx, tracer, accumulate=True)  # adds the embedding's share to dwte
        tracer.record("dwte", self.embed.dwte, "dwte_head + dwte_lookup (both uses of wte)",
                      "backward", ("V", "C"))

    def forward_on_faster_threads(self, idx, **kwargs):
        """:meth:`forward`, on 1 BLAS thread or all of them, whichever is faster on the machine
        as it is now (:class:`engine.runtime.blas.FasterThreads`).

        For the one-off passes (a prompt, ``kqv trace --model``, a lesson step on GPT-2): one
        call cannot be timed twice, so a stand-in is timed first, one of the pass's own matrix
        products, the first MLP's (T, C) @ (C, 4C) for up to 64 of its T rows: about 1.5 ms on
        one thread for GPT-2 small, 10-50 ms on two with another job on the other core. Two
        threads were measured 10-17x slower than one for these passes on a busy machine (see
        ``benchmarks/gpt2_speed.py --busy``); on an idle one they are the faster.
        """
        chooser = FasterThreads()
        T = np.asarray(idx).shape[-1]
        x = np.ones((min(T, 64), self.config.n_embd), dtype=self.dtype)  # (T', C)
        w = self.params["h0.mlp.c_fc.w"]  # (C, 4C)
        chooser.decide_with(lambda: x @ w)
        return chooser(self.forward, idx, **kwargs)

    # -- sampling ----------------------------------------------------------------------------

    def stream(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
               rng: np.random.Generator | None = None, cache: bool = True) -> Iterator[int]:
        """Yield ``max_new_tokens`` new token ids, one at a time, after the prompt ``idx``.

        Each step divides the last position's logits by ``temperature`` (below 1: safer, above
        1: wilder), keeps only the ``top_k`` largest, and draws the next token from the softmax.

        The model reads at most ``block_size`` tokens, so each step sees the last ``block_size``
        of the context (nanoGPT's ``idx[:, -block_size:]``): older tokens are forgotten. With
        ``cache`` (the default) the prompt runs once and each new token is one position through
        the model, its keys and values added to a KV cache (:mod:`engine.kv_cache`). Once the
        context is longer than ``block_size``, the window moves by one token each step, every
        token lands on a new position, and the cached keys and values (computed with the old
        positions' embeddings) no longer hold: each step then runs the whole window again, as
        without the cache. Both paths thus compute the same thing; the cache only saves work
        while the context fits.
        """
        if temperature <= 0:
            raise KqvError(f"temperature must be above 0, got {temperature}")
        if top_k is not None and top_k <= 0:
            raise KqvError(f"top-k must be at least 1, got {top_k}")
        rng = rng if rng is not None else np.random.default_rng()
        ids = [int(i) for i in np.asarray(idx).reshape(-1)]
        if not ids:
            raise KqvError("sampling needs at least one character to start from")
        block_size = self.config.block_size
        step = FasterThreads()  # 1 BLAS thread or all of them, whichever runs these steps faster here
        if not cache:
            for _ in range(max_new_tokens):
                logits, _ = step(self.forward, np.asarray(ids[-block_size:])[None, :], last_only=True)
                yield (nxt := sample_next(logits[0, -1], temperature, top_k, rng))
                ids.append(nxt)
            return
        kv = self.kv_cache()
        # a model that only runs inference (a loaded GPT-2) decodes each new token with the
        # fused kernels (engine.fused.decode), the same numbers as forward's in fewer passes
        decode = fused.decoder(self) if self.fast_decode else None
        prompt = np.asarray(ids[-block_size:])[None, :]
        logits, _ = self.forward_on_faster_threads(prompt, cache=kv, last_only=True)  # the prompt, once
        for n in range(max_new_tokens):
            yield (nxt := sample_next(logits[0, -1], temperature, top_k, rng))
            ids.append(nxt)
            if n + 1 == max_new_tokens:
                break
            if kv.full:  # past the window: the last block_size tokens again, as without the cache
                logits, _ = step(self.forward, np.asarray(ids[-block_size:])[None, :], last_only=True)
            elif decode is not None:
                logits = step(decode, np.asarray([[nxt]]), kv)  # one position, fused
            else:
                logits, _ = step(self.forward, np.asarray([[nxt]]), cache=kv)  # one position

    def generate(self, idx, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """The prompt followed by ``max_new_tokens`` sampled ids, as one 1-D array."""
        new = list(self.stream(idx, max_new_tokens, temperature, top_k, rng))
        return np.concatenate([np.asarray(idx).reshape(-1), np.asarray(new, dtype=np.int64)])
