"""Nielsen's digit network, with the mini-batch as one matrix.

The names follow chapter 1 and 2 of *Neural Networks and Deep Learning* so the book's code can
sit beside this one: ``sizes``, ``weights``, ``biases``, ``feedforward``, ``backprop``,
``update_mini_batch``, ``SGD``, ``evaluate``, ``delta``, ``nabla_b``, ``nabla_w``.

Conventions (the lessons state them too):

* Layers are numbered as in the book: layer 1 is the input, layer L the output. ``sizes[0]``
  is n1 = 784 pixels, so ``weights[0]`` is w², the weights *into* layer 2.
* A weight matrix is stored ``(out, in)``: w² has shape ``(n2, n1)``, one row per neuron of
  layer 2, so ``z² = w² @ a¹ + b²`` is a matrix times a column.
* Examples are columns. One image is a ``(784, 1)`` column; a mini-batch of m images is a
  ``(784, m)`` matrix, and every z, a and delta gains that m as its second dimension.
  A gradient always has the shape of what it differentiates: ``nabla_w`` is shaped like ``w``.

Three ways to run the same algorithm live here:

* :meth:`Network.backprop` is the book's per-example version, for lessons and for checking;
* :meth:`Network.backprop_batch` is the same maths for a whole mini-batch at once, written
  plainly and traced line by line; the lessons step through it;
* :meth:`Network.update_mini_batch` computes exactly what ``backprop_batch`` computes, in
  numpy, but into buffers allocated once, because at a mini-batch of 10 numpy's per-call cost,
  not arithmetic, is what an epoch spends its time on.

What :meth:`Network.SGD` (``kqv train digits``) runs is that step compiled whole by numba,
:func:`engine.fused.digits.sgd_step`: one call a mini-batch, reading the images where they lie
in the training set (1.8x faster than the numpy step at mini-batch 10, 1.25x at 100, measured);
``update_mini_batch`` where numba is missing. Tests hold both to ``traced_update``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from engine.errors import KqvError, TrainingDiverged
from engine.trace import NO_TRACE

ACTIVATIONS = ("sigmoid", "relu")
COSTS = ("quadratic", "cross-entropy", "log-likelihood")
SCHEDULES = ("constant", "cosine")

# The fast step multiplies at most this many examples at a time: OpenBLAS takes a quicker path
# for small products, and (100, 784) @ (784, 30) as four (25, 784) products measured 58 µs
# against 85 µs in one call here.
ROWS_PER_PRODUCT = 25


# -- the neuron's functions ---------------------------------------------------------------


def sigmoid(z):
    """σ(z) = 1 / (1 + e⁻ᶻ), squashing any real number into (0, 1)."""
    with np.errstate(over="ignore"):  # e⁻ᶻ overflows to inf for very negative z; 1/inf is 0
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """σ′(z) = σ(z)(1 − σ(z)): how much the output moves when z moves a little."""
    s = sigmoid(z)
    return s * (1 - s)


def relu(z):
    return np.maximum(z, 0)


def relu_prime(z):
    return (z > 0).astype(z.dtype)


def softmax(z):
    """Column-wise softmax: each column becomes a probability distribution over the classes."""
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


@dataclass
class Cost:
    """The cost function C(a, y), summed over the examples (columns), and its output layer.

    The three costs of the book's chapter 3, each with the output layer it is made for:

    * ``quadratic``: C = ½‖y − a‖², sigmoid outputs (``network2.QuadraticCost``);
    * ``cross-entropy``: C = −Σ[y ln a + (1 − y) ln(1 − a)], sigmoid outputs
      (``network2.CrossEntropyCost``): the cost of the learning-slowdown argument;
    * ``log-likelihood``: C = −ln a_y, the log of the right digit's output, with softmax outputs.

    Both of the last two give δᴸ = a − y: the σ′(zᴸ) of the quadratic cost cancels out.
    """

    name: str

    @property
    def output(self) -> str:
        """The output layer's activation: softmax for the log-likelihood, σ for the others."""
        return "softmax" if self.name == "log-likelihood" else "sigmoid"

    def fn(self, a, y) -> float:
        if self.name == "quadratic":  # C = ½‖y − a‖²
            return 0.5 * float(np.sum((a - y) ** 2))
        # ln 0 is −inf: keep a inside (0, 1), in float64 where 1 − 1e-12 is not 1
        a = np.clip(np.asarray(a, np.float64), 1e-12, 1 - 1e-12)
        if self.name == "cross-entropy":  # C = −Σ[y ln a + (1 − y) ln(1 − a)]
            return -float(np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)))
        return -float(np.sum(y * np.log(a)))  # −ln a_y: y is one-hot, so Σ y ln a picks a_y

    def delta(self, z, a, y):
        """Output error δᴸ = ∂C/∂zᴸ."""
        if self.name == "quadratic":  # δᴸ = ∇ₐC ⊙ σ′(zᴸ) = (a − y) ⊙ σ′(zᴸ)
            return (a - y) * sigmoid_prime(z)
        return a - y  # the σ′ (or softmax's Jacobian) cancels: no learning slowdown


