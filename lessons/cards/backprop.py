"""Questions about Nielsen's digit network, generated from a traced ``backprop_batch`` run.

Each builder draws layer sizes for the learner's level, runs the real network on a random
mini-batch with a :class:`~engine.trace.Tracer`, and asks about one recorded variable. The
answer is the recorded shape (or its recorded letters); parameter counts are the sizes of the
network's own arrays. Difficulty: level 0 is a small three-layer net with one example
(m = 1), level 1 adds mini-batches and the book's 784-30-10 net, level 2 deeper nets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.digits.network import Network
from engine.trace import Record, Tracer, format_shape
from lessons.cards.question import (
    Draw,
    Operand,
    Question,
    apply,
    both,
    matmul_line,
    matmul_sym,
    proof_line,
    shape_question,
    show,
    works_question,
)

TOPIC = "backprop"
CONVENTION = ("Conventions: layer 1 is the input (the book's numbering); weights are stored (out, in); "
              "examples are columns.")
BOOK_NETS = ((784, 30, 10), (784, 100, 10))


@dataclass
class DigitRun:
    """A network, the mini-batch it ran on, and the trace of that run."""

    net: Network
    m: int
    trace: Tracer

    @property
    def sizes(self) -> list[int]:
        return self.net.sizes

    @property
    def L(self) -> int:
        return self.net.num_layers

    @property
    def dims(self) -> dict[str, int]:
        return dict(self.trace.dims)

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(self.trace.dims)

    derived = {}  # no letter here is defined by others

    def setting(self) -> str:
        names = ", ".join(f"n{i + 1}={n}" for i, n in enumerate(self.sizes))
        batch = ("one example as a column (m=1)" if self.m == 1
                 else f"a mini-batch of m={self.m} examples as columns")
        net = "-".join(str(n) for n in self.sizes)
        return f"A {net} net ({names}) runs backprop on {batch}."

    def act(self, l: int) -> Record:
        """The activation of layer l; layer 1's is the input x."""
        return self.trace["x"] if l == 1 else self.trace[f"a{l}"]

    def act_name(self, l: int) -> str:
        return "a1 (= x)" if l == 1 else f"a{l}"


def _draw_sizes(draw: Draw, strict: bool) -> tuple[list[int], int]:
    """Layer sizes and mini-batch size for the level, all different so no two can be confused.

    ``strict`` keeps m above 1, so a broadcast that works with numbers also works in letters.
    """
    if "sizes" in draw.fixed:
        return list(draw.fixed["sizes"]), int(draw.fixed.get("m", 10))
    rng = draw.rng
    if draw.level >= 1 and draw.chance(0.25):
        sizes = list(draw.pick(BOOK_NETS[:1] if draw.level == 1 else BOOK_NETS))
        batches = [m for m in (10, 20, 32) if not (strict and m in sizes)]  # the book's m=10 is n3
        return sizes, int(draw.pick(batches))
    layers, top, batch = {0: (3, 10, (1, 2)), 1: (3, 40, (2, 17))}.get(draw.level, (4, 64, (2, 33)))
    if draw.level >= 2:
        layers = int(rng.integers(3, 6))
    if draw.level == 0 and not strict:
        batch = (1, 2)
    elif strict:
        batch = (2, max(batch[1], 9))
    while True:
        sizes = [int(n) for n in rng.choice(np.arange(2, top), size=layers, replace=False)]
        m = int(rng.integers(*batch))
        if m not in sizes:
            return sizes, m


def run_digits(draw: Draw) -> DigitRun:
    """Build a net for the level and run one traced backprop on a random mini-batch."""
    sizes, m = _draw_sizes(draw, draw.symbolic)
    net = Network(sizes, seed=int(draw.rng.integers(2**31)), dtype=np.float64)
    x = draw.rng.random((sizes[0], m))
    y = np.zeros((sizes[-1], m))
    y[draw.rng.integers(sizes[-1], size=m), np.arange(m)] = 1
    tracer = Tracer(dims={**net.dims, "m": m})
    net.backprop_batch(x, y, tracer)
    return DigitRun(net, m, tracer)


def _shape_question(card_id: str, draw: Draw, run: DigitRun, record: Record, ask: str,
                    hints: tuple[str, str], derivation: list[str], proof: list[Record]) -> Question:
    return shape_question(card_id, TOPIC, CONVENTION, draw, run, record, ask, hints, derivation, proof)


