"""Input sets for the GPT exercises: kqv's GPT conventions, sizes that read one way.

Two sets of dimensions, each odd and pairwise different, so that a shape names its letters
without doubt: in the first, (5, 4) can only be (T, hs), and a transposed (T, T) score grid
is still (T, T) but its values give it away. Rows are tokens, weights are stored (in, out),
attention is scaled by 1/√hs.

Each exercise runs the engine's own function with a :class:`~engine.trace.Tracer` on these
inputs; :func:`traced_case` turns that trace into the :class:`~lessons.practice.Case` to grade.
"""

from __future__ import annotations

import numpy as np

from engine.trace import Tracer
from lessons.practice.exercise import Call, Case
from lessons.practice.random_sets import current_seed, random_gpt_dims

# B sequences of T tokens, C = nh·hs channels, V tokens in the vocabulary, N = B·T rows
SETS = (
    {"B": 2, "T": 5, "C": 12, "nh": 3, "hs": 4, "V": 7, "N": 10},
    {"B": 3, "T": 7, "C": 10, "nh": 2, "hs": 5, "V": 11, "N": 21},
)


def gpt_sets(*letters: str) -> list[dict[str, int]]:
    """The dims of each input set, only the letters the exercise uses (in this order); during a
    check, a third set of random sizes (:mod:`lessons.practice.random_sets`)."""
    sets = list(SETS)
    if (seed := current_seed()) is not None:
        sets.append(random_gpt_dims(seed))
    return [{name: dims[name] for name in letters} for dims in sets]


def rng_for(exercise: str, i: int) -> np.random.Generator:
    """A fixed generator per exercise and fixed input set, so their inputs never change between
    checks; the random set's inputs come from its seed too."""
    extra = [] if i < len(SETS) else [current_seed() or 0]
    return np.random.default_rng([sum(map(ord, exercise)), i, *extra])


def traced_case(tracer: Tracer, calls: list[Call], graded: list[str], inputs: dict) -> Case:
    """The case that grades ``graded`` (engine records, in this order) for these calls.

    ``values`` holds every recorded variable and every input by name, for the mistakes.
    """
    values = {r.name: r.value for r in tracer}
    values.update({k: np.asarray(v) for k, v in inputs.items()})
    return Case(dims=dict(tracer.dims), calls=calls, expected=[tracer[name] for name in graded],
                values=values)
