"""The trace's formula text says what ran: every what-if variant (a part swapped in) and the KV
cache's one-token rows, where nothing is masked and the keys number t, not T."""

import numpy as np
import pytest

from engine.attention_parts import FLIPPED, NO_MASK, SQUARED, UNSCALED
from engine.gpt.blocks import BlockWithoutResidual, NoNorm, NoPositions, SinusoidalPositions
from engine.gpt.config import GPTConfig, swapped
from engine.gpt.model import GPT
from engine.trace import Tracer

SIZES = {"vocab_size": 11, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 8}
B, T = 2, 5


def traced(with_backward=True, **changes) -> Tracer:
    model = GPT(GPTConfig(**SIZES, **changes), seed=0)
    rng = np.random.default_rng(0)
    idx, targets = rng.integers(0, 11, (B, T)), rng.integers(0, 11, (B, T))
    tracer = Tracer(dims=model.dims(B, T))
    model.forward(idx, targets if with_backward else None, tracer=tracer)
    if with_backward:
        model.backward(tracer)
    return tracer


def formula(tracer: Tracer, name: str) -> str:
    return tracer[name].formula


def test_the_standard_gpt_scales_by_root_hs_and_hides_the_upper_triangle():
    tr = traced()
    assert formula(tr, "h0.att_scores").startswith("q @ kᵀ · 1/√hs   (B, nh, T, hs) @ (B, nh, hs, T)")
    assert formula(tr, "h0.att_masked") == "att_scores with the upper triangle set to -inf"
    # datt_scores is the gradient at att_scores as recorded (already scaled); the 1/√hs of the
    # chain rule comes on the way to q and k
    assert formula(tr, "h0.datt_scores") == "att ⊙ (datt − Σ_row datt ⊙ att)"
    assert formula(tr, "h0.x_attn") == "x + attn_out (the residual)"
    assert formula(tr, "h0.ln_1").startswith("LayerNorm(x) = (x − mean)/√(var + ε)")
    assert formula(tr, "h0.dq") == "(datt_scores · 1/√hs) @ k"
    assert formula(tr, "h0.dk") == "(datt_scores · 1/√hs)ᵀ @ q"
    assert formula(tr, "pos_emb") == "wpe[0:T]"


def test_no_scale_never_says_root_hs():
    tr = traced(scale=False)
    for name in ("h0.att_scores", "h0.datt_scores", "h0.dq", "h0.dk"):
        assert "√hs" not in formula(tr, name), name
    assert formula(tr, "h0.dq") == "datt_scores @ k"
    assert formula(tr, "h0.att_scores").startswith("q @ kᵀ   (B, nh, T, hs)")


def test_squared_scores_say_squares_forward_and_backward():
    tr = traced(score="squared")
    assert formula(tr, "h0.att_scores").startswith("q² @ (k²)ᵀ · 1/√hs")
    assert formula(tr, "h0.dq") == "((datt_scores · 1/√hs) @ k²) ⊙ 2q"
    assert formula(tr, "h0.dk") == "((datt_scores · 1/√hs)ᵀ @ q²) ⊙ 2k"


def test_the_flipped_mask_hides_the_lower_triangle_and_says_so():
    tr = traced(mask="flipped")
    text = formula(tr, "h0.att_masked")
    assert text == "att_scores with the lower triangle set to -inf" and "upper" not in text
    masked = tr["h0.att_masked"].value
    assert np.isneginf(masked[0, 0, 1, 0]) and np.isfinite(masked[0, 0, 0, 1])  # past hidden, future seen


def test_no_mask_says_nothing_is_hidden():
    tr = traced(mask="none")
    assert "-inf" not in formula(tr, "h0.att_masked") and "no mask" in tr["h0.att_masked"].note
    assert np.isfinite(tr["h0.att_masked"].value).all()


def test_without_residuals_the_blocks_say_they_replace_x():
    tr = traced(residual=False)
    assert formula(tr, "h0.x_attn").startswith("attn_out (no residual")
    assert formula(tr, "h0.x_out").startswith("mlp_out (no residual")
    assert "dx_out +" not in formula(tr, "h0.dx_attn")


def test_without_layernorm_nothing_claims_a_layernorm():
    tr = traced(layernorm=False)
    for name in ("h0.ln_1", "h0.ln_2", "ln_f", "h0.dx_attn"):
        assert "LayerNorm(" not in formula(tr, name) and "LayerNorm′" not in formula(tr, name), name
    assert formula(tr, "h0.ln_1") == "x, unchanged (no LayerNorm)"
    assert formula(tr, "h0.dx_attn") == "dx_out + dln_2"


@pytest.mark.parametrize("pos, text", [("sinusoidal", "PE(t, 2i) = sin"),
                                       ("none", "no position information")])
def test_each_position_code_names_itself(pos, text):
    assert formula(traced(pos=pos), "pos_emb").startswith(text)


def generate_one(mask: str = "causal") -> tuple[Tracer, int]:
    """A prompt of T tokens into the KV cache, then one more token traced: its row is 1×t."""
    model = GPT(GPTConfig(**SIZES, mask=mask), seed=0)
    cache = model.kv_cache(B)
    model.forward(np.zeros((B, T), dtype=np.int64), cache=cache)
    t = T + 1
    tracer = Tracer(dims=model.dims(B, 1, t))
    model.forward(np.ones((B, 1), dtype=np.int64), tracer=tracer, cache=cache)
    return tracer, t


def test_a_cached_token_is_not_said_to_be_masked_and_its_keys_are_t():
    tr, t = generate_one()
    masked = tr["h0.att_masked"]
    assert "-inf" not in masked.formula and "triangle" not in masked.formula
    assert "nothing is hidden" in masked.formula and "every one" in masked.note
    assert np.isfinite(masked.value).all() and masked.shape == (B, 2, 1, t)
    assert formula(tr, "h0.att_scores").endswith("(B, nh, T, hs) @ (B, nh, hs, t)")
    assert formula(tr, "h0.y_heads") == "att @ v   (B, nh, T, t) @ (B, nh, t, hs)"
    for name in ("h0.att_scores", "h0.att_masked", "h0.att", "h0.y_heads", "h0.k_cache"):
        assert tr[name].symbolic_matches(tr.dims), name  # the letters are the numbers that ran
    assert tr["h0.att"].symbolic == ("B", "nh", "T", "t")


def test_a_cached_token_under_the_flipped_mask_sees_only_itself():
    tr, t = generate_one("flipped")
    masked = tr["h0.att_masked"]
    assert "-inf" in masked.formula and "triangle" not in masked.formula
    assert np.isneginf(masked.value[..., : t - 1]).all() and np.isfinite(masked.value[..., -1]).all()


@pytest.mark.parametrize("parts", [{"mask": FLIPPED}, {"mask": NO_MASK}, {"score": SQUARED},
                                   {"scale": UNSCALED}, {"residual": BlockWithoutResidual},
                                   {"layernorm": NoNorm}, {"pos": SinusoidalPositions},
                                   {"pos": NoPositions}])
def test_the_part_a_variant_swaps_in_is_the_part_the_model_runs(parts):
    """The lab writes variants with parts (swapped); the config records their names; the model
    built from that config holds those very parts."""
    model = GPT(GPTConfig(**SIZES, **swapped(**parts)), seed=0)
    block = model.h[0]
    built = {"mask": block.attn.mask, "score": block.attn.score, "scale": block.attn.scale,
             "residual": type(block), "layernorm": type(block.ln_1), "pos": type(model.embed.positions)}
    for name, part in parts.items():
        assert built[name] is part, name
