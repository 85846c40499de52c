"""The digit net: gradients against numerical ones, and the three code paths agreeing."""

import numpy as np
import pytest

from engine.digits.network import Network, load_network, one_hot, save_network
from engine.errors import KqvError
from engine.trace import Tracer

CONFIGS = [(a, c) for a in ("sigmoid", "relu") for c in ("quadratic", "cross-entropy", "log-likelihood")]


def _batch(sizes, m, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((sizes[0], m))
    y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1], np.float64).T
    return x, y


def _cost(net, x, y):
    return net.cost.fn(net.feedforward(x), y)


@pytest.mark.parametrize("activation,cost", CONFIGS)
def test_backprop_matches_numerical_gradient(activation, cost):
    net = Network([5, 4, 3], activation=activation, cost=cost, seed=3, dtype=np.float64)
    x, y = _batch(net.sizes, 6)
    nabla_b, nabla_w = net.backprop_batch(x, y)
    eps = 1e-6
    for params, grads in ((net.weights, nabla_w), (net.biases, nabla_b)):
        for p, g in zip(params, grads, strict=True):
            numeric = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = _cost(net, x, y)
                p[idx] = old - eps
                down = _cost(net, x, y)
                p[idx] = old
                numeric[idx] = (up - down) / (2 * eps)
            rel = np.abs(g - numeric).max() / max(np.abs(g).max() + np.abs(numeric).max(), 1e-12)
            assert rel < 1e-6, (activation, cost, p.shape, rel)


@pytest.mark.parametrize("activation,cost", CONFIGS)
def test_matrix_backprop_equals_sum_of_per_example(activation, cost):
    net = Network([6, 5, 4, 3], activation=activation, cost=cost, seed=1, dtype=np.float64)
    x, y = _batch(net.sizes, 7)
    nabla_b, nabla_w = net.backprop_batch(x, y)
    for j in range(7):
        b_j, w_j = net.backprop(x[:, j : j + 1], y[:, j : j + 1])
        for total, one in zip(nabla_b + nabla_w, b_j + w_j, strict=True):
            total -= one
    for rest in nabla_b + nabla_w:
        np.testing.assert_allclose(rest, 0, atol=1e-12)


@pytest.mark.parametrize("m", [4, 60])  # 60: the forward products go in pieces of 25, 25, 10
@pytest.mark.parametrize("activation,cost", CONFIGS)
def test_fast_update_equals_traced_update(activation, cost, m):
    fast = Network([6, 5, 3], activation=activation, cost=cost, seed=2, dtype=np.float64)
    plain = Network([6, 5, 3], activation=activation, cost=cost, seed=2, dtype=np.float64)
    x, y = _batch(fast.sizes, m)
    fast.update_mini_batch(x, y, eta=0.7, lmbda=0.3, n=50)
    plain.traced_update(x, y, eta=0.7, tracer=Tracer(), lmbda=0.3, n=50)
    for a, b in zip(fast.weights + fast.biases, plain.weights + plain.biases, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)


def _book_update(weights, biases, x, y, cost, eta, lmbda, n):
    """One SGD step of a sigmoid net, written from the book's formulas in float64 and nothing
    of engine.digits.network: the output error is the chain rule ∂C/∂a through the output layer's
    derivative, not the a − y that the engine's cancellation claims."""
    a, activations, zs = x, [x], []
    for l, (w, b) in enumerate(zip(weights, biases, strict=True)):
        z = w @ a + b
        if l == len(weights) - 1 and cost == "log-likelihood":
            a = np.exp(z - z.max(axis=0)) / np.exp(z - z.max(axis=0)).sum(axis=0)  # softmax
        else:
            a = 1 / (1 + np.exp(-z))
        zs.append(z)
        activations.append(a)
    if cost == "quadratic":  # C = ½‖y − a‖²
        C = 0.5 * np.sum((a - y) ** 2)
        dC_da = a - y
    elif cost == "cross-entropy":  # C = −Σ[y ln a + (1 − y) ln(1 − a)]
        C = -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))
        dC_da = -y / a + (1 - y) / (1 - a)
    else:  # C = −ln a_y
        C = -np.sum(np.log(a[y == 1]))
        dC_da = np.where(y == 1, -1 / a, 0.0)
    if cost == "log-likelihood":  # softmax's Jacobian ∂a_i/∂z_j = a_i(δ_ij − a_j), per column
        delta = np.stack([(np.diag(a[:, j]) - np.outer(a[:, j], a[:, j])) @ dC_da[:, j]
                          for j in range(a.shape[1])], axis=1)
    else:
        delta = dC_da * a * (1 - a)  # σ′(z) = a(1 − a)
    nabla_w, nabla_b = [None] * len(weights), [None] * len(weights)
    for l in range(len(weights) - 1, -1, -1):
        nabla_w[l] = delta @ activations[l].T
        nabla_b[l] = delta.sum(axis=1, keepdims=True)
        if l:
            h = activations[l]
            delta = (weights[l].T @ delta) * h * (1 - h)
    m = x.shape[1]
    new_w = [(1 - eta * lmbda / n) * w - (eta / m) * g for w, g in zip(weights, nabla_w, strict=True)]
    new_b = [b - (eta / m) * g for b, g in zip(biases, nabla_b, strict=True)]
    return C, nabla_w, nabla_b, new_w, new_b


