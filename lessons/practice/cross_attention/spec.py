"""cross_attention: the decoder's attention over the source, graded against the engine's own
cross-attention layer (engine.translation.cross_attention.CrossAttention), the key-padding mask included."""

from __future__ import annotations

import math

import numpy as np

from engine.trace import Tracer
from engine.translation.cross_attention import CrossAttention
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import rng_for

GRADED = ["cross.q", "cross.k", "cross.v", "cross.att_scores", "cross.att_masked", "cross.att", "cross.y"]
# dims (S ≠ T, so a source axis never passes for a target one), each sentence's real source tokens
SETS = (({"B": 2, "T": 5, "S": 7, "C": 12, "nh": 3, "hs": 4}, (7, 4)),
        ({"B": 3, "T": 4, "S": 6, "C": 10, "nh": 2, "hs": 5}, (3, 6, 5)))


def cases() -> list[Case]:
    out = []
    for i, (dims, lengths) in enumerate(SETS):
        rng = rng_for("cross_attention", i)
        B, T, S, C, nh = dims["B"], dims["T"], dims["S"], dims["C"], dims["nh"]
        layer = CrossAttention(C, nh, "", dropout=0.0, dtype=np.float64)
        args = {"x": rng.standard_normal((B, T, C)), "memory": rng.standard_normal((B, S, C)),
                "src_pad": np.arange(S)[None, :] >= np.array(lengths)[:, None]}  # (B, S) True at padding
        for name, linear in (("q", layer.c_q), ("kv", layer.c_kv), ("proj", layer.c_proj)):
            linear.w[...] = rng.standard_normal(linear.w.shape) / math.sqrt(C)
            linear.b[...] = rng.standard_normal(linear.b.shape) * 0.1
            args[f"w_{name}"], args[f"b_{name}"] = linear.w, linear.b
        del args["w_proj"], args["b_proj"]  # c_proj comes after cross.y: not the learner's
        args["n_head"] = nh
        tracer = Tracer(dims=dict(dims))
        layer.forward(args["x"].reshape(B * T, C), args["memory"].reshape(B * S, C), B, T, S, args["src_pad"],
                      tracer)
        values = {r.name: r.value for r in tracer}
        values.update({k: np.asarray(v) for k, v in args.items()})
        out.append(Case(dims=dict(dims), calls=[Call("cross_attention_forward", args, "cross.y")],
                        expected=[tracer[name] for name in GRADED], values=values))
    return out


def _heads(c, a, part):
    """Columns ``part`` (0: the keys', 1: the values') of ``a @ w_kv + b_kv``, as (B, nh, L, hs) heads."""
    B, L, C = a.shape
    kv = a @ c.value("w_kv") + c.value("b_kv")  # (B, L, 2C)
    nh = c.dims["nh"]
    return kv[..., part * C:(part + 1) * C].reshape(B, L, nh, C // nh).transpose(0, 2, 1, 3)


def _hidden(c, causal):
    scores, pad = c.value("cross.att_scores"), c.value("src_pad")[:, None, None, :]
    hide = pad | np.triu(np.ones(scores.shape[-2:], dtype=bool), k=1) if causal else np.zeros_like(pad)
    return np.where(hide, -np.inf, scores)


MISTAKES = (
    Mistake("keys and values from the decoder",
            "in cross-attention the queries come from the decoder (what the word being written asks) "
            "but the keys and values come from the memory, the encoder's output: they describe the "
            "source words and carry what is passed on. k and v are (B, nh, S, hs), not (B, nh, T, hs).",
            lambda c: {"cross.k": _heads(c, c.value("x"), 0), "cross.v": _heads(c, c.value("x"), 1)},
            ("kv = memory @ w_kv + b_kv", "kv = x @ w_kv + b_kv")),
    Mistake("queries from the memory",
            "the queries are the target's: one per target place, x @ w_q + b_q, (B, nh, T, hs). The "
            "source answers them; it does not ask.",
            lambda c: {"cross.q": (c.value("memory") @ c.value("w_q") + c.value("b_q")).reshape(
                c.dims["B"], c.dims["S"], c.dims["nh"], c.dims["hs"]).transpose(0, 2, 1, 3)},
            ("q = x @ w_q + b_q", "q = memory @ w_q + b_q")),
    Mistake("keys and values swapped",
            "c_kv's first C output columns are the keys, the next C the values.",
            lambda c: {"cross.k": c.value("cross.v")},
            ("k, v = kv[..., :C], kv[..., C:]", "v, k = kv[..., :C], kv[..., C:]")),
    Mistake("a causal mask in cross-attention",
            "the causal mask belongs to the decoder's self-attention, over the target. The whole "
            "source is known before the first word is written, so every target place may read every "
            "source token: hide only the padding.",
            lambda c: {"cross.att_masked": _hidden(c, causal=True)},
            ("hidden = src_pad[:, None, None, :]",
             "hidden = src_pad[:, None, None, :] | np.triu(np.ones((T, memory.shape[1]), dtype=bool), k=1)")),
    Mistake("padding not hidden",
            "a batch pads its shorter sentences; no target place may take anything from padding, "
            "so set the padding keys' scores to −inf before the softmax (src_pad, broadcast over the "
            "heads and the queries as (B, 1, 1, S)).",
            lambda c: {"cross.att_masked": _hidden(c, causal=False)},
            ("att = show(\"cross.att_masked\", np.where(hidden, -np.inf, att))",
             "att = show(\"cross.att_masked\", att)")),
)

EXERCISE = Exercise(
    name="cross_attention",
    title="cross-attention, with the key-padding mask",
    step="cross-attention",
    function="cross_attention_forward",
    phase="forward",
    text=(
        "Write the decoder's attention over the source. The queries come from the decoder's stream "
        "x (B, T, C), the keys and values from the encoder's output, the memory (B, S, C): "
        "q = x @ w_q + b_q, and memory @ w_kv + b_kv split into k (its first C columns) and v (the "
        "next C), each cut into nh heads of hs. The scores q @ kᵀ / √hs are (B, nh, T, S): one row per "
        "target place, one column per source token. Nothing is causal here; only the source's "
        "padding (src_pad, True at padding) is set to −inf. Softmax over the source axis, then "
        "att @ v, and the heads side by side again: y (B, T, C)."
    ),
    hints=(
        "Shapes: q (B, nh, T, hs) and k, v (B, nh, S, hs): view (B, L, C) as (B, L, nh, hs) and swap "
        "L and nh. att (B, nh, T, S) = q @ kᵀ. src_pad (B, S) becomes (B, 1, 1, S) to broadcast over "
        "the heads and the queries. att @ v is (B, nh, T, hs); swap back and view as (B, T, C).",
        "Formulas: att_scores = q kᵀ / √hs; att_masked = −inf where the key is padding; att = softmax "
        "over the last axis (the source); y_heads = att v; y = the heads side by side.",
        "Near-code: kv = memory @ w_kv + b_kv; k, v = kv[..., :C], kv[..., C:]; "
        "heads = lambda a: a.reshape(B, -1, n_head, hs).transpose(0, 2, 1, 3); "
        "att = np.where(src_pad[:, None, None, :], -np.inf, q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)); "
        "y = (softmax(att) @ v).transpose(0, 2, 1, 3).reshape(B, T, C)",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
