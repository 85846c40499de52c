"""Every layer's hand-written backward against a numerical gradient, in float64.

Each check builds the layer with tiny dimensions, takes loss = Σ out ⊙ R for a fixed random R
(so d loss / d out = R), runs the layer's backward with R, and compares every gradient (input
and parameters) with central differences. Relative error = ‖a − n‖ / (‖a‖ + ‖n‖) < 1e-5.
"""

import numpy as np
import pytest

from engine.attention import CausalSelfAttention
from engine.attention_parts import FLIPPED, NO_MASK, SQUARED, UNSCALED
from engine.errors import KqvError
from engine.gpt.blocks import (
    Block,
    BlockWithoutResidual,
    Embedding,
    LearnedPositions,
    NoNorm,
    SinusoidalPositions,
)
from engine.gpt.config import GPTConfig, count_parameters
from engine.gpt.model import GPT
from engine.layers import LayerNorm, Linear, sinusoidal_positions
from engine.mlp import MLP, gelu_backward, gelu_forward
from engine.trace import Tracer

F64 = np.float64
B, T, C, NH = 2, 4, 8, 2


def rel_err(a, b):
    a, b = np.asarray(a, F64).ravel(), np.asarray(b, F64).ravel()
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_grad(f, arr, eps=1e-6):
    """d f() / d arr by central differences, perturbing ``arr`` in place."""
    grad = np.zeros_like(arr, dtype=F64)
    flat, g = arr.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        g[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer(layer, forward, backward, x, params):
    """forward(x) -> out; backward(dout) -> dx. ``params``: list of (array, grad-getter)."""
    rng = np.random.default_rng(5)
    out = forward(x)
    R = rng.standard_normal(out.shape)

    def loss():
        return float(np.sum(forward(x) * R))

    forward(x)
    dx = backward(R.copy())
    grads = [get().copy() for _, get in params]
    assert rel_err(dx, numerical_grad(loss, x)) < 1e-5
    for (arr, _), g in zip(params, grads, strict=True):
        assert rel_err(g, numerical_grad(loss, arr)) < 1e-5


def scale_up(layer_params, rng):
    """Bigger-than-init weights so every gradient is well above finite-difference noise."""
    for arr in layer_params:
        arr[...] = rng.standard_normal(arr.shape) * 0.5 + (1.0 if arr.ndim == 1 and arr.size else 0)


def test_linear():
    rng = np.random.default_rng(0)
    lin = Linear(C, 3 * C, rng, "lin", dtype=F64)
    scale_up([lin.w, lin.b], rng)
    x = rng.standard_normal((B * T, C))
    check_layer(lin, lin.forward, lin.backward, x, [(lin.w, lambda: lin.dw), (lin.b, lambda: lin.db)])


def test_layernorm():
    rng = np.random.default_rng(0)
    ln = LayerNorm(C, "ln", dtype=F64)
    scale_up([ln.w, ln.b], rng)
    x = rng.standard_normal((B * T, C)) * 2 + 1
    check_layer(ln, ln.forward, ln.backward, x, [(ln.w, lambda: ln.dw), (ln.b, lambda: ln.db)])


def test_layernorm_matches_the_definition():
    rng = np.random.default_rng(0)
    ln = LayerNorm(C, "ln", dtype=F64)
    x = rng.standard_normal((5, C))
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(ln.forward(x), want, atol=1e-12)


def test_gelu():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5)) * 2
    R = rng.standard_normal(x.shape)
    out, t = gelu_forward(x)
    exact_tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    np.testing.assert_allclose(out, exact_tanh_form, atol=1e-12)
    dx = gelu_backward(R, x, t)
    assert rel_err(dx, numerical_grad(lambda: float(np.sum(gelu_forward(x)[0] * R)), x)) < 1e-5


@pytest.mark.parametrize("parts", [{}, {"score": SQUARED}, {"scale": UNSCALED}, {"mask": FLIPPED},
                                   {"mask": NO_MASK}])
