"""The fused kernels (engine.fused) against the readable functions they stand in for.

"Within 1e-5 relative" means max |fused − readable| ≤ 1e-5 · max |readable| over the array
(float32; 1e-12 for float64): a row sum taken in another order differs in its last bits, and
an elementwise relative test would fail on entries that are zero up to rounding.
"""

import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from engine import fused
from engine.attention import attention_backward, attention_forward
from engine.attention_parts import BY_ROOT_HS, CAUSAL, DOT, FLIPPED, NO_MASK, SQUARED, UNSCALED
from engine.data.text import TextData
from engine.gpt.model import GPT, GPTConfig, cross_entropy_backward, cross_entropy_forward
from engine.gpt.train import GPTTrainer, TrainConfig
from engine.layers import LN_EPS, layernorm_backward, layernorm_forward
from engine.mlp import gelu_backward, gelu_forward
from engine.optim import AdamW
from engine.trace import Tracer

K = pytest.importorskip("engine.fused.kernels", reason="numba is not installed: the readable engine only")

TOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]


def close(fast, readable, dtype):
    fast, readable = np.asarray(fast, dtype=np.float64), np.asarray(readable, dtype=np.float64)
    assert fast.shape == readable.shape
    err = np.max(np.abs(fast - readable)) if fast.size else 0.0
    assert err <= TOL[dtype] * max(np.max(np.abs(readable)), 1e-30), f"max diff {err:.3g}"


def normal(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (64, 512)])
def test_gelu_matches_the_readable_one(dtype, shape):
    rng = np.random.default_rng(1)
    x, dout = normal(rng, shape, dtype, 3.0), normal(rng, shape, dtype)
    out, t = K.gelu_forward(x)
    ref_out, ref_t = gelu_forward(x.copy())
    close(out, ref_out, dtype)
    close(t, ref_t, dtype)
    close(K.gelu_backward(dout, x, t), gelu_backward(dout, x, ref_t), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 4), (5, 33), (96, 128)])
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_the_readable_one(dtype, shape, bias):
    rng = np.random.default_rng(2)
    C = shape[1]
    # an offset and a spread far from (0, 1), so a wrong mean or variance cannot hide
    x = normal(rng, shape, dtype, 4.0) + dtype(3.0)
    w, b = normal(rng, C, dtype), normal(rng, C, dtype) if bias else None
    out, xhat, rstd = K.layernorm_forward(x, w, b, LN_EPS)
    ref = layernorm_forward(x.copy(), w, b, LN_EPS)
    for a, r in zip((out, xhat, rstd), ref, strict=True):
        close(a, r, dtype)
    dout = normal(rng, shape, dtype)
    dw, db = np.empty(C, dtype), np.empty(C, dtype)
    dx, _, _ = K.layernorm_backward(dout, ref[1], ref[2], w, dw=dw, db=db)
    ref_dx, ref_dw, ref_db = layernorm_backward(dout.copy(), ref[1], ref[2], w)
    close(dx, ref_dx, dtype)
    close(dw, ref_dw, dtype)
    close(db, ref_db, dtype)