@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
def test_one_update_of_each_cost_matches_the_books_formulas(cost):
    net = Network([6, 5, 4], cost=cost, seed=4, dtype=np.float64)
    x, y = _batch(net.sizes, 7, seed=2)
    x = x * 6 - 3  # some saturated outputs, where the costs part ways
    w0, b0 = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    C, nabla_w, nabla_b, new_w, new_b = _book_update(w0, b0, x, y, cost, eta=0.9, lmbda=2.0, n=40)
    assert net.cost.fn(net.feedforward(x), y) == pytest.approx(C, rel=1e-12)
    ours_b, ours_w = net.backprop_batch(x, y)
    for ours, book in zip(ours_w + ours_b, nabla_w + nabla_b, strict=True):
        np.testing.assert_allclose(ours, book, rtol=0, atol=1e-12)
    for update in ("fast", "compiled", "traced"):
        twin = Network([6, 5, 4], cost=cost, seed=4, dtype=np.float64)
        if update == "fast":
            twin.update_mini_batch(x, y, eta=0.9, lmbda=2.0, n=40)
        elif update == "compiled":  # SGD's step: one mini-batch of all 7, λ/n as 2.0/40 = 0.35/7
            pytest.importorskip("numba")
            twin.SGD((x.T.copy(), y.argmax(axis=0)), 1, 7, 0.9, lmbda=0.35)
        else:
            twin.traced_update(x, y, eta=0.9, tracer=Tracer(), lmbda=2.0, n=40)
        for ours, book in zip(twin.weights + twin.biases, new_w + new_b, strict=True):
            np.testing.assert_allclose(ours, book, rtol=0, atol=1e-12)