def test_attention(parts):
    rng = np.random.default_rng(0)
    att = CausalSelfAttention(C, NH, rng, dtype=F64, **parts)
    ps = [att.c_attn.w, att.c_attn.b, att.c_proj.w, att.c_proj.b]
    scale_up(ps, rng)
    x = rng.standard_normal((B * T, C))
    check_layer(
        att,
        lambda x: att.forward(x, B, T),
        lambda d: att.backward(d, B, T),
        x,
        [(att.c_attn.w, lambda: att.c_attn.dw), (att.c_attn.b, lambda: att.c_attn.db),
         (att.c_proj.w, lambda: att.c_proj.dw), (att.c_proj.b, lambda: att.c_proj.db)],
    )


def test_attention_matches_a_loop_over_heads():
    """The batched (B, nh, T, hs) code computes what one head at a time would."""
    rng = np.random.default_rng(0)
    att = CausalSelfAttention(C, NH, rng, dtype=F64)
    scale_up([att.c_attn.w, att.c_attn.b], rng)
    x = rng.standard_normal((B * T, C))
    out = att.forward(x, B, T)
    qkv = (x @ att.c_attn.w + att.c_attn.b).reshape(B, T, 3 * C)
    hs = C // NH
    heads = []
    for h in range(NH):
        q = qkv[:, :, h * hs : (h + 1) * hs]
        k = qkv[:, :, C + h * hs : C + (h + 1) * hs]
        v = qkv[:, :, 2 * C + h * hs : 2 * C + (h + 1) * hs]
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        s = np.where(np.tril(np.ones((T, T))) == 1, s, -np.inf)
        w = np.exp(s - s.max(-1, keepdims=True))
        heads.append((w / w.sum(-1, keepdims=True)) @ v)
    y = np.concatenate(heads, axis=-1).reshape(B * T, C)
    np.testing.assert_allclose(out, y @ att.c_proj.w + att.c_proj.b, atol=1e-12)


def test_mlp():
    rng = np.random.default_rng(0)
    mlp = MLP(C, rng, dtype=F64)
    scale_up([mlp.c_fc.w, mlp.c_fc.b, mlp.c_proj.w, mlp.c_proj.b], rng)
    x = rng.standard_normal((B * T, C))
    check_layer(
        mlp,
        lambda x: mlp.forward(x, B, T),
        lambda d: mlp.backward(d, B, T),
        x,
        [(mlp.c_fc.w, lambda: mlp.c_fc.dw), (mlp.c_proj.b, lambda: mlp.c_proj.db)],
    )


@pytest.mark.parametrize("block, norm", [(Block, LayerNorm), (BlockWithoutResidual, LayerNorm),
                                         (Block, NoNorm)])
def test_block(block, norm):
    rng = np.random.default_rng(0)
    blk = block(C, NH, rng, prefix="h0.", dtype=F64, norm=norm)
    for _, layer, attr in blk.named_params():
        scale_up([getattr(layer, attr)], rng)
    x = rng.standard_normal((B * T, C))
    params = [(getattr(layer, a), (lambda layer=layer, a=a: getattr(layer, "d" + a)))
              for _, layer, a in blk.named_params()]
    check_layer(blk, lambda x: blk.forward(x, B, T), lambda d: blk.backward(d, B, T), x, params)


@pytest.mark.parametrize("positions", [LearnedPositions, SinusoidalPositions])
def test_embedding(positions):
    rng = np.random.default_rng(0)
    emb = Embedding(5, 6, C, rng, positions, dtype=F64)
    idx = rng.integers(0, 5, (B, T))
    R = rng.standard_normal((B * T, C))
    emb.forward(idx)
    emb.backward(R)

    def loss():
        return float(np.sum(emb.forward(idx) * R))

    assert rel_err(emb.dwte, numerical_grad(loss, emb.wte)) < 1e-5
    if positions is LearnedPositions:
        assert rel_err(emb.positions.dwpe, numerical_grad(loss, emb.positions.wpe)) < 1e-5


def test_sinusoidal_positions_formula():
    pe = sinusoidal_positions(10, 6, F64)
    for pos in (0, 3, 9):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i] == pytest.approx(np.sin(angle))
            assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(angle))


@pytest.mark.parametrize("switches", [{}, {"pos": "sinusoidal"}, {"pos": "none", "layernorm": False},
                                      {"bias": False, "residual": False}])
