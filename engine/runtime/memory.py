"""How much memory a run will need, estimated from its sizes before anything is allocated.

A size can come from a flag (``--n-embd 20000``), a checkpoint's metadata (a crafted file that
says ``sizes: [784, 3000000, 10]``), a data file's header, or the app's dims dialog. Whatever
the source, the model is costed here first, from the sizes alone, and refused in one line when
it would not fit, instead of being half-built until the kernel kills kqv without a word.

The estimate counts what the engine really holds, in bytes:

* parameters, and for training their gradients (one copy in the model and one in each of the
  two half-batch twins, see :class:`engine.gpt.halves.HalfBatches`) and AdamW's two moments;
* the activations kept for the backward pass of one batch (attention scores are B·nh·T·T);
* the data set in memory.

It is an estimate, deliberately on the generous side (numpy's temporaries come and go); what
matters is the order of magnitude: a run that needs 24 GB must never start on an 8 GB machine.

    estimate = gpt_memory(config, batch_size=12, training=True)
    check_fits(estimate, "the GPT", "lower --batch-size, --block-size or --n-embd")
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.errors import KqvError

# When the machine's free memory cannot be read, assume this much: a small laptop's worth.
FALLBACK_AVAILABLE = 4 * 2**30
FLOAT32 = 4


@dataclass
class MemoryEstimate:
    """Bytes a run needs, by part (``{"parameters": ..., "activations": ...}``)."""

    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        """``"about 24.1 GB (activations 22.0 GB, parameters 1.6 GB, ...)"``, largest part first."""
        shown = sorted(((n, b) for n, b in self.parts.items() if b), key=lambda nb: -nb[1])
        return f"about {human_bytes(self.total)} ({', '.join(f'{n} {human_bytes(b)}' for n, b in shown)})"


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def available_memory() -> int:
    """Bytes this process may still allocate: the kernel's MemAvailable, capped by any rlimit."""
    available = _meminfo_available()
    if available is None:
        try:
            available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            available = FALLBACK_AVAILABLE
    limit = _address_space_limit()
    return min(available, limit) if limit is not None else available


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file counts in KiB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_limit() -> int | None:
    """Room left under ``ulimit -v`` (RLIMIT_AS), if one is set: a process past it gets MemoryError."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")  # virtual size now
    except (OSError, ValueError, IndexError):
        used = 0
    return max(soft - used, 0)


def check_fits(estimate: MemoryEstimate, what: str, remedy: str, available: int | None = None) -> None:
    """Raise :class:`KqvError` naming the estimate, the limit and ``remedy`` when it does not fit."""
    limit = available_memory() if available is None else available
    if estimate.total > limit:
        raise KqvError(f"{what} would need {estimate.describe()} of memory, but {human_bytes(limit)} "
                       f"is available; {remedy}")


# -- the two models -------------------------------------------------------------------------


def gpt_memory(config, batch_size: int, training: bool, itemsize: int = FLOAT32,
               data_bytes: int = 0, tokens: int | None = None) -> MemoryEstimate:
    """What a GPT of ``config`` (an :class:`engine.gpt.model.GPTConfig`) needs for a batch of B windows.

    Per token of the batch, each block keeps about 20·C numbers for the backward pass (the
    LayerNorm outputs, q, k, v, the attention output, the MLP's 4·C pre- and post-GELU, the
    residual stream) and nh·T attention scores and as many probabilities; the head keeps V
    logits and as many probabilities. The backward pass makes gradients of the same sizes, so
    training counts them twice. Sampling runs one window (B = 1) with no gradients.
    ``tokens``: the positions T of a window when it is fewer than ``block_size`` (a prompt).
    """
    from engine.gpt.config import count_parameters

    P = sum(count_parameters(config).values())
    C, nh, V = config.n_embd, config.n_head, config.vocab_size
    T = config.block_size if tokens is None else tokens
    B = batch_size if training else 1
    per_token = config.n_layer * (20 * C + 3 * nh * T) + 3 * V + 4 * C
    activations = B * T * per_token * itemsize * (2 if training else 1)
    parts = {"parameters": P * itemsize, "activations": activations, "data": data_bytes}
    if training:
        parts["gradients"] = 3 * P * itemsize  # the model's and each half-batch twin's
        parts["optimizer state"] = 2 * P * itemsize  # AdamW's m and v
    return MemoryEstimate(parts)


def digits_memory(sizes: list[int], batch_size: int, n_examples: int, training: bool,
                  itemsize: int = FLOAT32, eval_examples: int = 10_000) -> MemoryEstimate:
    """What the digit net of ``sizes`` needs: weights, gradients, the batch's buffers, the data.

    Training keeps, per example of a mini-batch, the activations, the deltas and σ′ of every
    layer after the input; evaluation feeds ``eval_examples`` images through in one product.
    """
    P = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False))
    m = min(batch_size, max(n_examples, 1))
    hidden = sum(sizes[1:])
    parts = {
        "parameters": P * itemsize,
        "gradients": P * itemsize if training else 0,
        "activations": (3 * m + eval_examples) * hidden * itemsize,
        "data": n_examples * (sizes[0] + sizes[-1]) * itemsize,
    }
    return MemoryEstimate(parts)


def translation_memory(config, batch_size: int, seq_len: int, training: bool,
                       itemsize: int = FLOAT32, beam: int = 4) -> MemoryEstimate:
    """What an encoder–decoder Transformer of ``config`` (an
    :class:`engine.translation.model.TransformerConfig`) needs for B sentence pairs of at most
    ``seq_len`` pieces on each side.

    The parameters are the model's own count from its sizes
    (:func:`engine.translation.model.count_parameters`). Per position each layer keeps about
    12·C + 3·d_ff numbers for the backward pass and nh·L scores and probabilities per attention;
    the output keeps V logits, their probabilities, their gradient and numpy's temporaries.
    Training counts the backward pass's gradients as much again, plus three gradients (the
    model's and its two half-batch twins') and Adam's m, v and scratch vector per parameter.
    Translating runs one sentence with ``beam`` beams, each holding a KV cache of
    ``max_len`` target positions and the cross-attention's keys and values in every decoder
    layer. A test holds the estimate above the peak measured in a real training step.
    """
    from engine.translation.model import count_parameters

    C, V, nh, F = config.n_embd, config.vocab_size, config.n_head, config.d_ff
    P = sum(count_parameters(config).values())
    B, L = (batch_size if training else beam), seq_len
    # the output keeps its logits, their probabilities, their gradient and numpy's temporaries: 5·V
    per_position = ((config.n_layer + config.n_dec_layer) * (12 * C + 3 * F + 3 * nh * L)
                    + config.n_dec_layer * 3 * nh * L + 5 * V)
    activations = B * L * per_position * itemsize * (2 if training else 1)
    parts = {"parameters": P * itemsize, "activations": activations}
    if training:
        parts["gradients"] = 3 * P * itemsize  # the model's and each half-batch twin's
        parts["optimizer state"] = 3 * P * itemsize  # Adam's m and v, and its scratch vector
    else:  # each beam's self-attention cache (max_len positions) and cross-attention k, v
        parts["decoding cache"] = beam * config.n_dec_layer * 2 * C * (config.max_len + L) * itemsize
    return MemoryEstimate(parts)
