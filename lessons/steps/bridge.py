"""Step script of lessons/bridge.md: the digit net and a transformer block, traced side by side.

It reuses the other two scripts' runs: ``digits`` is the backprop lesson's traced mini-batch
step; ``block`` is the attention lesson's one-block GPT, here with its backward pass too, so
the gradients of both models can be compared; ``pair`` runs both for the side-by-side view.
"""

from __future__ import annotations

import numpy as np

from engine.trace import Tracer
from lessons.model import TraceRun
from lessons.steps import attention, backprop

EXTRAS = {"side_by_side"}


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
    return TraceRun(tracer, d, notes=[f"untrained one-block GPT (seed {seed}) on: {' '.join(words[0])}"])


def run_pair(dims: dict, seed: int) -> TraceRun:
    digits, block = run_digits(dims, seed), run_block(dims, seed)
    view = ((f"digit net 784-{digits.dims['n2']}-10, weights (out, in)", list(digits.tracer.records)),
            ("transformer block, weights (in, out)", list(block.tracer.records)))
    shared = int(np.sum([r.value.size for r in block.tracer.records if r.name.endswith(".w")]))
    return TraceRun(block.tracer, block.dims, block.notes + digits.notes,
                    extras={"side_by_side": {"side_by_side": view,
                                             "notes": [f"the block's weight matrices hold {shared:,} "
                                                       "numbers at these dims"]}})


TRACES = {"digits": run_digits, "block": run_block, "pair": run_pair}