def test_whole_model_gradient(switches):
    n_layer = 1 if switches else 2  # two blocks once, to check the gradient crossing a block
    cfg = GPTConfig(vocab_size=7, block_size=5, n_layer=n_layer, n_head=2, n_embd=8, **switches)
    model = GPT(cfg, seed=0, dtype=F64)
    rng = np.random.default_rng(1)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.3
    idx, targets = rng.integers(0, 7, (2, 4)), rng.integers(0, 7, (2, 4))
    model.forward(idx, targets)
    model.backward()
    analytic = model.flat_grads.copy()
    numeric = numerical_grad(lambda: model.forward(idx, targets)[1], model.flat_params)
    assert rel_err(analytic, numeric) < 1e-5
    for name, g in model.grads.items():  # and tensor by tensor, so a failure names the layer
        start = (g.ctypes.data - model.flat_grads.ctypes.data) // 8
        part = numeric[start : start + g.size]
        assert rel_err(analytic[start : start + g.size], part) < 1e-5, name


def test_future_tokens_never_change_earlier_logits():
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    model = GPT(cfg, seed=3)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 11, (1, 8))
    base, _ = model.forward(idx)
    for t in range(8):
        changed = idx.copy()
        changed[0, t] = (changed[0, t] + 1 + rng.integers(0, 9)) % 11
        logits, _ = model.forward(changed)
        np.testing.assert_array_equal(logits[0, :t], base[0, :t])
        assert not np.allclose(logits[0, t], base[0, t])


def test_trace_shapes_match_the_symbols():
    cfg = GPTConfig(vocab_size=9, block_size=6, n_layer=2, n_head=2, n_embd=8)
    model = GPT(cfg, seed=0)
    tracer = Tracer(dims=model.dims(3, 5))
    rng = np.random.default_rng(0)
    model.forward(rng.integers(0, 9, (3, 5)), rng.integers(0, 9, (3, 5)), tracer=tracer)
    model.backward(tracer=tracer)
    assert tracer.mismatches() == []
    names = set(tracer.names())
    for name in ["idx", "tok_emb", "pos_emb", "x", "h0.ln_1", "h0.q", "h0.k", "h0.v", "h0.att_scores",
                 "h0.att_masked", "h0.att", "h0.y_heads", "h0.y", "h0.attn_out", "h0.x_attn", "h0.ln_2",
                 "h0.fc", "h0.gelu", "h0.mlp_out", "h1.x_out", "ln_f", "logits", "loss", "dlogits",
                 "h0.datt", "h0.dq", "h0.dk", "h0.dv", "dwte", "dwpe", "h0.attn.c_attn.dw",
                 "h1.mlp.c_fc.dw", "h0.ln_1.dw", "h0.attn.c_attn.w"]:
        assert name in names, name
    assert tracer["h1.att"].shape == (3, 2, 5, 5)
    assert tracer["h0.fc"].symbolic == ("B", "T", "4*C")
    assert tracer["h0.attn.c_attn.dw"].shape == (8, 24)
    assert all(r.phase == "backward" for r in tracer if r.name.startswith("d") or ".d" in r.name)
    # the softmax rows sum to one and the future gets no weight
    att = tracer["h0.att"].value
    np.testing.assert_allclose(att.sum(-1), 1, rtol=1e-5)
    assert np.all(att[..., np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0)


def test_standalone_attention_uses_short_names():
    rng = np.random.default_rng(0)
    att = CausalSelfAttention(8, 2, rng, prefix="")
    tracer = Tracer(dims={"B": 1, "T": 3, "C": 8, "nh": 2, "hs": 4})
    att.forward(rng.standard_normal((3, 8)).astype(np.float32), 1, 3, tracer)
    assert {"q", "k", "v", "att", "y", "attn.c_attn.w"} <= set(tracer.names())
    assert tracer.mismatches() == []


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"n_embd": 130, "n_head": 4}, "not divisible by n_head"),
        ({"n_embd": 0}, "n_embd must be a positive"),
        ({"n_layer": 0}, "n_layer must be a positive"),
        ({"block_size": -3}, "block_size must be a positive"),
        ({"pos": "rotary"}, "pos must be one of"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_config_refuses_bad_sizes(kwargs, words):
    with pytest.raises(KqvError, match=words):
        GPTConfig(**kwargs)


def test_head_message_lists_every_valid_head_count_in_order():
    with pytest.raises(KqvError) as exc:
        GPTConfig(n_embd=130, n_head=4)
    assert "use n_head in {1, 2, 5, 10, 13, 26, 65, 130}" in str(exc.value)


def test_whole_model_gradient_with_dropout():
    """Dropout's backward reuses the forward's mask: with the same draws, the check holds."""
    cfg = GPTConfig(vocab_size=7, block_size=5, n_layer=1, n_head=2, n_embd=8, dropout=0.2)
    model = GPT(cfg, seed=0, dtype=F64)
    rng = np.random.default_rng(1)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.3
    idx, targets = rng.integers(0, 7, (2, 4)), rng.integers(0, 7, (2, 4))

    def loss():
        return model.forward(idx, targets, rng=np.random.default_rng(9))[1]

    loss()
    model.backward()
    analytic = model.flat_grads.copy()
    assert rel_err(analytic, numerical_grad(loss, model.flat_params)) < 1e-5
    assert loss() != model.forward(idx, targets)[1]  # dropout did change the forward pass


@pytest.mark.parametrize("switches", [{}, {"bias": False}, {"pos": "sinusoidal"}, {"pos": "none"},
                                      {"layernorm": False}, {"bias": False, "n_layer": 3}])
def test_counted_parameters_are_the_arrays_the_model_holds(switches):
    sizes = {"vocab_size": 13, "block_size": 7, "n_layer": 2, "n_head": 3, "n_embd": 12}
    cfg = GPTConfig(**{**sizes, **switches})
    counted = count_parameters(cfg)
    model = GPT(cfg)
    assert sum(counted.values()) == model.num_params
    assert counted["wte"] == model.params["wte"].size
    assert counted["blocks"] == sum(a.size for n, a in model.params.items() if n.startswith("h"))


def test_gpt2_small_has_124_million_parameters():
    """12 layers, 12 heads, C = 768, V = 50257, block 1024, biases: 124,439,808 (nanoGPT reports
    123.65M because it leaves out the position table)."""
    counted = count_parameters(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12,
                                         n_embd=768))
    assert sum(counted.values()) == 124_439_808
    assert sum(counted.values()) - counted["wpe"] == 123_653_376


