"""A third input set of random sizes, drawn afresh for every check (as Tensor-Puzzles' property
tests draw theirs), beside the two fixed sets that catch a hard-coded size so well.

The sizes are drawn from a seed the check shows, so a failure on them replays:
``kqv practice check NAME --seed N``. They are drawn pairwise different (and never 1), like the
fixed sets', so a shape still reads as letters one way only.

    with drawn_with(1234) as draw:
        cases = exercise.cases()       # the fixed sets, then one of random sizes
    draw.used                          # whether this exercise's sets took the random one

The exercises built on :func:`lessons.practice.gpt_inputs.gpt_sets` and
:func:`lessons.practice.digit_net.digit_runs` take it; the others keep their fixed sets.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np


@dataclass
class Draw:
    seed: int
    used: bool = False  # set by the input sets that appended a random one


_DRAW: ContextVar[Draw | None] = ContextVar("kqv_practice_draw", default=None)


def draw_seed() -> int:
    """A fresh seed for one check, short enough to type back."""
    return secrets.randbelow(1_000_000)


@contextmanager
def drawn_with(seed: int) -> Iterator[Draw]:
    draw = Draw(seed)
    token = _DRAW.set(draw)
    try:
        yield draw
    finally:
        _DRAW.reset(token)


def current_seed() -> int | None:
    """The seed of the check being built, marking the random set as used; None outside one."""
    draw = _DRAW.get()
    if draw is None:
        return None
    draw.used = True
    return draw.seed


def _pairwise_different(rng: np.random.Generator, draw: Callable[[np.random.Generator], dict]) -> dict:
    while True:  # a few tries at most: the ranges leave plenty of room
        dims = draw(rng)
        sizes = list(dims.values())
        if len(set(sizes)) == len(sizes) and 1 not in sizes:
            return dims


def random_gpt_dims(seed: int) -> dict[str, int]:
    """B, T, C = nh·hs, nh, hs, V, N = B·T: small, pairwise different."""
    def draw(rng):
        B, T, nh, hs = (int(rng.integers(lo, hi)) for lo, hi in ((2, 5), (2, 10), (2, 5), (2, 7)))
        return {"B": B, "T": T, "C": nh * hs, "nh": nh, "hs": hs, "V": int(rng.integers(3, 14)),
                "N": B * T}
    return _pairwise_different(np.random.default_rng([seed, 1]), draw)


def random_net(seed: int) -> tuple[tuple[int, ...], int]:
    """(sizes, m): a net of 3 or 4 layers and a mini-batch, every size different."""
    def draw(rng):
        layers = int(rng.integers(3, 5))
        sizes = [int(n) for n in rng.integers(2, 11, layers)]
        return {**{f"n{i + 1}": n for i, n in enumerate(sizes)}, "m": int(rng.integers(2, 9))}
    dims = _pairwise_different(np.random.default_rng([seed, 2]), draw)
    m = dims.pop("m")
    return tuple(dims.values()), m