ATTENTION_CASES = [
    # (B, nh, T, t, score, scale, mask)
    (1, 1, 1, 1, DOT, BY_ROOT_HS, CAUSAL),
    (2, 3, 5, 5, DOT, BY_ROOT_HS, CAUSAL),
    (2, 2, 3, 7, DOT, BY_ROOT_HS, CAUSAL),  # 3 new queries after 4 cached keys
    (1, 2, 1, 9, DOT, BY_ROOT_HS, CAUSAL),  # one generated token: nothing hidden
    (2, 2, 6, 6, DOT, BY_ROOT_HS, FLIPPED),
    (2, 2, 6, 6, SQUARED, UNSCALED, NO_MASK),
    (3, 4, 16, 16, DOT, UNSCALED, CAUSAL),
    (3, 2, 5, 7, DOT, BY_ROOT_HS, NO_MASK, "pad"),  # cross-attention over padded sources
    (3, 2, 6, 6, DOT, BY_ROOT_HS, CAUSAL, "pad"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ATTENTION_CASES)
def test_attention_through_the_fused_softmax_matches_the_readable_one(dtype, case):
    B, nh, T, t, score, scale, mask, *padded = case
    rng = np.random.default_rng(3)
    key_pad = None
    if padded:  # sequence b has its last b keys as padding (the first key always stays visible)
        key_pad = np.arange(t)[None, :] >= t - np.arange(B)[:, None]
    hs = 8
    q, k, v = normal(rng, (B, nh, T, hs), dtype, 2.0), normal(rng, (B, nh, t, hs), dtype), normal(
        rng, (B, nh, t, hs), dtype)
    dy = normal(rng, (B, nh, T, hs), dtype)
    runs = {}
    for engine in ("readable", "fast"):
        with fused.use(engine):
            y, att, keep = attention_forward(q, k, v, score, scale, mask, key_pad=key_pad)
            grads = attention_backward(dy, q, k, v, att, keep, score, scale)
        runs[engine] = (y, att, *grads)
    for a, r in zip(runs["fast"], runs["readable"], strict=True):
        close(a, r, dtype)
    att = runs["fast"][1]
    np.testing.assert_allclose(att.sum(-1), 1.0, rtol=TOL[dtype] * 10)
    hidden = mask.hidden(T, t)
    if hidden is not None:
        assert np.all(att[..., hidden] == 0)  # a masked key gets exactly nothing
    if key_pad is not None:
        assert key_pad.any() and np.all(att.transpose(0, 3, 1, 2)[key_pad] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("N", "V"), [(1, 3), (50, 65), (384, 65)])
def test_cross_entropy_matches_the_readable_one(dtype, N, V):
    rng = np.random.default_rng(4)
    logits, targets = normal(rng, (N, V), dtype, 5.0), rng.integers(0, V, N)
    loss, probs = K.cross_entropy_forward(logits, targets)
    ref_loss, ref_probs = cross_entropy_forward(logits.copy(), targets)
    # the loss is log Σ eᶻ − z[target], a difference: when the target takes nearly all the
    # probability it is tiny and the readable float32 log carries ~1e-7 of absolute rounding,
    # so it is held relative to max(loss, 1)
    assert abs(loss - ref_loss) <= TOL[dtype] * max(abs(ref_loss), 1.0)
    close(probs, ref_probs, dtype)
    # p − 1 at the target rounds at the precision of 1 (then / N): the scale is 1/N at least
    dlogits, ref = K.cross_entropy_backward(probs, targets), cross_entropy_backward(ref_probs, targets)
    assert np.max(np.abs(dlogits - ref)) <= TOL[dtype] * max(np.max(np.abs(ref)), 1.0 / N)


def test_cross_entropy_refuses_a_target_outside_the_vocabulary_rather_than_read_past_the_row():
    logits = np.zeros((2, 5), dtype=np.float32)
    for bad in ([0, 5], [-1, 0]):
        with pytest.raises(IndexError):
            K.cross_entropy_forward(logits, np.array(bad))
        with pytest.raises(IndexError):
            K.cross_entropy_backward(logits.copy(), np.array(bad))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "n_decay", "halves"), [(1, 0, False), (10, 4, False), (1001, 700, True),
                                                     (1001, 0, True), (1001, 1001, True)])
def test_adamw_one_pass_matches_the_readable_steps(dtype, n, n_decay, halves):
    rng = np.random.default_rng(5)
    p0, g = normal(rng, n, dtype), normal(rng, n, dtype, 1e-2)
    result = {}
    for engine in ("readable", "fast"):
        p, grads = p0.copy(), g.copy()
        opt = AdamW(p, grads, n_decay, weight_decay=0.1)
        with fused.use(engine):
            for step in range(3):
                grads[...] = g * (step + 1)
                # halves: the two-core split of the vector, through the same kernel
                opt.step(3e-3, parallel=(lambda f, a, b: (f(a), f(b))) if halves else None)
        result[engine] = (p, opt.m, opt.v)
    for a, r in zip(result["fast"], result["readable"], strict=True):
        close(a, r, dtype)
    assert not np.array_equal(result["fast"][0], p0)  # it did step


# -- who runs which --------------------------------------------------------------------------------

TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 40)


def train(engine, iters=30, **model):
    data = TextData.from_text(TEXT, 16, "test text")
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=16, n_layer=2, n_head=2, n_embd=32, **model)
    tc = TrainConfig(batch_size=8, max_iters=iters, eval_interval=iters, eval_iters=2, threads=1, lr=3e-3,
                     warmup_iters=5, engine=engine)
    return GPTTrainer(data, cfg, tc).run()


def test_a_short_training_run_follows_the_readable_loss_curve():
    fast, readable = train("fast"), train("readable")
    assert fast.engine == "fast" and readable.engine == "readable"
    assert len(fast.losses) == 30
    np.testing.assert_allclose(fast.losses, readable.losses, rtol=2e-5)
    assert fast.losses[-1] < fast.losses[0] - 0.5  # and it learns
    np.testing.assert_allclose(fast.val_loss, readable.val_loss, rtol=2e-5)


@pytest.mark.parametrize("what_if", [{"score": "squared", "scale": False}, {"mask": "flipped"},
                                     {"layernorm": False, "residual": False}, {"dropout": 0.1}])