def test_trace_labels_say_what_was_recorded_dropout_and_bias_included():
    idx = np.arange(B * T).reshape(B, T) % 5
    model = GPT(GPTConfig(vocab_size=5, block_size=T, n_layer=1, n_head=NH, n_embd=C, dropout=0.3,
                          bias=False), seed=0, dtype=F64)
    train, evaluate = Tracer(), Tracer()
    model.forward(idx, idx, tracer=train, rng=np.random.default_rng(0))
    model.forward(idx, idx, tracer=evaluate)
    att = train["h0.att"]
    assert "dropout" in att.formula and "sums to 1" not in att.note
    assert not np.allclose(att.value.sum(-1), 1)  # what the label no longer claims
    assert "dropout" in train["h0.attn_out"].formula and "dropout" in train["h0.mlp_out"].formula
    assert "dropout" not in evaluate["h0.att"].formula and "sums to 1" in evaluate["h0.att"].note
    np.testing.assert_allclose(evaluate["h0.att"].value.sum(-1), 1)
    assert all("+" not in evaluate[n].formula.split("   ")[0] for n in ("h0.qkv", "h0.fc", "h0.mlp_out"))
    assert "+ b" not in evaluate["h0.ln_1"].formula  # --no-bias: no b to add


def test_flat_slice_finds_each_parameter_in_the_flat_buffers():
    model = GPT(GPTConfig(vocab_size=5, block_size=T, n_layer=2, n_head=NH, n_embd=C), seed=0)
    for name, view in model.params.items():
        part = model.flat_slice(name)
        assert np.shares_memory(model.flat_params[part], view)
        np.testing.assert_array_equal(model.flat_params[part].reshape(view.shape), view)
        assert np.shares_memory(model.flat_grads[part].reshape(view.shape), model.grads[name])


# -- the pieces the encoder–decoder adds to the shared layers ------------------------------------