# -- the network ---------------------------------------------------------------------------


def eta_for_epoch(eta: float, epoch: int, epochs: int, schedule: str) -> float:
    """The learning rate of epoch ``epoch`` (1-based) out of ``epochs``.

    ``constant`` is the book's: η throughout. ``cosine`` starts at η and glides down half a
    cosine wave towards 0 by the last epoch: big steps while far from a minimum, small ones
    to settle into it, where a constant η keeps jittering around it.
    """
    if schedule == "constant":
        return eta
    return eta * 0.5 * (1 + np.cos(np.pi * (epoch - 1) / epochs))


@dataclass
class EpochResult:
    epoch: int
    eta: float
    seconds: float
    train_cost: float
    validation_correct: int | None
    validation_total: int
    test_correct: int | None
    test_total: int


# What SGD's settings are called in its refusals; kqv_cli.services.numbers passes the flags'
# names instead, so the command line and the engine refuse by the same rules.
SGD_NAMES = {"epochs": "epochs", "mini_batch_size": "mini-batch size", "eta": "eta",
             "lmbda": "lmbda", "schedule": "schedule"}


def check_sgd_settings(epochs: int, mini_batch_size: int, eta: float, lmbda: float = 0.0,
                       schedule: str = "constant", names: dict[str, str] = SGD_NAMES) -> None:
    """Refuse, with :class:`KqvError` naming each setting by ``names``, what SGD cannot train
    with: a count of epochs or examples, or a learning rate, that is not positive (η = 0 would
    run every epoch without learning), weight decay that pushes weights up (λ < 0), or a
    schedule SGD does not know."""
    if epochs <= 0 or mini_batch_size <= 0 or eta <= 0:
        raise KqvError(f"{names['epochs']}, {names['mini_batch_size']} and {names['eta']} "
                       "must all be positive")
    if lmbda < 0:
        raise KqvError(f"{names['lmbda']} cannot be negative")
    if schedule not in SCHEDULES:
        raise KqvError(f"{names['schedule']} must be one of {', '.join(SCHEDULES)}, not {schedule}")