def _works_question(card_id: str, draw: Draw, run: DigitRun, op: str, a: Operand, b: Operand, ask: str,
                    proof: list[Record], notes: list[str] = ()) -> Question:
    return works_question(card_id, TOPIC, CONVENTION, draw, run, op, a, b, ask, proof, tuple(notes))


# -- the cards -----------------------------------------------------------------------------


def weight_shape(draw: Draw) -> Question:
    run = run_digits(draw)
    l = int(draw.rng.integers(2, run.L + 1))
    w = run.trace[f"w{l}"]
    n_out, n_in = run.sizes[l - 1], run.sizes[l - 2]
    return _shape_question(
        "backprop.weight_shape", draw, run, w,
        f"What is the shape of w{l}, the weights into layer {l}?",
        (f"w{l} has one row per neuron of layer {l} and one column per neuron of layer {l - 1} "
         "(stored (out, in)).",
         f"layer {l} has n{l} = {n_out} neurons; layer {l - 1} has n{l - 1} = {n_in}."),
        [f"w{l} is (out, in) = {both(w.symbolic, w.shape)}",
         f"so z{l} = w{l} @ a{l - 1} takes a column of layer {l - 1} ({n_in} numbers) "
         f"to a column of layer {l} ({n_out} numbers)"],
        [],
    )


def z_shape(draw: Draw) -> Question:
    run = run_digits(draw)
    l = int(draw.rng.integers(2, run.L + 1))
    w, b, a_prev = run.trace[f"w{l}"], run.trace[f"b{l}"], run.act(l - 1)
    z = run.trace[f"z{l}"]
    ops = (Operand.of(w), Operand.of(a_prev, label=f"a{l - 1}"))
    derivation = [matmul_line(*ops),
                  f"+ b{l} {both(b.symbolic, b.shape)}: the bias column is added to each of the "
                  f"m columns → {both(z.symbolic, z.shape)}"]
    hints = (f"z{l} = w{l} @ a{l - 1} + b{l}: a matrix product, then the bias added to every column.",
             f"{ops[0].described()}; {run.act_name(l - 1)} is {both(a_prev.symbolic, a_prev.shape)}; "
             f"b{l} is {both(b.symbolic, b.shape)}.")
    if draw.chance(0.35):  # the activation: same question one step on
        a = run.trace[f"a{l}"]
        derivation.append(f"{a.formula} acts element by element, so a{l} keeps z{l}'s shape "
                          f"{both(a.symbolic, a.shape)}")
        return _shape_question("backprop.z_shape", draw, run, a,
                               f"What is the shape of the activation a{l}?",
                               (f"a{l} = σ(z{l}) element by element, and z{l} = w{l} @ a{l - 1} + b{l}.",
                                hints[1]), derivation, [w, a_prev, z])
    return _shape_question("backprop.z_shape", draw, run, z,
                           f"What is the shape of z{l} = w{l} @ a{l - 1} + b{l}?",
                           hints, derivation, [w, a_prev])


def delta_shape(draw: Draw) -> Question:
    run = run_digits(draw)
    L = run.L
    l = int(draw.rng.integers(2, L + 1))
    delta, z = run.trace[f"delta{l}"], run.trace[f"z{l}"]
    if l == L:
        a, y = run.trace[f"a{L}"], run.trace["y"]
        hints = (f"the output error {delta.formula}: element by element.",
                 f"a{L} is {both(a.symbolic, a.shape)}, y is {both(y.symbolic, y.shape)}, "
                 f"z{L} is {both(z.symbolic, z.shape)}.")
        derivation = [f"{delta.formula}: every operation is element by element",
                      f"so delta{L} has the shape of a{L} and z{L}: {both(delta.symbolic, delta.shape)}"]
        proof = [a, y]
    else:
        ops = (Operand.of(run.trace[f"w{l + 1}"], transposed=True), Operand.of(run.trace[f"delta{l + 1}"]))
        hints = (f"{delta.formula}: the error goes back through the transposed weights, "
                 "then is scaled element by element.",
                 f"{ops[0].described()}; {ops[1].described()}; z{l} is {both(z.symbolic, z.shape)}.")
        derivation = [matmul_line(*ops),
                      f"⊙ σ′(z{l}) {both(z.symbolic, z.shape)}: element by element, no change of shape"]
        proof = [ops[0].record, ops[1].record]
    derivation.append(f"delta{l} always has the shape of z{l}: one error per neuron per example")
    return _shape_question("backprop.delta_shape", draw, run, delta,
                           f"What is the shape of the error delta{l} (δ{_sup(l)})?",
                           hints, derivation, proof)