def test_key_padding_hides_the_padding_keys_and_keeps_the_gradient_right():
    """An encoder's attention (mask=NO_MASK) with a padded batch: a padding key gets weight
    exactly 0 in every row, changing what sits at a padding position changes no real output,
    and the backward still matches finite differences."""
    rng = np.random.default_rng(0)
    att = CausalSelfAttention(C, NH, rng, dtype=F64, mask=NO_MASK, seq="S")
    scale_up([att.c_attn.w, att.c_attn.b, att.c_proj.w, att.c_proj.b], rng)
    key_pad = np.zeros((B, T), dtype=bool)
    key_pad[1, T - 2:] = True  # the second sentence is two tokens shorter
    x = rng.standard_normal((B * T, C))
    out = att.forward(x, B, T, key_pad=key_pad)
    assert np.all(att.att_soft[1, :, :, T - 2:] == 0) and np.all(att.att_soft[0] > 0)
    x2 = x.copy()
    x2.reshape(B, T, C)[1, T - 2:] += 5.0  # different "padding"
    out2 = att.forward(x2, B, T, key_pad=key_pad)
    real = ~key_pad.reshape(-1)
    np.testing.assert_allclose(out2[real], out[real], atol=1e-12)
    check_layer(
        att,
        lambda x: att.forward(x, B, T, key_pad=key_pad),
        lambda d: att.backward(d, B, T),
        x,
        [(att.c_attn.w, lambda: att.c_attn.dw), (att.c_proj.w, lambda: att.c_proj.dw)],
    )


def test_padding_mask_is_traced_with_the_source_letter():
    rng = np.random.default_rng(0)
    att = CausalSelfAttention(C, NH, rng, prefix="enc.h0.", dtype=F64, mask=NO_MASK, seq="S")
    tracer = Tracer(dims={"B": B, "S": T, "C": C, "nh": NH, "hs": C // NH})
    att.forward(rng.standard_normal((B * T, C)), B, T, tracer, key_pad=np.zeros((B, T), bool))
    assert tracer["enc.h0.att"].symbolic == ("B", "nh", "S", "S")
    assert tracer["enc.h0.pad_mask"].shape == (B, 1, 1, T)
    assert tracer.mismatches() == []


@pytest.mark.parametrize("activation", ["relu", "gelu", "silu"])
def test_mlp_activations(activation):
    rng = np.random.default_rng(0)
    mlp = MLP(C, rng, dtype=F64, hidden=3 * C, activation=activation, sym_hidden="d_ff")
    scale_up([mlp.c_fc.w, mlp.c_fc.b, mlp.c_proj.w, mlp.c_proj.b], rng)
    x = rng.standard_normal((B * T, C))
    fc = x @ mlp.c_fc.w + mlp.c_fc.b
    act = {"relu": np.maximum(fc, 0), "silu": fc / (1 + np.exp(-fc)),
           "gelu": 0.5 * fc * (1 + np.tanh(np.sqrt(2 / np.pi) * (fc + 0.044715 * fc**3)))}[activation]
    np.testing.assert_allclose(mlp.forward(x, B, T), act @ mlp.c_proj.w + mlp.c_proj.b, atol=1e-12)
    check_layer(
        mlp,
        lambda x: mlp.forward(x, B, T),
        lambda d: mlp.backward(d, B, T),
        x,
        [(mlp.c_fc.w, lambda: mlp.c_fc.dw), (mlp.c_fc.b, lambda: mlp.c_fc.db),
         (mlp.c_proj.w, lambda: mlp.c_proj.dw)],
    )


def test_mlp_refuses_an_unknown_activation():
    with pytest.raises(KqvError, match="activation must be one of"):
        MLP(C, np.random.default_rng(0), activation="tanh")


def test_sinusoidal_positions_in_halves_hold_the_same_numbers_in_another_order():
    """Marian's layout: column j < C/2 is sin(pos/10000^(2j/C)), column C/2 + j its cosine."""
    inter, halves = sinusoidal_positions(9, 8, F64), sinusoidal_positions(9, 8, F64, layout="halves")
    np.testing.assert_array_equal(halves[:, :4], inter[:, 0::2])
    np.testing.assert_array_equal(halves[:, 4:], inter[:, 1::2])
    assert halves[5, 1] == pytest.approx(np.sin(5 / 10000 ** (2 / 8)))