class Network:
    """A fully connected network trained by stochastic gradient descent.

    ``sizes`` lists the neurons per layer, e.g. ``[784, 30, 10]``. Hidden layers use
    ``activation`` (sigmoid as in the book, or ReLU); the output layer is sigmoid for the
    quadratic and cross-entropy costs and softmax for the log-likelihood (see :class:`Cost`).

    Weights start as Gaussians with standard deviation 1/√n_in (the book's
    ``default_weight_initializer``), so z starts near 0 where σ is steep and learning is fast.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        cost: str = "quadratic",
        seed: int | None = 0,
        dtype=np.float32,
    ):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2:
            raise KqvError(f"a network needs at least an input and an output layer, got {sizes}")
        if any(n <= 0 for n in sizes):
            raise KqvError(f"every layer needs at least one neuron, got {sizes}")
        if activation not in ACTIVATIONS:
            raise KqvError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation}")
        if cost not in COSTS:
            raise KqvError(f"cost must be one of {', '.join(COSTS)}, not {cost}")
        self.sizes = sizes
        self.num_layers = len(sizes)
        self.activation = activation
        self.cost = Cost(cost)
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)

        # One flat buffer holds every parameter and another every gradient; weights[i] and
        # biases[i] are views into them. This buys an SGD step of one numpy call for the
        # whole network instead of two per tensor; to the reader they are ordinary arrays.
        shapes = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
            shapes += [(n_out, n_in), (n_out, 1)]
        total = sum(r * c for r, c in shapes)
        self._both = np.zeros((2, total), dtype=self.dtype)  # parameters, gradients: one argument
        self._params, self._grads = self._both  # for the compiled step (engine.fused.digits)
        self.weights, self.biases = [], []
        self._nabla_w, self._nabla_b = [], []
        offset = 0
        for i, (r, c) in enumerate(shapes):
            view = self._params[offset : offset + r * c].reshape(r, c)
            grad = self._grads[offset : offset + r * c].reshape(r, c)
            if i % 2 == 0:
                view[...] = rng.standard_normal((r, c)) / np.sqrt(c)
                self.weights.append(view)
                self._nabla_w.append(grad)
            else:
                view[...] = rng.standard_normal((r, c))
                self.biases.append(view)
                self._nabla_b.append(grad)
            offset += r * c
        self._buffers: dict[int, list[np.ndarray]] = {}

    # -- shapes for the learner ------------------------------------------------------------

    @property
    def dims(self) -> dict[str, int]:
        """Named dimensions for symbolic shapes: n1 = 784, n2 = 30, ... (book numbering)."""
        return {f"n{i + 1}": n for i, n in enumerate(self.sizes)}

    @property
    def num_params(self) -> int:
        return int(self._params.size)

    def set_parameters(self, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> None:
        """Copy given weights and biases in (checkpoints, tests); shapes must match."""
        for mine, theirs in zip(self.weights + self.biases, list(weights) + list(biases), strict=True):
            if mine.shape != np.shape(theirs):
                raise KqvError(f"parameter of shape {np.shape(theirs)} does not fit {mine.shape}")
            mine[...] = theirs

    def _hidden(self, z):
        return sigmoid(z) if self.activation == "sigmoid" else relu(z)

    def _hidden_prime(self, z):
        return sigmoid_prime(z) if self.activation == "sigmoid" else relu_prime(z)

    def _output(self, z):
        return softmax(z) if self.cost.output == "softmax" else sigmoid(z)

    def _function_name(self, l: int) -> str:
        """The name of layer l's activation function, as the formulas write it."""
        if l == self.num_layers:
            return "softmax" if self.cost.output == "softmax" else "σ"
        return "σ" if self.activation == "sigmoid" else "relu"

    # -- the algorithm, plainly ----------------------------------------------------------------

    def feedforward(self, a):
        """Return the network's output for input ``a`` (784, m): m columns of 10 scores."""
        last = self.num_layers - 2
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            z = w @ a + b
            a = self._output(z) if i == last else self._hidden(z)
        return a

    def backprop(self, x, y):
        """The book's backprop for one example: ``x`` is (784, 1), ``y`` is (10, 1).

        Returns ``(nabla_b, nabla_w)``, lists shaped like ``biases`` and ``weights``, the
        gradient of the cost of this one example.
        """
        nabla_b = [np.zeros(b.shape, dtype=b.dtype) for b in self.biases]
        nabla_w = [np.zeros(w.shape, dtype=w.dtype) for w in self.weights]
        # feedforward, keeping every z and activation for the way back
        activation = x
        activations = [x]
        zs = []
        for i, (b, w) in enumerate(zip(self.biases, self.weights, strict=True)):
            z = np.dot(w, activation) + b
            zs.append(z)
            last = i == self.num_layers - 2
            activation = self._output(z) if last else self._hidden(z)
            activations.append(activation)
        # output error, then backpropagate it
        delta = self.cost.delta(zs[-1], activations[-1], y)
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            sp = self._hidden_prime(zs[-l])
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return nabla_b, nabla_w

    def backprop_batch(self, x, y, tracer=NO_TRACE):
        """Backprop for a whole mini-batch: ``x`` is (n1, m), ``y`` is (nL, m), columns = examples.

        The same five phases as :meth:`backprop`, with every variable recorded on ``tracer``.
        Returns ``(nabla_b, nabla_w)`` summed over the m examples, the shapes of the biases
        and weights. The traced C is the *mean* of the m costs Cₓ, so these sums are
        Σₓ ∇Cₓ = m·∇C, and the update's (η/m)·nabla is η·∇C.
        """
        L = self.num_layers
        tracer.section("input")
        tracer.record("x", x, "a1 = x", "forward", ("n1", "m"),
                      note="one image per column, pixels scaled from 0..255 to 0..1")
        tracer.record("y", y, "y", "forward", (f"n{L}", "m"),
                      note="the wanted output: a one-hot column per image")
        tracer.section("feedforward")
        a, activations, zs = x, [x], []
        for l in range(2, L + 1):
            w, b = self.weights[l - 2], self.biases[l - 2]
            tracer.record(f"w{l}", w, "parameter", "forward", (f"n{l}", f"n{l - 1}"),
                          note=f"weights into layer {l}, stored (out, in): one row per neuron")
            tracer.record(f"b{l}", b, "parameter", "forward", (f"n{l}", "1"),
                          note=f"biases of layer {l}, broadcast over the m columns")
            z = w @ a + b  # (n_l, n_{l-1}) @ (n_{l-1}, m) + (n_l, 1) -> (n_l, m)
            tracer.record(f"z{l}", z, f"z{l} = w{l} @ a{l - 1} + b{l}", "forward", (f"n{l}", "m"))
            a = self._output(z) if l == L else self._hidden(z)
            tracer.record(f"a{l}", a, f"a{l} = {self._function_name(l)}(z{l})", "forward",
                          (f"n{l}", "m"))
            zs.append(z)
            activations.append(a)
        cost = self.cost.fn(a, y) / x.shape[1]
        tracer.record("C", np.asarray(cost), f"C = {self.cost.name} cost", "forward", (),
                      note="averaged over the m images")

        tracer.section("output error")
        nabla_b = [None] * (L - 1)
        nabla_w = [None] * (L - 1)
        delta = self.cost.delta(zs[-1], a, y)  # (nL, m)
        formula = (f"delta{L} = (a{L} − y) ⊙ σ′(z{L})" if self.cost.name == "quadratic"
                   else f"delta{L} = a{L} − y")
        tracer.record(f"delta{L}", delta, formula, "backward", (f"n{L}", "m"),
                      note="column x is ∂Cₓ/∂z for that image's own cost Cₓ")
        for l in range(L, 1, -1):
            if l < L:
                tracer.section("backpropagate")
                sp = self._hidden_prime(zs[l - 2])
                delta = (self.weights[l - 1].T @ delta) * sp  # (n_l, n_{l+1}) @ (n_{l+1}, m)
                tracer.record(f"delta{l}", delta, f"delta{l} = (w{l + 1}ᵀ @ delta{l + 1}) ⊙ "
                              f"{'σ′' if self.activation == 'sigmoid' else 'relu′'}(z{l})",
                              "backward", (f"n{l}", "m"))
            tracer.section(f"gradients of layer {l}")
            nabla_b[l - 2] = delta.sum(axis=1, keepdims=True)  # (n_l, 1)
            nabla_w[l - 2] = delta @ activations[l - 2].T  # (n_l, m) @ (m, n_{l-1})
            tracer.record(f"nabla_b{l}", nabla_b[l - 2], f"Σₓ delta{l} over the m columns = m·∂C/∂b{l}",
                          "backward", (f"n{l}", "1"),
                          note="a sum over the images: m times the gradient of the mean C")
            tracer.record(f"nabla_w{l}", nabla_w[l - 2], f"delta{l} @ a{l - 1}ᵀ = Σₓ δₓ aₓᵀ = m·∂C/∂w{l}",
                          "backward", (f"n{l}", f"n{l - 1}"),
                          note="m outer products added up by one matmul")
        return nabla_b, nabla_w

    def traced_update(self, x, y, eta: float, tracer, lmbda: float = 0.0, n: int = 1) -> None:
        """One mini-batch step with every variable traced, the update phase included."""
        nabla_b, nabla_w = self.backprop_batch(x, y, tracer)
        m = x.shape[1]
        tracer.section("update")
        decay = 1 - eta * lmbda / n
        for l in range(2, self.num_layers + 1):
            w, b = self.weights[l - 2], self.biases[l - 2]
            w *= decay
            w -= (eta / m) * nabla_w[l - 2]
            b -= (eta / m) * nabla_b[l - 2]
            tracer.record(f"w{l}", w, f"w{l} ← w{l} − (η/m)·nabla_w{l} = w{l} − η·∂C/∂w{l}", "update",
                          (f"n{l}", f"n{l - 1}"))
            tracer.record(f"b{l}", b, f"b{l} ← b{l} − (η/m)·nabla_b{l} = b{l} − η·∂C/∂b{l}", "update",
                          (f"n{l}", "1"))

    # -- the algorithm, fast -------------------------------------------------------------------

    def update_mini_batch(self, x, y, eta: float, lmbda: float = 0.0, n: int = 1) -> None:
        """One step of gradient descent on the mini-batch ``x`` (n1, m), ``y`` (nL, m).

        w ← (1 − ηλ/n)·w − (η/m)·nabla_w and b ← b − (η/m)·nabla_b, the gradients being those
        :meth:`backprop_batch` returns. Two speed tricks, and what they buy at the book's
        default run (5,000 mini-batches an epoch, where numpy's per-call cost dominates):

        * everything goes into buffers allocated once per batch size, with ``out=``: no
          allocation per step;
        * the products are computed transposed, examples as rows: ``aᵀ = σ(xᵀ wᵀ + bᵀ)``.
          Same numbers; BLAS is faster with the long 784 axis innermost, and the rows of
          ``xᵀ`` are the images exactly as they are stored;
        * the forward products go ``ROWS_PER_PRODUCT`` examples at a time (see there).
        """
        m = x.shape[1]
        bufs = self._buffers.get(m)
        if bufs is None:  # activations, deltas and σ′ scratch (rows = examples), and ones
            bufs = self._buffers[m] = (*(
                [np.empty((m, n), self.dtype) for n in self.sizes[1:]] for _ in range(3)),
                np.ones((1, m), self.dtype))
        acts, deltas, scratch, ones = bufs
        L1 = self.num_layers - 1
        sigmoid_hidden = self.activation == "sigmoid"
        a = x.T  # (m, n1)
        for i in range(L1):  # feedforward; a holds the activations, z is not kept
            out = acts[i]  # (m, n_l)
            if m <= ROWS_PER_PRODUCT:  # np.dot: less overhead than @ on small arrays
                np.dot(a, self.weights[i].T, out=out)
            else:
                for r in range(0, m, ROWS_PER_PRODUCT):
                    rows = slice(r, r + ROWS_PER_PRODUCT)
                    np.dot(a[rows], self.weights[i].T, out=out[rows])
            out += self.biases[i].T
            if i < L1 - 1 and not sigmoid_hidden:
                np.maximum(out, 0, out=out)
            elif i == L1 - 1 and self.cost.output == "softmax":
                out -= out.max(axis=1, keepdims=True)
                np.exp(out, out=out)
                out /= out.sum(axis=1, keepdims=True)
            else:  # σ(z) = 1 / (1 + e⁻ᶻ), in place
                np.negative(out, out=out)
                np.exp(out, out=out)
                out += 1
                np.reciprocal(out, out=out)
            a = out
        delta = deltas[-1]  # (m, nL)
        np.subtract(a, y.T, out=delta)
        if self.cost.name == "quadratic":  # times σ′(z) = a(1 − a)
            sp = scratch[-1]
            np.subtract(1, a, out=sp)
            sp *= a
            delta *= sp
        # Scaling δᴸ by η/m scales every gradient below it, so the buffer ends up holding
        # (η/m)·∇ and the step is a single subtraction.
        delta *= eta / m
        for i in range(L1 - 1, -1, -1):  # backward: gradients straight into the flat buffer
            prev = acts[i - 1] if i > 0 else x.T
            np.dot(ones, delta, out=self._nabla_b[i].T)  # column sums, as a product with ones
            np.dot(delta.T, prev, out=self._nabla_w[i])
            if i > 0:
                new_delta = deltas[i - 1]
                np.dot(delta, self.weights[i], out=new_delta)
                if sigmoid_hidden:  # ⊙ σ′(z) = a(1 − a)
                    sp = scratch[i - 1]
                    np.subtract(1, prev, out=sp)
                    sp *= prev
                    new_delta *= sp
                else:  # ⊙ relu′(z), which is 1 where a > 0
                    new_delta *= prev > 0
                delta = new_delta
        if lmbda:
            for w in self.weights:
                w *= 1 - eta * lmbda / n
        self._params -= self._grads

    def _compiled_step(self, x, y, m: int):
        """The compiled step (:func:`engine.fused.digits.sgd_step`) bound to this network, to the
        training set ``x``, ``y`` (one-hot rows) and to scratch for mini-batches of up to ``m``:
        ``(step, coef)``, where ``step(rows)`` trains on ``x[rows]`` with the η/m and 1 − ηλ/n
        held in ``coef`` (set when they change, not at every step). None where numba cannot be
        imported.

        numba compiles (the first time on a machine) or loads from its cache (every process
        after) at the first call for these argument types; a call on no rows makes that happen
        here, before the first epoch's clock starts, rather than inside the first mini-batch."""
        from engine import fused

        if type(x) is not np.ndarray or x.dtype.kind != "f":  # (a memmap, integer pixels: numpy's step)
            return None
        sgd_step = fused.digit_step()
        if sgd_step is None:
            return None
        from engine.fused.digits import COSTS, HIDDEN

        meta = np.array([HIDDEN[self.activation], COSTS[self.cost.name], *self.sizes], dtype=np.int64)
        work = np.empty(2 * m * sum(self.sizes[1:]), self.dtype)  # every layer's a, then every δ
        coef = np.array([0.0, 1.0], self.dtype)
        # the one call a mini-batch costs in Python: a partial, as no Python function is faster
        step = functools.partial(sgd_step, x, y, self._both, meta, work, coef)
        step(np.empty(0, np.int64))  # changes nothing
        return step, coef

    def SGD(
        self,
        training_data,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        lmbda: float = 0.0,
        seed: int | None = 0,
        schedule: str = "constant",
        validation_data=None,
        test_data=None,
        on_batch: Callable[[int, int], None] | None = None,
        on_epoch: Callable[[EpochResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        compiled: bool = True,
    ) -> list[EpochResult]:
        """Train with mini-batch stochastic gradient descent.

        Data sets are ``(x, y)`` pairs with examples as rows: ``x`` (N, 784) and labels ``y``
        (N,) as digits. Rows are cheap to gather, and ``x[idx].T`` is the (784, m) column
        matrix the maths wants, without a copy. Each epoch shuffles by index once.
        ``on_batch(done, total)`` and ``on_epoch(result)`` report progress; ``should_stop()``
        is checked after every mini-batch (Ctrl-C sets it): training then ends at once, and the
        unfinished epoch is neither reported nor counted.
        Each step is :func:`engine.fused.digits.sgd_step`, the step of :meth:`update_mini_batch`
        compiled whole (one call a mini-batch, reading the images where they lie), where numba
        loads and ``compiled`` is left True; else :meth:`update_mini_batch` itself.
        Raises :class:`TrainingDiverged` when the cost turns NaN or infinite.
        """
        x_train, labels = training_data
        check_sgd_settings(epochs, mini_batch_size, eta, lmbda, schedule)
        if np.ndim(x_train) != 2 or np.shape(x_train)[1] != self.sizes[0]:
            raise KqvError(f"the training images are {np.shape(x_train)}: the network wants rows of "
                           f"{self.sizes[0]} numbers, one row an image")
        n = len(x_train)
        y_train = one_hot(labels, self.sizes[-1], self.dtype)
        rng = np.random.default_rng(seed)
        results: list[EpochResult] = []
        batches = (n + mini_batch_size - 1) // mini_batch_size
        m = min(mini_batch_size, n)  # a mini-batch never holds more than the data
        compiled = self._compiled_step(x_train, y_train, m) if compiled else None
        if compiled is None:
            xb = np.empty((m, self.sizes[0]), x_train.dtype)  # np.take cannot cast
            yb = np.empty((m, self.sizes[-1]), self.dtype)
        # σ's e⁻ᶻ may overflow to inf (1/inf is the right 0); a diverging run is caught below
        with np.errstate(over="ignore", invalid="ignore"):
            for epoch in range(1, epochs + 1):
                epoch_eta = eta_for_epoch(eta, epoch, epochs, schedule)
                start = time.perf_counter()
                order = rng.permutation(n)
                if compiled is not None:
                    step, coef = compiled
                    coef[:] = epoch_eta / m, 1 - epoch_eta * lmbda / n  # η/m, the decay
                for k in range(batches):
                    idx = order[k * mini_batch_size : (k + 1) * mini_batch_size]
                    if compiled is not None:
                        if len(idx) != m:  # the last, shorter mini-batch: η/m with its own m
                            coef[0] = epoch_eta / len(idx)
                        step(idx)
                    elif len(idx) == m:  # gathered into buffers allocated once
                        np.take(x_train, idx, axis=0, out=xb)
                        np.take(y_train, idx, axis=0, out=yb)
                        self.update_mini_batch(xb.T, yb.T, epoch_eta, lmbda, n)
                    else:  # the last, shorter mini-batch
                        self.update_mini_batch(x_train[idx].T, y_train[idx].T, epoch_eta, lmbda, n)
                    if on_batch is not None:
                        on_batch(k + 1, batches)
                    if should_stop is not None and should_stop():
                        return results  # an unfinished epoch is not reported as one
                    if k % 1000 == 999 and not np.isfinite(self._params.sum()):
                        break  # diverged: no use finishing the epoch; reported just below
                seconds = time.perf_counter() - start
                cost = self.total_cost(x_train, y_train, lmbda)
                if not np.isfinite(cost):
                    raise TrainingDiverged(
                        f"the training cost became {cost} in epoch {epoch}: the steps are too big; "
                        f"try a smaller --eta than {eta:g}"
                    )
                result = EpochResult(
                    epoch=epoch,
                    eta=epoch_eta,
                    seconds=seconds,
                    train_cost=cost,
                    validation_correct=self.evaluate(*validation_data) if validation_data else None,
                    validation_total=len(validation_data[0]) if validation_data else 0,
                    test_correct=self.evaluate(*test_data) if test_data else None,
                    test_total=len(test_data[0]) if test_data else 0,
                )
                results.append(result)
                if on_epoch is not None:
                    on_epoch(result)
        return results

    def evaluate(self, x, labels) -> int:
        """How many of the examples (rows of ``x``) the network classifies right."""
        return int(np.sum(self.predict(x) == labels))

    def predict(self, x, chunk: int = 10_000) -> np.ndarray:
        """The digit each row of ``x`` is most likely to be."""
        out = [np.argmax(self.feedforward(x[i : i + chunk].T), axis=0)
               for i in range(0, len(x), chunk)]
        return np.concatenate(out) if out else np.empty(0, dtype=np.int64)

    def total_cost(self, x, y_onehot, lmbda: float = 0.0, chunk: int = 10_000) -> float:
        """Mean cost over the rows of ``x``, plus the L2 term λ/(2n)·Σw²."""
        n = len(x)
        with np.errstate(over="ignore", invalid="ignore"):
            c = sum(self.cost.fn(self.feedforward(x[i : i + chunk].T), y_onehot[i : i + chunk].T)
                    for i in range(0, n, chunk))
            c /= n
            c += 0.5 * (lmbda / n) * sum(float(np.sum(w.astype(np.float64) ** 2))
                                         for w in self.weights)
        return float(c)

    # -- checkpoints ---------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for l, (w, b) in enumerate(zip(self.weights, self.biases, strict=True), start=2):
            out[f"w{l}"] = w.copy()
            out[f"b{l}"] = b.copy()
        return out

    def meta(self) -> dict:
        return {"kind": "digits", "sizes": self.sizes, "activation": self.activation,
                "cost": self.cost.name, "output": self.cost.output}


def one_hot(labels, classes: int = 10, dtype=np.float32) -> np.ndarray:
    """Digits (N,) -> rows (N, classes) with a 1 in the digit's place."""
    labels = np.asarray(labels)
    out = np.zeros((len(labels), classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def save_network(net: Network, path, extra: dict | None = None):
    from engine.files.checkpoint import save_checkpoint

    return save_checkpoint(path, net.to_arrays(), {**net.meta(), **(extra or {})})


def saved_cost(meta: dict) -> str:
    """The cost a checkpoint's network was trained with, in today's names.

    Checkpoints written before kqv named its costs as the book does carry no ``output`` key, and
    their "cross-entropy" meant softmax outputs with −ln a_y: today's "log-likelihood". They
    load as that, so the network computes what it computed when it was saved, never silently
    switching to sigmoid outputs.
    """
    cost = meta.get("cost", "quadratic")
    if cost == "cross-entropy" and "output" not in meta:
        return "log-likelihood"
    return cost


def check_stored_sizes(path, sizes, arrays: dict) -> None:
    """A checkpoint's ``sizes`` are whole numbers that fit in memory, and its arrays have the shapes
    they imply: checked before a network is built from them (a crafted ``[784, 3000000, 10]``
    would otherwise allocate gigabytes)."""
    from engine.runtime.memory import check_fits, digits_memory

    if not (isinstance(sizes, list) and len(sizes) >= 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes)):
        raise KqvError(f"{path} is a damaged digits checkpoint: its sizes {str(sizes)[:60]} are not a list "
                       "of two or more positive whole numbers")
    check_fits(digits_memory(sizes, 1, 0, training=False), f"the network in {path}",
               "it is larger than this machine can hold")
    for l in range(2, len(sizes) + 1):
        for name, shape in ((f"w{l}", (sizes[l - 1], sizes[l - 2])), (f"b{l}", (sizes[l - 1], 1))):
            if name not in arrays:
                raise KqvError(f"{path} is a damaged digits checkpoint (it lacks {name})")
            if arrays[name].shape != shape:
                raise KqvError(f"{path}: its arrays disagree with its sizes {sizes} ({name} is "
                               f"{arrays[name].shape}, the sizes need {shape})")


def load_network(path, dtype=np.float32) -> tuple[Network, dict]:
    """Load a digit-net checkpoint; refuse one whose arrays disagree with its sizes.

    The returned metadata names the cost in today's words (:func:`saved_cost`); when that
    differs from what the file says, ``cost_saved_as`` keeps the file's word.
    """
    from engine.files.checkpoint import load_checkpoint

    arrays, meta = load_checkpoint(path, kind="digits")
    check_stored_sizes(path, meta.get("sizes"), arrays)
    cost = saved_cost(meta)
    if cost != meta.get("cost", "quadratic"):
        meta = {**meta, "cost": cost, "cost_saved_as": meta["cost"]}
    try:
        net = Network(meta["sizes"], meta.get("activation", "sigmoid"), cost, seed=None, dtype=dtype)
        L = net.num_layers
        weights = [arrays[f"w{l}"] for l in range(2, L + 1)]
        biases = [arrays[f"b{l}"] for l in range(2, L + 1)]
    except (KeyError, TypeError) as exc:
        raise KqvError(f"{path} is a damaged digits checkpoint (missing {exc})") from exc
    try:
        net.set_parameters(weights, biases)
    except KqvError as exc:
        raise KqvError(f"{path}: its arrays disagree with its sizes {meta['sizes']} ({exc})") from exc
    return net, meta