def nabla_b_shape(draw: Draw) -> Question:
    run = run_digits(draw)
    l = int(draw.rng.integers(2, run.L + 1))
    nb, delta, b = run.trace[f"nabla_b{l}"], run.trace[f"delta{l}"], run.trace[f"b{l}"]
    return _shape_question(
        "backprop.nabla_b_shape", draw, run, nb,
        f"What is the shape of nabla_b{l}, the gradient of the cost with respect to b{l}, "
        "summed over the mini-batch?",
        (f"nabla_b{l} is delta{l} summed over the m examples (the columns)" +
         (", here a single one." if run.m == 1 else "."),
         f"delta{l} is {both(delta.symbolic, delta.shape)}; b{l} is {both(b.symbolic, b.shape)}."),
        [f"delta{l}.sum(axis=1, keepdims=True): {both(delta.symbolic, delta.shape)} → "
         f"{both(nb.symbolic, nb.shape)}",
         f"the shape of b{l}: a gradient has the shape of what it differentiates, "
         f"so b{l} − (η/m)·nabla_b{l} lines up entry by entry"],
        [delta],
    )


def nabla_w_shape(draw: Draw) -> Question:
    run = run_digits(draw)
    l = int(draw.rng.integers(2, run.L + 1))
    nw, w = run.trace[f"nabla_w{l}"], run.trace[f"w{l}"]
    ops = (Operand.of(run.trace[f"delta{l}"]), Operand.of(run.act(l - 1), label=f"a{l - 1}ᵀ",
                                                          transposed=True))
    return _shape_question(
        "backprop.nabla_w_shape", draw, run, nw,
        f"What is the shape of nabla_w{l}, the gradient of the cost with respect to w{l}?",
        (f"nabla_w{l} = delta{l} @ a{l - 1}ᵀ: each error times the activation that fed it.",
         f"{ops[0].described()}; {ops[1].described()}."),
        [matmul_line(*ops),
         ("with m = 1 there is one example, one outer product" if run.m == 1 else
          f"the product adds up m = {run.m} outer products, one per example")
         + f", and what is left is w{l}'s shape "
         f"{both(w.symbolic, w.shape)}: a gradient has the shape of what it differentiates, "
         f"so w{l} − (η/m)·nabla_w{l} subtracts entry by entry"],
        [ops[0].record, ops[1].record, w],
    )


def bias_broadcast(draw: Draw) -> Question:
    run = run_digits(draw)
    l = int(draw.rng.integers(2, run.L + 1))
    w, b, a_prev = run.trace[f"w{l}"], run.trace[f"b{l}"], run.act(l - 1)
    product = Operand(f"w{l} @ a{l - 1}", w.value @ a_prev.value,
                      matmul_sym(w.symbolic, a_prev.symbolic))
    column = b.symbolic[0]
    variants = [
        (Operand(f"b{l}", b.value, b.symbolic, b), "the bias column b{l}"),
        (Operand(f"b{l}.ravel()", b.value.ravel(), (column,), b), "the bias flattened to 1-D, b{l}.ravel()"),
        (Operand(f"b{l}ᵀ", b.value.T, ("1", column), b), "the bias as a row, b{l}ᵀ"),
    ]
    bias, described = variants[0] if draw.chance(0.5) else draw.pick(variants[1:])
    shape, _ = apply("+", product, bias)
    if bias is variants[0][0]:
        notes = [f"right: the bias column's size-1 axis is stretched over the m columns, so neuron j's "
                 f"bias is added to row j of every image: z{l} keeps the shape of w{l} @ a{l - 1}"]
    elif shape is None:
        notes = []
    elif shape != product.shape:
        notes = [f"no error, but silently wrong: both operands were stretched, and z{l} comes out "
                 f"{format_shape(shape)} instead of {format_shape(product.shape)}; only the column "
                 f"b{l} (one bias per row) adds the bias to every image"]
    else:
        notes = [f"the shape comes out right, but the values are silently wrong: the bias runs along "
                 f"the last axis, so b{l}[j] is added to column j (image j), not to row j (neuron j); "
                 f"this happens because m equals {column} here"]
    return _works_question(
        "backprop.bias_broadcast", draw, run, "+", product, bias,
        f"{product.label} gives {show(product.symbolic if draw.symbolic else product.shape)}. "
        f"What shape does numpy produce for {product.label} + {bias.label}, where {bias.label} is "
        f"{described.format(l=l)} of shape {show(bias.symbolic if draw.symbolic else bias.shape)}?",
        [w, a_prev], notes,
    )


