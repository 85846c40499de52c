"""The encoder–decoder Transformer: shapes against the trace, masking, the loss, and every
parameter's gradient against finite differences in float64 (post-LN and pre-LN)."""

import numpy as np
import pytest

from engine.errors import KqvError
from engine.trace import Tracer
from engine.translation.loss import smoothed_cross_entropy_backward, smoothed_cross_entropy_forward
from engine.translation.model import Transformer, TransformerConfig, count_parameters

F64 = np.float64
PAD, BOS, EOS = 0, 1, 2

# two pairs, the second shorter on both sides: padded, with S (5) ≠ T (4)
SRC = np.array([[3, 4, 5, 6, EOS], [7, 8, EOS, PAD, PAD]])
TGT = np.array([[BOS, 5, 4, 3, EOS], [BOS, 6, EOS, PAD, PAD]])
TGT_IN, TGT_OUT = TGT[:, :-1], TGT[:, 1:]


def tiny(**kw) -> TransformerConfig:
    base = dict(vocab_size=11, n_embd=8, n_head=2, n_layer=2, n_dec_layer=2, d_ff=12, max_len=10, dropout=0.0)
    return TransformerConfig(**{**base, **kw})


def randomised(model: Transformer, seed=1) -> Transformer:
    """Weights well away from their initial values (LayerNorm gains near 1), so every gradient
    stands far above finite-difference noise."""
    rng = np.random.default_rng(seed)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.5
    for name, view in model.params.items():
        if view.ndim == 1 and name.endswith(".w"):
            view += 1.0
    return model


def rel_err(a, b):
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


# -- forward --------------------------------------------------------------------------------------


def test_forward_gives_logits_for_every_target_position():
    model = Transformer(tiny(), seed=0)
    logits = model.forward(SRC, TGT_IN)
    assert logits.shape == (2, 4, 11) and logits.dtype == np.float32
    assert np.isfinite(logits).all()
    assert model.encode(SRC).shape == (2, 5, 8)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_padding_changes_nothing_a_real_token_sees(norm):
    """The short pair alone, and the same pair padded inside a batch, give the same logits at
    its real positions: the source's padding is hidden from the encoder and cross-attention,
    and the target's padding comes after every real position (causal)."""
    model = Transformer(tiny(norm=norm), seed=0, dtype=F64)
    randomised(model)
    batch = model.forward(SRC, TGT_IN)
    alone = model.forward(SRC[1:, :3], TGT_IN[1:, :2])
    np.testing.assert_allclose(batch[1, :2], alone[0], atol=1e-12)


def test_a_later_target_token_never_changes_an_earlier_logit():
    model = randomised(Transformer(tiny(), seed=0, dtype=F64))
    base = model.forward(SRC, TGT_IN)
    changed = TGT_IN.copy()
    changed[0, 2] = 9
    after = model.forward(SRC, changed)
    np.testing.assert_allclose(after[0, :2], base[0, :2], atol=1e-12)
    assert np.abs(after[0, 2:] - base[0, 2:]).max() > 1e-3


def test_every_source_token_reaches_every_target_position():
    model = randomised(Transformer(tiny(), seed=0, dtype=F64))
    base = model.forward(SRC, TGT_IN)
    changed = SRC.copy()
    changed[0, 3] = 9  # the last real word of the first source
    after = model.forward(changed, TGT_IN)
    assert np.all(np.abs(after[0] - base[0]).max(-1) > 1e-6)  # every target position moved
    np.testing.assert_allclose(after[1], base[1], atol=1e-12)  # the other sentence is untouched


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_every_traced_shape_matches_its_symbols(norm):
    """S and T are different numbers here, so a symbol on the wrong axis cannot pass."""
    model = Transformer(tiny(norm=norm, final_logits_bias=True), seed=0)
    tracer = Tracer(dims=model.dims(B=2, S=5, T=4))
    model.loss(model.forward(SRC, TGT_IN, tracer), TGT_OUT, tracer=tracer)
    model.backward(tracer)
    assert tracer.mismatches() == []
    assert tracer["dec.h1.cross.att"].shape == (2, 2, 4, 5)
    assert tracer["dec.h1.cross.att"].symbolic == ("B", "nh", "T", "S")
    assert tracer["dec.h0.cross.pad_mask"].symbolic == ("B", "1", "1", "S")
    assert tracer["dec.h0.cross.pad_mask"].shape == (2, 1, 1, 5)
    assert tracer["enc.h0.att"].symbolic == ("B", "nh", "S", "S")
    assert tracer["dec.h0.att"].symbolic == ("B", "nh", "T", "T")
    assert tracer["memory"].symbolic == ("B", "S", "C")
    assert tracer["dec.h0.cross.dk"].symbolic == ("B", "nh", "S", "hs")
    assert tracer["logits"].shape == (2, 4, 11)
    names = tracer.names()
    assert ("enc.ln_f" in names) == (norm == "pre") and ("dec.ln_f" in names) == (norm == "pre")
    # the padding key of the short source gets no weight from any target position
    assert np.all(tracer["dec.h0.cross.att"].value[1, :, :, 3:] == 0)