def test_the_labs_swapped_parts_run_fast_or_fall_back_and_agree(what_if):
    fast, readable = train("fast", iters=5, **what_if), train("readable", iters=5, **what_if)
    np.testing.assert_allclose(fast.losses, readable.losses, rtol=2e-5)


class ScaleByTwo:
    """A scale part from outside engine.attention, with no ``factor``: no fused kernel knows it."""

    text, note = " · 2", ""

    def apply(self, scores, hs):
        scores *= 2.0


def test_a_part_without_a_fused_kernel_runs_the_readable_code(monkeypatch):
    calls = []
    monkeypatch.setattr(K, "softmax_forward", lambda *a: calls.append(a))
    rng = np.random.default_rng(6)
    q = k = v = normal(rng, (1, 1, 4, 8), np.float64)
    with fused.use("fast"):
        y, att, _ = attention_forward(q, k, v, scale=ScaleByTwo())
    assert calls == [] and np.allclose(att.sum(-1), 1.0)


def spy_on_layernorm(monkeypatch):
    calls = []
    real = K.layernorm_forward

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(K, "layernorm_forward", spy)
    return calls


def test_an_untraced_run_takes_the_kernels_and_a_traced_one_the_readable_code(monkeypatch):
    calls = spy_on_layernorm(monkeypatch)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    idx = np.arange(8)[None, :] % 11
    model.forward(idx, idx)
    assert calls == []  # outside a training loop: the readable engine (numba's load costs a second)
    with fused.use("fast"):
        _, loss_fast = model.forward(idx, idx)
        assert len(calls) == 3  # ln_1, ln_2, ln_f
        tracer = Tracer(dims=model.dims(1, 8))
        _, loss_traced = model.forward(idx, idx, tracer=tracer)
    assert len(calls) == 3 and "h0.att_scores" in tracer  # the traced pass recorded, no kernel ran
    assert loss_fast == pytest.approx(loss_traced, rel=1e-5)


def test_without_numba_kqv_runs_readable_and_says_so_once(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "engine.fused.kernels")
    fused._forget()
    try:
        with fused.use("fast"):
            assert fused.kernels_for() is None and fused.running() == "readable"
        result = train("fast", iters=3)
        assert result.engine == "readable" and len(result.losses) == 3
        err = capsys.readouterr().err
        assert err.count("numba") >= 1 and err.count("\n") == 1  # one line, once
    finally:
        fused._forget()


def test_engine_option_of_train_gpt(tmp_path):
    from kqv_cli.main import app

    text = tmp_path / "play.txt"
    text.write_text(TEXT, encoding="utf-8")
    small = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
             "--eval-interval", "5", "--eval-iters", "2", "--threads", "1", "--max-iters", "5", "--json"]
    runner = CliRunner()
    import json

    runs = {}
    for engine in ("readable", "fast"):
        result = runner.invoke(app, ["train", "gpt", "--text", str(text), *small, "--engine", engine,
                                     "--out", str(tmp_path / f"{engine}.npz")])
        assert result.exit_code == 0, result.output
        runs[engine] = json.loads(result.stdout)
        assert runs[engine]["engine"] == engine
    assert runs["fast"]["val_loss"] == pytest.approx(runs["readable"]["val_loss"], rel=1e-5)
    bad = runner.invoke(app, ["train", "gpt", "--text", str(text), *small, "--engine", "turbo",
                              "--out", str(tmp_path / "x.npz")])
    assert bad.exit_code == 2 and "engine must be one of fast, readable" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_encoder_decoder_with_padding_takes_the_kernels_and_agrees(dtype, monkeypatch):
    """The translation model shares LayerNorm, the attention (with the source's padding hidden)
    and AdamW: its loss and every gradient agree between the engines."""
    from engine.translation.model import Transformer, TransformerConfig

    calls = spy_on_layernorm(monkeypatch)
    src = np.array([[3, 4, 5, 6, 2], [7, 8, 2, 0, 0]])  # the second pair padded (0) on both sides
    tgt = np.array([[1, 5, 4, 3, 2], [1, 6, 2, 0, 0]])
    cfg = TransformerConfig(vocab_size=11, n_embd=8, n_head=2, n_layer=2, n_dec_layer=2, d_ff=12, max_len=10,
                            dropout=0.0)
    result = {}
    for engine in ("readable", "fast"):
        model = Transformer(cfg, seed=0, dtype=dtype)
        with fused.use(engine):
            loss = model.loss(model.forward(src, tgt[:, :-1]), tgt[:, 1:])
            model.backward()
        result[engine] = (loss, model.flat_grads.copy())
    assert calls  # the fast run went through the kernels
    assert abs(result["fast"][0] - result["readable"][0]) <= TOL[dtype] * abs(result["readable"][0])
    close(result["fast"][1], result["readable"][1], dtype)