def matmul_check(draw: Draw) -> Question:
    run = run_digits(draw)
    L = run.L
    l = int(draw.rng.integers(2, L + 1))
    w, a_prev, delta = run.trace[f"w{l}"], run.act(l - 1), run.trace[f"delta{l}"]
    a_label = f"a{l - 1}"
    pairs = [
        (Operand.of(w), Operand.of(a_prev, a_label)),
        (Operand.of(a_prev, a_label), Operand.of(w)),
        (Operand.of(w, transposed=True), Operand.of(a_prev, a_label)),
        (Operand.of(delta), Operand.of(a_prev, a_label + "ᵀ", transposed=True)),
        (Operand.of(delta), Operand.of(a_prev, a_label)),
        (Operand.of(a_prev, a_label + "ᵀ", transposed=True), Operand.of(delta)),
    ]
    if l < L:
        w_next, d_next = run.trace[f"w{l + 1}"], run.trace[f"delta{l + 1}"]
        pairs += [(Operand.of(w_next, transposed=True), Operand.of(d_next)),
                  (Operand.of(w_next), Operand.of(d_next))]
    works = [p for p in pairs if apply("@", *p)[0] is not None]
    fails = [p for p in pairs if apply("@", *p)[0] is None]
    a, b = draw.pick(works if (draw.chance(0.5) or not fails) else fails)
    return _works_question("backprop.matmul_check", draw, run, "@", a, b,
                           f"Will {a.label} @ {b.label} work, and what shape comes out?", [])


def param_count(draw: Draw) -> Question:
    """Parameters of one layer (level 0) or of the whole net: sizes of the network's arrays."""
    run = run_digits(draw)
    net = run.net
    arrays = net.to_arrays()  # {"w2": ..., "b2": ..., ...}: the network's own parameters
    whole = draw.level >= 1 or "sizes" in draw.fixed
    if whole:
        names = list(arrays)
        ask = f"How many parameters (weights and biases) does the {'-'.join(map(str, run.sizes))} net have?"
    else:
        l = int(draw.rng.integers(2, run.L + 1))
        names = [f"w{l}", f"b{l}"]
        ask = f"How many parameters (weights and biases) does layer {l} have?"
    total = int(sum(arrays[n].size for n in names))
    lines = [f"{n}: {' × '.join(map(str, arrays[n].shape))} = {arrays[n].size:,}" for n in names]
    lines.append(f"total: {total:,}")
    return Question(
        card_id="backprop.param_count", topic=TOPIC, level=draw.level, setting=run.setting(),
        ask=ask + " Answer with a number.", convention=CONVENTION, kind="count", answer=total,
        letters=run.letters,
        hints=("each layer l has a weight matrix w(l) of n(l) × n(l−1) entries and one bias per neuron.",
               "; ".join(f"{n} is {format_shape(arrays[n].shape)}" for n in names) + "."),
        derivation=tuple(lines),
        proof=tuple(proof_line(run.trace[n]) for n in names if n in run.trace),
        dims=run.dims, subject=",".join(names), evidence={"arrays": {n: arrays[n] for n in names}},
    )


def _sup(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


# (card id, title, builder) in teaching order: a new learner meets them top to bottom
CARDS = (
    ("backprop.weight_shape", "shape of a weight matrix w", weight_shape),
    ("backprop.z_shape", "shape of z = w @ a + b (and a = σ(z))", z_shape),
    ("backprop.bias_broadcast", "adding the bias: broadcasting", bias_broadcast),
    ("backprop.delta_shape", "shape of the error delta", delta_shape),
    ("backprop.nabla_b_shape", "shape of nabla_b", nabla_b_shape),
    ("backprop.nabla_w_shape", "shape of nabla_w, and why it is w's", nabla_w_shape),
    ("backprop.matmul_check", "will this multiply work?", matmul_check),
    ("backprop.param_count", "counting parameters", param_count),
)