def test_positions_and_scale_follow_the_config():
    for layout in ("interleaved", "halves"):
        for scale in (True, False):
            model = Transformer(tiny(positions=layout, scale_embedding=scale), seed=0, dtype=F64)
            tracer = Tracer(dims=model.dims(2, 5, 4))
            model.encode(SRC, tracer)
            x = tracer["enc.x"].value
            want = model.params["wte"][SRC] * (np.sqrt(8) if scale else 1.0) + model.embed.pe[:5]
            np.testing.assert_allclose(x, want, atol=1e-12)
    halves = Transformer(tiny(positions="halves"), seed=0).embed.pe
    assert halves[3, 0] == pytest.approx(np.sin(3.0)) and halves[3, 4] == pytest.approx(np.cos(3.0))


def test_parameter_count_from_the_sizes_matches_the_built_model():
    for kw in ({}, {"norm": "pre"}, {"final_logits_bias": True, "n_dec_layer": 1, "d_ff": 20}):
        cfg = tiny(**kw)
        assert sum(count_parameters(cfg).values()) == Transformer(cfg).num_params


def test_the_default_model_has_the_documented_size():
    counts = count_parameters(TransformerConfig(vocab_size=8000))
    assert counts["encoder"] == 3 * (4 * 256 * 256 + 4 * 256 + 2 * 256 * 1024 + 1024 + 256 + 4 * 256)
    assert counts["wte"] == 8000 * 256


# -- the loss -------------------------------------------------------------------------------------


def test_label_smoothing_gives_no_mass_to_padding_and_skips_padding_rows():
    rng = np.random.default_rng(0)
    V, eps = 7, 0.1
    logits = rng.standard_normal((5, V))
    targets = np.array([3, 1, PAD, 6, PAD])
    loss, nll, probs, n = smoothed_cross_entropy_forward(logits, targets, PAD, eps)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    q = np.full((5, V), eps / (V - 2))
    q[:, PAD] = 0.0
    q[np.arange(5), targets] = 1 - eps
    real = targets != PAD
    assert n == 3
    assert loss == pytest.approx(-(q * logp).sum(1)[real].mean(), rel=1e-12)
    assert nll == pytest.approx(-logp[np.arange(5), targets][real].mean(), rel=1e-12)
    np.testing.assert_allclose(q[real].sum(1), 1.0)
    d = smoothed_cross_entropy_backward(probs.copy(), targets, PAD, eps)
    want = (np.exp(logp) - q) / n
    want[~real] = 0
    np.testing.assert_allclose(d, want, atol=1e-15)
    plain, *_ = smoothed_cross_entropy_forward(logits, targets, PAD, 0.0)
    assert plain == pytest.approx(nll)


def test_loss_refuses_targets_of_another_shape():
    model = Transformer(tiny(), seed=0)
    logits = model.forward(SRC, TGT_IN)
    with pytest.raises(KqvError, match="tgt_out"):
        model.loss(logits, TGT_OUT[:, :3])


