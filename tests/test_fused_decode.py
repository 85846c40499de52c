"""The fused one-token decoder (engine.fused.decode) against the readable forward it stands in for.

Each test runs the readable ``GPT.forward(token, cache=...)`` and the decoder side by side, on
two caches filled by the same prompt, token after token: the logits agree within 1e-5 of their
largest (float32; 1e-12 in float64) and both caches hold the same keys and values.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

from engine import fused
from engine.gpt.model import GPT, GPTConfig
from engine.hf.gpt2 import load_gpt2

pytest.importorskip("engine.fused.decode", reason="numba is not installed: the readable engine only")

TINY = Path(__file__).parent / "data" / "gpt2-tiny"
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def random_gpt(dtype=np.float32, **changes):
    cfg = GPTConfig(vocab_size=37, block_size=12, n_layer=2, n_head=4, n_embd=32, **changes)
    model = GPT(cfg, seed=1, dtype=dtype)
    # every weight, bias and LayerNorm gain random, so that no term can be left out unseen
    model.flat_params[...] = np.random.default_rng(3).standard_normal(model.flat_params.size) * 0.3
    return model


def side_by_side(model, B, steps, dtype):
    decode = fused.decoder(model)
    assert decode is not None
    rng = np.random.default_rng(0)
    readable, fast = model.kv_cache(B), model.kv_cache(B)
    prompt = rng.integers(0, model.config.vocab_size, (B, 4))
    model.forward(prompt, cache=readable)
    model.forward(prompt, cache=fast)
    for _ in range(steps):
        token = rng.integers(0, model.config.vocab_size, (B, 1))
        want, _ = model.forward(token, cache=readable)
        got = decode(token, fast)
        assert got.shape == want.shape == (B, 1, model.config.vocab_size)
        assert np.abs(got - want).max() <= TOL[dtype] * np.abs(want).max()
    assert fast.t == readable.t == 4 + steps
    for a, b in zip(fast.layers, readable.layers, strict=True):
        for mine, theirs in ((a.k, b.k), (a.v, b.v)):
            theirs = theirs[:, :, : readable.t]
            assert np.abs(mine[:, :, : fast.t] - theirs).max() <= TOL[dtype] * np.abs(theirs).max()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("changes", [{}, {"bias": False}, {"scale": False}, {"pos": "sinusoidal"}])
@pytest.mark.parametrize("B", [1, 3])
def test_the_decoder_gives_the_readable_forwards_logits_token_after_token(changes, B, dtype):
    # 8 steps after a prompt of 4: the cache (block_size 12) ends full
    side_by_side(random_gpt(dtype, **changes), B, 8, dtype)


def test_the_decoder_matches_transformers_on_the_tiny_gpt2():
    """The golden logits of tests/data/gpt2-tiny-golden.npz, computed by transformers."""
    with np.load(TINY.parent / "gpt2-tiny-golden.npz", allow_pickle=False) as g:
        ids, gen_ids, gen_logits = g["ids"], g["gen_ids"], g["gen_logits"]
    model = load_gpt2(TINY)
    decode = fused.decoder(model)
    kv = model.kv_cache()
    model.forward(ids[None, :], cache=kv)
    for token, expected in zip(gen_ids, gen_logits, strict=True):
        np.testing.assert_allclose(decode(np.array([[token]]), kv)[0, -1], expected, atol=1e-4)


@pytest.mark.parametrize("changes", [{"mask": "flipped"}, {"score": "squared"}, {"residual": False},
                                     {"layernorm": False}])
def test_a_what_if_model_is_not_decoded_by_the_kernels(changes):
    assert fused.decoder(random_gpt(**changes)) is None


def spy_on_decoder(monkeypatch):
    from engine.fused import decode

    calls = []
    real = decode.Decoder.__call__

    def spy(self, idx, cache):
        calls.append(idx.shape)
        return real(self, idx, cache)

    monkeypatch.setattr(decode.Decoder, "__call__", spy)
    return calls


def test_a_loaded_gpt2_generates_with_the_decoder_and_a_trained_gpt_does_not(monkeypatch):
    calls = spy_on_decoder(monkeypatch)
    gpt2 = load_gpt2(TINY)
    assert gpt2.fast_decode
    tokens = list(gpt2.stream([1, 2, 3], 6, rng=np.random.default_rng(0)))
    assert len(tokens) == 6 and calls == [(1, 1)] * 5  # the prompt's pass is forward's; 5 steps after
    mine = random_gpt()
    assert not mine.fast_decode  # loading numba would cost more than a small model's tokens save
    list(mine.stream([1, 2, 3], 6, rng=np.random.default_rng(0)))
    assert len(calls) == 5


def test_a_gpt2_generates_the_same_tokens_with_and_without_the_decoder():
    gpt2 = load_gpt2(TINY)
    fast = list(gpt2.stream([5, 9, 2], 20, temperature=1.3, rng=np.random.default_rng(4)))
    gpt2.fast_decode = False
    assert list(gpt2.stream([5, 9, 2], 20, temperature=1.3, rng=np.random.default_rng(4))) == fast


def test_without_numba_a_gpt2_generates_on_the_readable_forward(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    monkeypatch.delitem(sys.modules, "engine.fused.decode")
    fused._forget()
    try:
        gpt2 = load_gpt2(TINY)
        assert fused.decoder(gpt2) is None
        assert len(list(gpt2.stream([1, 2], 4, rng=np.random.default_rng(0)))) == 4
        err = capsys.readouterr().err
        assert "numba" in err and err.count("\n") == 1  # one line, once
    finally:
        fused._forget()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_decoders_gelu_is_the_readable_one(dtype):
    """GELU's tanh from the SIMD exp (engine.fused.expf) against engine.mlp.gelu_forward in float64,
    from −60 to 60 (saturated ends, tiny inputs, and the bias added first)."""
    from engine.fused import decode
    from engine.mlp import GELU_C, gelu_forward

    x = np.concatenate([np.linspace(-60, 60, 24000), [0.0, 1e-30, -1e-30, 1e-6, -1e-6]]).reshape(5, -1)
    bias = np.linspace(-0.5, 0.5, x.shape[1])
    got = (x - bias).astype(dtype)
    want, _ = gelu_forward(got.astype(np.float64) + bias.astype(dtype))
    ty = np.dtype(dtype).type
    decode._bias_gelu(got, bias.astype(dtype), ty(GELU_C), ty(GELU_C * 0.044715), ty(0.5))
    scale = np.maximum(np.abs(x), 1.0)  # GELU(u) is about u or 0: an error relative to |u|
    assert np.max(np.abs(got - want) / scale) <= (3e-7 if dtype == np.float32 else 1e-14)
