"""The digit net with the learner's functions in it: where their code meets kqv's engine.

:class:`engine.digits.network.Network` trains through one method, ``update_mini_batch``, and
measures through ``feedforward``; its hidden layers go through ``_hidden`` and ``_hidden_prime``.
Those are the seam. :class:`ReadableNetwork` is the engine stepping through its readable path
(``backprop_batch`` and the plain update the lessons trace, not the fast buffers ``kqv train
digits`` uses); :class:`LearnerNetwork` is the same network with, at each of those places, the
learner's function where the learner has passed it:

========================  ================================================================
``sigmoid``               σ and σ′ of the engine's readable backprop and feedforward
``feedforward``           the test images' outputs (accuracy) and the training cost
``backprop``              nabla_b, nabla_w of each mini-batch
``update_mini_batch``     the step w ← w − (η/m)·nabla_w, b ← b − (η/m)·nabla_b
========================  ================================================================

Both are trained by the engine's own ``SGD`` (same seed, same shuffles, same settings), so
with a right solution the two runs agree to float rounding, and a wrong one shows in the
accuracy. The book's chapter-1 network is the one the exercises are written for: sigmoid
everywhere, the quadratic cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.digits.network import Network
from engine.trace import NO_TRACE
from kqv_cli.practice.learner_process import LearnerCodeFailed, LearnerProcess


class ReadableNetwork(Network):
    """The engine's chapter-1 network, trained through its readable, traced path."""

    def __init__(self, sizes: Sequence[int], seed: int = 0):
        super().__init__(sizes, activation="sigmoid", cost="quadratic", seed=seed)

    def update_mini_batch(self, x, y, eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        self.traced_update(x, y, eta, NO_TRACE, lmbda, n)


class LearnerNetwork(ReadableNetwork):
    """:class:`ReadableNetwork` with the learner's passed functions in place of the engine's.

    ``parts`` names the exercises whose functions are used (a subset of
    :data:`DIGIT_EXERCISES`); the learner's process runs them (:class:`LearnerProcess`).
    """

    def __init__(self, sizes: Sequence[int], learner: LearnerProcess, parts: frozenset[str], seed: int = 0):
        super().__init__(sizes, seed)
        self.learner, self.parts = learner, parts

    # -- the neuron ----------------------------------------------------------------------------

    def _sigmoid(self, function: str, z):
        out = self.learner.call("sigmoid", function, z)
        return expect_array(function, "its result", out, z.shape, self.dtype)

    def _hidden(self, z):
        return self._sigmoid("sigmoid", z) if "sigmoid" in self.parts else super()._hidden(z)

    def _hidden_prime(self, z):
        return self._sigmoid("sigmoid_prime", z) if "sigmoid" in self.parts else super()._hidden_prime(z)

    def _output(self, z):
        return self._sigmoid("sigmoid", z) if "sigmoid" in self.parts else super()._output(z)

    # -- the network ---------------------------------------------------------------------------

    def feedforward(self, a):
        if "feedforward" not in self.parts:
            return super().feedforward(a)
        out = self.learner.call("feedforward", "feedforward", a, self.weights, self.biases)
        return expect_array("feedforward", "its result", out, (self.sizes[-1], a.shape[1]), self.dtype)

    def update_mini_batch(self, x, y, eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        """One step: the gradients (the learner's backprop or the engine's), then the update (the
        learner's or the engine's), both on the same mini-batch ``x (n1, m)``, ``y (nL, m)``."""
        m = x.shape[1]
        if "backprop" in self.parts:
            nabla_b, nabla_w = expect_pair("backprop", self.learner.call("backprop", "backprop", x, y,
                                                                         self.weights, self.biases))
            nabla_b = expect_list("backprop", "nabla_b", nabla_b, self.biases, self.dtype)
            nabla_w = expect_list("backprop", "nabla_w", nabla_w, self.weights, self.dtype)
        else:
            nabla_b, nabla_w = self.backprop_batch(x, y)
        if "update_mini_batch" in self.parts:
            step = self.learner.call("update_mini_batch", "update_mini_batch", self.weights, self.biases,
                                     nabla_w, nabla_b, eta, m)
            weights, biases = expect_pair("update_mini_batch", step)
            weights = expect_list("update_mini_batch", "weights", weights, self.weights, self.dtype)
            biases = expect_list("update_mini_batch", "biases", biases, self.biases, self.dtype)
            self.set_parameters(weights, biases)
        else:  # the engine's step, as traced_update takes it (no weight decay here)
            for w, b, nw, nb in zip(self.weights, self.biases, nabla_w, nabla_b, strict=True):
                w -= (eta / m) * nw
                b -= (eta / m) * nb


# -- what comes back must fit the engine ------------------------------------------------------


def expect_array(function: str, what: str, value, shape: tuple[int, ...], dtype) -> np.ndarray:
    """``value`` as an array of ``shape`` in the engine's dtype, else :class:`LearnerCodeFailed`."""
    if isinstance(value, list) or np.shape(value) != tuple(shape):
        got = f"a list of {len(value)}" if isinstance(value, list) else f"shape {np.shape(value)}"
        raise LearnerCodeFailed(f"your {function} returned {what} of {got}; the engine needs shape "
                                f"{tuple(shape)} here")
    return np.asarray(value, dtype=dtype)


def expect_pair(function: str, value) -> list:
    if not (isinstance(value, list) and len(value) == 2):
        got = f"a list of {len(value)}" if isinstance(value, list) else "one array"
        raise LearnerCodeFailed(f"your {function} returned {got}; the engine needs two lists back")
    return value


def expect_list(function: str, what: str, value, like: list[np.ndarray], dtype) -> list[np.ndarray]:
    """A list shaped like ``like`` (the weights or the biases), one array per layer."""
    if not isinstance(value, list) or len(value) != len(like):
        raise LearnerCodeFailed(f"your {function} returned {what} that is not a list of {len(like)} arrays, "
                                "one per layer")
    return [expect_array(function, f"{what}[{i}]", v, p.shape, dtype) for i, (v, p) in
            enumerate(zip(value, like, strict=True))]