# -- gradients ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [
    {"norm": "post", "activation": "relu", "final_logits_bias": True},
    {"norm": "pre", "activation": "silu", "positions": "halves", "scale_embedding": False},
    {"norm": "post", "activation": "gelu", "dropout": 0.2},
])
def test_every_parameter_gradient_matches_finite_differences(kw):
    """Central differences on every entry of the flat buffer, a padded batch, float64, one
    encoder and one decoder layer (the gradient crossing layers is the GPT's test's job: here
    what is new is the memory's gradient gathered from cross-attention and the shared table)."""
    model = randomised(Transformer(tiny(n_layer=1, n_dec_layer=1, d_ff=8, **kw), seed=0, dtype=F64))

    def loss():
        rng = np.random.default_rng(7) if model.config.dropout else None  # the same masks each time
        return model.loss(model.forward(SRC, TGT_IN, rng=rng), TGT_OUT)

    loss()
    model.backward()
    analytic = model.flat_grads.copy()
    flat, numeric, eps = model.flat_params, np.zeros_like(analytic), 1e-6
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = loss()
        flat[i] = old - eps
        minus = loss()
        flat[i] = old
        numeric[i] = (plus - minus) / (2 * eps)
    for name in model.params:  # tensor by tensor, so a failure names the parameter
        part = model.flat_slice(name)
        assert rel_err(analytic[part], numeric[part]) < 1e-6, name
    assert np.abs(analytic).max() > 0


def test_backward_fills_the_same_buffer_each_step():
    """A second backward overwrites the gradient (nothing accumulates between steps)."""
    model = randomised(Transformer(tiny(), seed=0, dtype=F64))
    model.loss(model.forward(SRC, TGT_IN), TGT_OUT)
    model.backward()
    first = model.flat_grads.copy()
    model.loss(model.forward(SRC, TGT_IN), TGT_OUT)
    model.backward()
    np.testing.assert_allclose(model.flat_grads, first, atol=1e-14)


# -- parameters and config ------------------------------------------------------------------------


def test_state_dict_round_trip_and_refusals():
    a, b = Transformer(tiny(), seed=0), Transformer(tiny(), seed=5)
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(a.forward(SRC, TGT_IN), b.forward(SRC, TGT_IN))
    assert "dec.h1.cross.c_kv.w" in a.state_dict() and a.params["dec.h1.cross.c_kv.w"].shape == (8, 16)
    with pytest.raises(KqvError, match="lack"):
        b.load_state_dict({"wte": a.params["wte"]})
    extra = {**a.state_dict(), "enc.h9.ln_1.w": np.ones(8)}
    with pytest.raises(KqvError, match="does not have"):
        b.load_state_dict(extra)
    wrong = {**a.state_dict(), "wte": np.zeros((12, 8))}
    with pytest.raises(KqvError, match="wte is"):
        b.load_state_dict(wrong)


@pytest.mark.parametrize("kw, match", [
    ({"n_head": 3}, "not divisible"),
    ({"norm": "middle"}, "norm must be"),
    ({"activation": "tanh"}, "activation must be"),
    ({"positions": "learned"}, "positions must be"),
    ({"dropout": 1.0}, "dropout"),
    ({"vocab_size": 2}, "at least 3"),
    ({"pad_id": 11}, "pad_id"),
    ({"eos_id": 0}, "must differ"),
    ({"d_ff": 0}, "d_ff"),
])
def test_config_refuses_bad_values(kw, match):
    with pytest.raises(KqvError, match=match):
        tiny(**kw)


def test_bad_ids_are_refused_in_one_line():
    model = Transformer(tiny(), seed=0)
    with pytest.raises(KqvError, match="max_len"):
        model.forward(np.ones((1, 11), int), TGT_IN[:1])
    with pytest.raises(KqvError, match="outside"):
        model.forward(SRC, TGT_IN + 20)
    with pytest.raises(KqvError, match="all padding"):
        model.forward(np.zeros((1, 3), int), TGT_IN[:1])
    with pytest.raises(KqvError, match="one target per source"):
        model.forward(SRC, TGT_IN[:1])


