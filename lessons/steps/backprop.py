"""Step script of lessons/backprop.md: the digit net of engine/digits/network.py, traced.

Three runs, each one call into the engine:

* ``tiny``: a 3-4-2 network and one input column, small enough to read every number;
* ``digits``: the 784-n2-10 digit net on a mini-batch of m images, one traced
  :meth:`~engine.digits.network.Network.traced_update` (all five phases and the update);
* ``train``: the same net trained for a few hundred mini-batches with the fast
  ``update_mini_batch``, its accuracy on held-out images measured along the way, then one more
  traced step to show the trained weights.
"""

from __future__ import annotations

import numpy as np

from engine.digits.network import Network, one_hot
from engine.errors import KqvError
from engine.runtime.memory import check_fits, digits_memory
from engine.trace import Tracer
from lessons.model import TraceFn, TraceRun
from lessons.steps.digit_images import lesson_digits

ETA = 3.0  # the book's learning rate for this net with the quadratic cost
TINY_SIZES = (3, 4, 2)
TRAIN_IMAGES = 4000
HELD_OUT = 1000
CHECKPOINTS = (0, 25, 50, 100, 200, 400)  # mini-batches after which accuracy is measured

EXTRAS = {"image", "accuracy"}


def full_dims(dims: dict) -> dict[str, int]:
    n2, m = int(dims.get("n2", 30)), int(dims.get("m", 10))
    if n2 < 1 or m < 1:
        raise KqvError(f"n2 and m must be at least 1, got n2={n2}, m={m}")
    # the same estimate as `kqv train digits`; the trace keeps a copy of every variable: 2·m
    check_fits(digits_memory([784, n2, 10], 2 * m, m, training=True, eval_examples=0),
               f"a step with n2={n2}, m={m}", "choose smaller dims")
    return {"n1": 784, "n2": n2, "n3": 10, "m": m}


def run_tiny(dims: dict, seed: int) -> TraceRun:
    n1, n2, n3 = TINY_SIZES
    tiny_dims = {"n1": n1, "n2": n2, "n3": n3, "m": 1}
    net = Network(TINY_SIZES, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1000)
    x = rng.random((n1, 1)).round(2)  # three "pixels" in 0..1
    y = one_hot([int(rng.integers(n3))], n3, np.float64).T  # (n3, 1)
    tracer = Tracer(dims=tiny_dims)
    net.traced_update(x, y, eta=ETA, tracer=tracer)
    return TraceRun(tracer, tiny_dims, notes=[f"a tiny {n1}-{n2}-{n3} network, one input column, "
                                              f"random weights (seed {seed})"])


def run_digits(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    net = Network([d["n1"], d["n2"], d["n3"]], seed=seed)
    images = lesson_digits(d["m"], seed, "train")  # training images: this step trains on them
    x = images.x.T  # (784, m): one image per column
    y = one_hot(images.labels, 10, np.float32).T  # (10, m)
    tracer = Tracer(dims=d)
    net.traced_update(x, y, eta=ETA, tracer=tracer)
    first = images.x[0].reshape(28, 28)
    return TraceRun(
        tracer,
        d,
        notes=[f"input: {images.source}; labels of this mini-batch: "
               + " ".join(str(int(v)) for v in images.labels[:20])
               + (" ..." if len(images.labels) > 20 else "")],
        extras={"image": {"heatmap": (f"x[:, 0] as 28x28: a {int(images.labels[0])}", first,
                                      "row", "column")}},
    )


def run_train(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    m = d["m"]
    net = Network([d["n1"], d["n2"], d["n3"]], seed=seed)
    train = lesson_digits(TRAIN_IMAGES, seed, "train")
    held = lesson_digits(HELD_OUT, seed + 1, "test")
    y_train = one_hot(train.labels, 10, np.float32)
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(train.labels))
                            for _ in range(CHECKPOINTS[-1] * m // len(train.labels) + 1)])
    series = [(0, 100.0 * net.evaluate(held.x, held.labels) / len(held.labels))]
    done = 0
    with np.errstate(over="ignore"):
        for target in CHECKPOINTS[1:]:
            while done < target:
                idx = order[done * m : (done + 1) * m]
                net.update_mini_batch(train.x[idx].T, y_train[idx].T, ETA)
                done += 1
            series.append((done, 100.0 * net.evaluate(held.x, held.labels) / len(held.labels)))
    idx = order[done * m : (done + 1) * m]
    tracer = Tracer(dims=d)
    net.traced_update(train.x[idx].T, y_train[idx].T, eta=ETA, tracer=tracer)
    lines = [f"after {k:>3} mini-batches of {m}: {acc:5.1f}% right" for k, acc in series]
    return TraceRun(
        tracer,
        d,
        notes=[f"trained on {train.source} ({len(train.labels):,} of them), accuracy measured on "
               f"{len(held.labels):,} other images"],
        extras={"accuracy": {"series": ("accuracy on held-out images", series, "mini-batches",
                                        "% right"),
                             "notes": lines}},
    )


TRACES: dict[str, TraceFn] = {"tiny": run_tiny, "digits": run_digits, "train": run_train}
