"""Input sets for the digit-net exercises: small networks run by the engine, traced.

Two networks whose sizes are odd and pairwise different, so a shape names its dimensions
without doubt: (4, 5) can only be (m, n2) in the first. The second has one more layer, so a
solution that only works for two weight matrices fails there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from engine.digits.network import Network, one_hot
from engine.trace import Record, Tracer
from lessons.practice.exercise import Call, Case
from lessons.practice.random_sets import current_seed, random_net

NETS = (((7, 5, 3), 4), ((8, 6, 9, 3), 5))  # (sizes, m): n1=7, n2=5, n3=3, m=4; then 4 layers
ETA = 3.0


@dataclass
class DigitRun:
    """One traced run of the engine's digit net on a random mini-batch (float64)."""

    dims: dict[str, int]
    x: np.ndarray  # (n1, m)
    y: np.ndarray  # (nL, m), one-hot columns
    weights: list[np.ndarray]  # as they were before the run (an update changes the net's)
    biases: list[np.ndarray]
    tracer: Tracer

    def records(self, phase: str, pattern: str) -> list[Record]:
        """The traced records of ``phase`` whose name matches ``pattern`` ("[za]\\d+"), in order."""
        return [r for r in self.tracer if r.phase == phase and re.fullmatch(pattern, r.name)]

    def values(self) -> dict[str, np.ndarray]:
        """Every traced value by name (the last one wins) and the inputs, for mistakes to read."""
        values = {r.name: r.value for r in self.tracer}
        values.update(x=self.x, y=self.y)
        return values


def digit_runs(cost: str = "quadratic", update: bool = False, eta: float = ETA) -> list[DigitRun]:
    """Run :meth:`Network.backprop_batch` (or :meth:`Network.traced_update`) on each net."""
    runs = []
    nets = list(NETS)
    if (seed := current_seed()) is not None:  # during a check: a third net of random sizes
        nets.append(random_net(seed))
    for i, (sizes, m) in enumerate(nets):
        drawn = i >= len(NETS)
        net = Network(sizes, cost=cost, seed=10 + i + (seed * 7 if drawn else 0), dtype=np.float64)
        rng = np.random.default_rng([20 + i, seed] if drawn else 20 + i)
        x = rng.random((sizes[0], m))  # (n1, m), "pixels" in 0..1
        y = one_hot(rng.integers(sizes[-1], size=m), sizes[-1], np.float64).T  # (nL, m)
        weights = [w.copy() for w in net.weights]
        biases = [b.copy() for b in net.biases]
        tracer = Tracer(dims={**net.dims, "m": m})
        if update:
            net.traced_update(x, y, eta, tracer)
        else:
            net.backprop_batch(x, y, tracer)
        runs.append(DigitRun(tracer.dims, x, y, weights, biases, tracer))
    return runs


def output_error_cases(cost: str) -> list[Case]:
    """Cases grading a cost's C (forward) and δᴸ (backward), as network2's cost classes have them."""
    out = []
    for run in digit_runs(cost=cost):
        L = len(run.weights) + 1
        z, a = run.tracer[f"z{L}"].value, run.tracer[f"a{L}"].value
        out.append(Case(dims=run.dims,
                        calls=[Call("fn", {"a": a, "y": run.y}, "C"),
                               Call("delta", {"z": z, "a": a, "y": run.y}, f"delta{L}")],
                        expected=[run.tracer["C"], run.tracer[f"delta{L}"]],
                        values={**run.values(), "zL": z, "aL": a}))
    return out


def output_layer(case: Case) -> int:
    """L, the number of the output layer: 3 for an n1-n2-n3 net, 4 for one layer more."""
    return sum(1 for d in case.dims if d.startswith("n"))


def output_delta(case: Case) -> str:
    """The name of δᴸ in this case's net: delta3, or delta4 for one layer more."""
    return f"delta{output_layer(case)}"