def test_the_memory_estimate_covers_a_real_training_step():
    """The estimate made before allocating (engine.runtime.memory) against the peak tracemalloc
    measures over two real steps (forward, loss, backward, Adam): never below it, and not so far
    above that it would refuse a run that fits."""
    import tracemalloc

    from engine.optim import AdamW
    from engine.runtime.memory import translation_memory

    cfg = TransformerConfig(vocab_size=600, n_embd=32, n_head=2, n_layer=2, n_dec_layer=2, d_ff=64,
                            max_len=40)
    B, L = 16, 24
    rng = np.random.default_rng(0)
    src, tgt = rng.integers(3, 600, (B, L)), rng.integers(3, 600, (B, L + 1))
    tracemalloc.start()
    try:
        model = Transformer(cfg, seed=0)
        opt = AdamW(model.flat_params, model.flat_grads, 0, weight_decay=0.0)
        for _ in range(2):
            model.loss(model.forward(src, tgt[:, :-1], rng=rng), tgt[:, 1:])
            model.backward()
            opt.step(1e-4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = translation_memory(cfg, B, L, training=True).total
    assert peak <= estimate <= 4 * peak, (peak, estimate)


def test_two_halves_side_by_side_give_the_whole_batch_gradient():
    """HalfBatches: twins sharing the parameters, each half divided by the whole batch's token
    count, run in two threads: the loss and every gradient equal one pass over the batch."""
    from engine.translation.halves import HalfBatches

    model = randomised(Transformer(tiny(final_logits_bias=True), seed=0, dtype=F64))
    src = np.concatenate([SRC, SRC[::-1]])
    tgt_in, tgt_out = np.concatenate([TGT_IN, TGT_IN[::-1]]), np.concatenate([TGT_OUT, TGT_OUT[::-1]])
    src[2:, 3:] = PAD  # the second half is shorter: its padding columns are trimmed
    src[2:, 2] = EOS
    whole = model.loss(model.forward(src, tgt_in), tgt_out)
    model.backward()
    want = model.flat_grads.copy()
    model.flat_grads[...] = 0
    halves = HalfBatches(model)
    for parallel in (True, False):
        loss = halves.loss_and_grads(src, tgt_in, tgt_out, parallel=parallel)
        assert loss == pytest.approx(whole, rel=1e-12)
        np.testing.assert_allclose(model.flat_grads, want, rtol=1e-10, atol=1e-14)
    assert halves.twins[0].params["wte"] is not model.params["wte"]
    assert np.shares_memory(halves.twins[0].params["wte"], model.params["wte"])


# -- the lab's parts ------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [{"cross": "none"}, {"src_positions": "none", "norm": "pre"}])
def test_swapped_parts_keep_the_gradient_exact(kw):
    """The what-if parts (no cross-attention, no source positions) still give the exact gradient
    (central differences on a sample of the flat buffer, float64)."""
    cfg = tiny(dropout=0.0, **kw)
    model = randomised(Transformer(cfg, seed=1, dtype=np.float64))
    assert sum(count_parameters(cfg).values()) == model.num_params

    def loss():
        return model.loss(model.forward(SRC, TGT_IN), TGT_OUT, smoothing=0.1)

    loss()
    model.backward()
    grads = model.flat_grads.copy()
    rng = np.random.default_rng(0)
    for i in rng.choice(model.num_params, 60, replace=False):
        old = model.flat_params[i]
        model.flat_params[i] = old + 1e-6
        up = loss()
        model.flat_params[i] = old - 1e-6
        down = loss()
        model.flat_params[i] = old
        assert (up - down) / 2e-6 == pytest.approx(grads[i], abs=1e-7, rel=1e-5)


def test_without_cross_attention_the_source_changes_nothing():
    model = Transformer(tiny(cross="none"), seed=0)
    other = np.array([[4, 5, 6, 7, EOS], [9, 10, EOS, PAD, PAD]])
    np.testing.assert_array_equal(model.forward(SRC, TGT_IN), model.forward(other, TGT_IN))
    assert not any(name.startswith("dec.h0.cross") for name in model.state_dict())


def test_without_source_positions_the_encoder_reads_a_bag_of_words():
    model = Transformer(tiny(src_positions="none"), seed=0)
    src = np.array([[5, 6, 7, 8, 2]])
    memory = model.encode(src)
    swapped = model.encode(src[:, [2, 1, 0, 3, 4]])  # the first three words in reverse order
    np.testing.assert_allclose(swapped[0, [2, 1, 0, 3, 4]], memory[0], rtol=1e-5, atol=1e-6)
    with_positions = Transformer(tiny(), seed=0)
    assert not np.allclose(with_positions.encode(src[:, [2, 1, 0, 3, 4]])[0, [2, 1, 0, 3, 4]],
                           with_positions.encode(src)[0], atol=1e-3)