def test_each_cost_has_the_output_layer_the_book_pairs_it_with():
    x, _ = _batch([6, 5, 4], 3)
    outputs = {c: Network([6, 5, 4], cost=c, seed=0, dtype=np.float64).feedforward(x)
               for c in ("quadratic", "cross-entropy", "log-likelihood")}
    np.testing.assert_array_equal(outputs["quadratic"], outputs["cross-entropy"])  # both σ
    np.testing.assert_allclose(outputs["log-likelihood"].sum(axis=0), 1.0)  # softmax columns
    assert not np.allclose(outputs["cross-entropy"].sum(axis=0), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_trains_at_either_dtype_on_float32_images(dtype):
    rng = np.random.default_rng(1)
    x = rng.random((35, 6)).astype(np.float32)  # the loader's images are float32
    labels = rng.integers(0, 3, 35)
    net = Network([6, 5, 3], cost="cross-entropy", seed=0, dtype=dtype)
    wide = Network([6, 5, 3], cost="cross-entropy", seed=0, dtype=np.float64)
    # 35 images at mini-batch 10: three gathered batches and a shorter last one
    net.SGD((x, labels), epochs=2, mini_batch_size=10, eta=0.5, lmbda=0.1)
    wide.SGD((x.astype(np.float64), labels), epochs=2, mini_batch_size=10, eta=0.5, lmbda=0.1)
    assert net._params.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(net._params, wide._params, rtol=0, atol=tol)


def test_trace_names_and_shapes_follow_the_book():
    net = Network([784, 30, 10], seed=0)
    m = 10
    x, y = _batch(net.sizes, m)
    tracer = Tracer(dims={**net.dims, "m": m})
    net.traced_update(x.astype(np.float32), y.astype(np.float32), 3.0, tracer)
    assert tracer.mismatches() == []
    expected = {
        "x": (784, 10), "w2": (30, 784), "b2": (30, 1), "z2": (30, 10), "a2": (30, 10),
        "w3": (10, 30), "z3": (10, 10), "a3": (10, 10), "delta3": (10, 10), "delta2": (30, 10),
        "nabla_w3": (10, 30), "nabla_b3": (10, 1), "nabla_w2": (30, 784), "nabla_b2": (30, 1),
    }
    for name, shape in expected.items():
        assert tracer[name].shape == shape, name
    # a gradient has the shape of what it differentiates
    assert tracer["nabla_w2"].shape == tracer["w2"].shape
    phases = {r.phase for r in tracer}
    assert phases == {"forward", "backward", "update"}
    assert tracer["z2"].source.startswith("engine/digits/network.py:")


def test_training_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    centres = rng.random((3, 8)) * 4
    labels = rng.integers(0, 3, 600)
    x = (centres[labels] + rng.normal(0, 0.3, (600, 8))).astype(np.float32)
    net = Network([8, 10, 3], seed=0)
    before = net.evaluate(x, labels)
    results = net.SGD((x, labels), epochs=5, mini_batch_size=10, eta=3.0, test_data=(x, labels))
    assert results[-1].test_correct > max(before, 550)
    assert results[-1].train_cost < results[0].train_cost


def test_exploding_eta_is_reported_not_hidden():
    from engine.errors import TrainingDiverged

    rng = np.random.default_rng(0)
    x = rng.random((100, 4)).astype(np.float32) * 100  # eta 1e20 overflows float32
    labels = rng.integers(0, 2, 100)
    net = Network([4, 5, 2], activation="relu", cost="cross-entropy", seed=0)
    with pytest.raises(TrainingDiverged, match="--eta"):
        net.SGD((x, labels), epochs=3, mini_batch_size=10, eta=1e20)


@pytest.mark.parametrize("sizes", [[784], [784, 0, 10], [784, -3, 10]])
def test_bad_sizes_are_refused(sizes):
    with pytest.raises(KqvError):
        Network(sizes)


def test_checkpoint_round_trip(tmp_path):
    net = Network([6, 4, 3], activation="relu", cost="cross-entropy", seed=5)
    path = save_network(net, tmp_path / "net.npz", {"epochs": 2})
    loaded, meta = load_network(path)
    assert meta["epochs"] == 2 and loaded.sizes == [6, 4, 3] and loaded.activation == "relu"
    for a, b in zip(net.weights + net.biases, loaded.weights + loaded.biases, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_checkpoint_keeps_its_cost_and_an_old_cross_entropy_one_keeps_its_softmax(tmp_path):
    from engine.files.checkpoint import save_checkpoint

    x, _ = _batch([6, 4, 3], 5)
    book = Network([6, 4, 3], cost="cross-entropy", seed=5)
    loaded, meta = load_network(save_network(book, tmp_path / "book.npz"))
    assert loaded.cost.name == "cross-entropy" and "cost_saved_as" not in meta
    # an older kqv wrote "cross-entropy" for softmax outputs with −ln a_y, and no "output" key
    softmax = Network([6, 4, 3], cost="log-likelihood", seed=5)
    old_meta = {k: v for k, v in softmax.meta().items() if k != "output"}
    save_checkpoint(tmp_path / "old.npz", softmax.to_arrays(), {**old_meta, "cost": "cross-entropy"})
    loaded, meta = load_network(tmp_path / "old.npz")
    assert loaded.cost.name == "log-likelihood" and meta["cost"] == "log-likelihood"
    assert meta["cost_saved_as"] == "cross-entropy"
    np.testing.assert_array_equal(loaded.feedforward(x.astype(np.float32)),
                                  softmax.feedforward(x.astype(np.float32)))


def test_checkpoint_refuses_other_kinds_and_damage(tmp_path):
    from engine.files.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "gpt.npz", {"wte": np.zeros((2, 2))}, {"kind": "gpt"})
    with pytest.raises(KqvError, match="gpt checkpoint, not a digits one"):
        load_network(tmp_path / "gpt.npz")
    save_checkpoint(tmp_path / "bad.npz", {"w2": np.zeros((3, 3)), "b2": np.zeros((4, 1))},
                    {"kind": "digits", "sizes": [6, 4]})
    with pytest.raises(KqvError, match="disagree"):
        load_network(tmp_path / "bad.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(KqvError, match=r"not an \.npz archive"):
        load_network(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(KqvError, match="not a kqv checkpoint"):
        load_network(tmp_path / "plain.npz")
    with pytest.raises(KqvError, match="no checkpoint"):
        load_network(tmp_path / "missing.npz")


def test_traced_nabla_is_m_times_the_gradient_of_the_traced_mean_cost():
    """The trace labels nabla as Σₓ ∇Cₓ = m·∇C, C being the traced mean: hold that numerically."""
    m = 5
    net = Network([4, 3, 2], seed=2, dtype=np.float64)
    x, y = _batch(net.sizes, m, seed=4)

    def traced_cost():
        tracer = Tracer(dims={**net.dims, "m": m})
        net.backprop_batch(x, y, tracer)
        return float(tracer["C"].value)

    tracer = Tracer(dims={**net.dims, "m": m})
    net.backprop_batch(x, y, tracer)
    assert "m·∂C/∂w3" in tracer["nabla_w3"].formula and "m·∂C/∂b2" in tracer["nabla_b2"].formula
    eps = 1e-6
    for param, name in ((net.weights[1], "nabla_w3"), (net.biases[0], "nabla_b2")):
        old = param[1, 0]
        param[1, 0] = old + eps
        up = traced_cost()
        param[1, 0] = old - eps
        down = traced_cost()
        param[1, 0] = old
        dC = (up - down) / (2 * eps)
        assert tracer[name].value[1, 0] == pytest.approx(m * dC, rel=1e-6)
        assert abs(tracer[name].value[1, 0] - dC) > 1e-3  # the sum is not the mean's gradient


@pytest.mark.parametrize("stop_after", [3, 25])  # in the first epoch, in the third
def test_a_stop_mid_epoch_reports_only_finished_epochs(stop_after):
    rng = np.random.default_rng(0)
    x, labels = rng.random((100, 8), dtype=np.float32), rng.integers(0, 3, 100)
    batches, reported = [], []

    def on_batch(done, total):
        batches.append(done)

    net = Network([8, 5, 3], seed=0)
    results = net.SGD((x, labels), 5, 10, 0.5, on_batch=on_batch, on_epoch=reported.append,
                      should_stop=lambda: len(batches) >= stop_after)
    finished = (stop_after - 1) // 10  # 10 mini-batches an epoch; the stop lands in the next one
    assert [r.epoch for r in results] == [r.epoch for r in reported] == list(range(1, finished + 1))


def test_a_batch_size_beyond_the_data_allocates_for_the_data():
    rng = np.random.default_rng(0)
    x, labels = rng.random((20, 8), dtype=np.float32), rng.integers(0, 3, 20)
    net = Network([8, 5, 3], seed=0)
    (result,) = net.SGD((x, labels), 1, 10**12, 0.5)  # a buffer of 10¹² rows would need terabytes
    assert np.isfinite(result.train_cost)


def _readable_epochs(net, x, labels, epochs, m, eta, lmbda, seed):
    """SGD's epochs, mini-batch order and settings, each step by the readable ``traced_update``."""
    y = one_hot(labels, net.sizes[-1], net.dtype)
    rng, n = np.random.default_rng(seed), len(x)
    for _ in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, m):
            idx = order[k : k + m]
            net.traced_update(x[idx].T.astype(net.dtype), y[idx].T, eta, Tracer(), lmbda, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation,cost", CONFIGS)
def test_the_compiled_training_step_ends_an_epoch_where_the_readable_one_does(activation, cost, dtype):
    """SGD's compiled step (engine.fused.digits) against traced_update, step for step: 47 images
    at mini-batch 10 (a last batch of 7), layers of 9 and 7 so no loop blocking divides evenly."""
    pytest.importorskip("numba", reason="numba is not installed: SGD runs update_mini_batch")
    rng = np.random.default_rng(5)
    x = rng.random((47, 13)).astype(np.float32)  # float32 pixels, as the loader gives
    labels = rng.integers(0, 4, 47)
    sizes = [13, 9, 7, 4]
    compiled = Network(sizes, activation, cost, seed=3, dtype=dtype)
    readable = Network(sizes, activation, cost, seed=3, dtype=dtype)
    start = compiled._params.copy()
    compiled.SGD((x, labels), 2, 10, 0.8, lmbda=0.4, seed=7)
    _readable_epochs(readable, x, labels, 2, 10, 0.8, 0.4, seed=7)
    moved = np.abs(readable._params - start).max()
    assert moved > 0.01  # ten steps that really trained
    err = np.abs(compiled._params - readable._params).max() / np.abs(readable._params).max()
    assert err <= (1e-12 if dtype == np.float64 else 1e-5), err


def test_the_compiled_step_trains_the_books_network_as_the_numpy_step_does():
    """784-30-10 at the book's mini-batch of 10 and at 100: the compiled step and
    update_mini_batch agree after an epoch of 1,000 images, to float32 rounding."""
    pytest.importorskip("numba", reason="numba is not installed: SGD runs update_mini_batch")
    rng = np.random.default_rng(0)
    x = rng.random((1000, 784), dtype=np.float32) * (rng.random((1000, 784)) < 0.2)  # sparse, like ink
    labels = rng.integers(0, 10, 1000)
    for m in (10, 100):
        nets = [Network([784, 30, 10], seed=1) for _ in range(2)]
        for net, compiled in zip(nets, (True, False), strict=True):
            net.SGD((x, labels), 1, m, 3.0, compiled=compiled)
        err = np.abs(nets[0]._params - nets[1]._params).max() / np.abs(nets[1]._params).max()
        assert err <= 1e-5, (m, err)


def test_sgd_refuses_images_of_another_width_than_the_input_layer():
    """The compiled step reads rows without bounds checks: a width that does not fit is refused."""
    net = Network([6, 5, 3], seed=0)
    for x in (np.zeros((8, 5), np.float32), np.zeros((8, 7), np.float32), np.zeros(8, np.float32)):
        with pytest.raises(KqvError, match="rows of 6 numbers"):
            net.SGD((x, np.zeros(8, np.int64)), 1, 4, 0.5)


def test_without_numba_sgd_takes_the_numpy_step_and_says_so_once(monkeypatch, capsys):
    import sys

    from engine import fused

    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "engine.fused.digits", raising=False)
    fused._forget()
    try:
        rng = np.random.default_rng(2)
        x, labels = rng.random((30, 6), dtype=np.float32), rng.integers(0, 3, 30)
        net, numpy_net = Network([6, 5, 3], seed=0), Network([6, 5, 3], seed=0)
        for _ in range(2):
            net.SGD((x, labels), 1, 10, 0.5)
        for _ in range(2):
            numpy_net.SGD((x, labels), 1, 10, 0.5, compiled=False)
        np.testing.assert_array_equal(net._params, numpy_net._params)
        err = capsys.readouterr().err
        assert "numba" in err and err.count("\n") == 1  # one line, once
    finally:
        fused._forget()


def test_the_compiled_steps_float32_sigmoid_is_sigma_to_float32_rounding():
    """σ's exp is computed by hand in the compiled step (engine.fused.digits._sigmoid_float32):
    against σ in float64 over the whole range, saturated ends and tiny z included."""
    digits = pytest.importorskip("engine.fused.digits", reason="numba is not installed")
    z = np.concatenate([np.linspace(-120, 120, 20001), [0.0, 1e-30, -1e-30, 1e-8, 88.5, -88.5, 200, -200]])
    a = z.astype(np.float32)
    exact = 1 / (1 + np.exp(-a.astype(np.float64)))  # σ of the float32 numbers it was given
    digits._sigmoid_float32(a)
    normal = exact > 1e-37  # below it, σ is 0 to float32 (the readable σ gives 0 past e^88, this one 1.6e-38)
    assert np.all(np.abs(a[normal] - exact[normal]) <= 2.5e-7 * exact[normal])
    assert np.all(a[~normal] < 1.2e-37) and np.all((a >= 0) & (a <= 1))
