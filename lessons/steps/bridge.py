"""Step script of lessons/bridge.md: the digit net and a transformer block, traced side by side.

It reuses the other two scripts' runs: ``digits`` is the backprop lesson's traced mini-batch
step; ``block`` is the attention lesson's one-block GPT, here with its backward pass too, so
the gradients of both models can be compared; ``pair`` runs both for the side-by-side view.
"""

from __future__ import annotations

import numpy as np

from engine.gpt.config import GPTConfig, count_parameters
from engine.trace import Tracer
from lessons.model import TraceFn, TraceRun
from lessons.steps import attention, backprop

EXTRAS = {"side_by_side", "param_count"}
GPT2_SMALL = GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)


def full_dims(dims: dict) -> dict[str, int]:
    return {**backprop.full_dims(dims), **attention.full_dims(dims)}


def run_digits(dims: dict, seed: int) -> TraceRun:
    run = backprop.run_digits(dims, seed)
    return TraceRun(run.tracer, full_dims(dims), run.notes, run.extras)


def run_block(dims: dict, seed: int) -> TraceRun:
    """The attention lesson's model, forward and backward, on the same word batch."""
    d = full_dims(dims)
    idx, targets, words = attention.batch(d["B"], d["T"])
    model = attention.model_for(d, seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer)
    model.backward(tracer)
    return TraceRun(tracer, d, notes=[f"untrained one-block GPT (seed {seed}) on: {' '.join(words[0])}"],
                    extras={"param_count": {"notes": param_count_notes(model)}}, tokens=words)


def param_count_notes(model) -> list[str]:
    """The block's parameters as the engine holds them, and GPT-2 small by the same count."""
    C = model.config.n_embd
    block = sum(a.size for name, a in model.params.items() if name.startswith("h0."))
    gpt2 = count_parameters(GPT2_SMALL)
    return [
        f"counted in this model's arrays: block h0 holds {block:,} numbers; 12·C² + 13·C = "
        f"{12 * C * C + 13 * C:,}",
        f"the whole lesson model holds {model.num_params:,}: no wpe here, its positions are the "
        "computed sinusoids",
        f"GPT-2 small (engine.gpt.config.count_parameters): {sum(gpt2.values()):,} = wte {gpt2['wte']:,} + "
        f"wpe {gpt2['wpe']:,} + 12 blocks {gpt2['blocks']:,} + ln_f {gpt2['ln_f']:,}",
    ]


# Rows of the side-by-side view: a digit-net variable and the block's variable that plays the
# same part (None where one model has nothing like it), in the order both compute them.
ANALOGUES = (
    ("x", "x"),  # the input matrix
    (None, "h0.att"),  # attention: no counterpart in the digit net
    ("w2", "h0.mlp.c_fc.w"),  # the hidden layer's weights: the MLP's first layer is the digit net's
    ("z2", "h0.fc"),  # its linear layer's output
    ("a2", "h0.gelu"),  # the non-linearity
    ("w3", "wte"),  # the output layer's weights (the tied head)
    ("z3", "logits"),  # one score per class
    ("C", "loss"),  # the cost, one number
    ("delta3", "dlogits"),  # the error at the output scores
    ("delta2", "h0.dfc"),  # the error at the hidden layer's output, before its non-linearity
    ("nabla_w2", "h0.mlp.c_fc.dw"),  # the hidden layer's weight gradient
)


def _first(tracer: Tracer, name: str | None):
    """The first record of ``name`` (w2 is recorded again by the update: the forward one here)."""
    return None if name is None else next(r for r in tracer.records if r.name == name)


def run_pair(dims: dict, seed: int) -> TraceRun:
    digits, block = run_digits(dims, seed), run_block(dims, seed)
    view = ((f"digit net 784-{digits.dims['n2']}-10, weights (out, in)",
             [_first(digits.tracer, left) for left, _ in ANALOGUES]),
            ("transformer block, weights (in, out)", [_first(block.tracer, right) for _, right in ANALOGUES]))
    shared = int(np.sum([r.value.size for r in block.tracer.records if r.name.endswith(".w")]))
    return TraceRun(block.tracer, block.dims, block.notes + digits.notes, tokens=block.tokens,
                    extras={"side_by_side": {"side_by_side": view,
                                             "notes": [f"the block's weight matrices hold {shared:,} "
                                                       "numbers at these dims"]}})


TRACES: dict[str, TraceFn] = {"digits": run_digits, "block": run_block, "pair": run_pair}
