"""heads: split_heads and merge_heads, the reshape and the transpose, graded against the layer."""

from __future__ import annotations

import numpy as np

from engine.attention import CausalSelfAttention
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("B", "T", "C", "nh", "hs")):
        rng = rng_for("heads", i)
        B, T, C, nh = dims["B"], dims["T"], dims["C"], dims["nh"]
        layer = CausalSelfAttention(C, nh, rng, prefix="", dtype=np.float64)
        layer.c_attn.w[...] = rng.standard_normal(layer.c_attn.w.shape)  # lively q, k, v
        tracer = Tracer(dims=dims)
        layer.forward(rng.standard_normal((B * T, C)), B, T, tracer)
        qkv, y_heads = tracer["qkv"].value, tracer["y_heads"].value
        calls = [Call("split_heads", {"qkv": qkv, "n_head": nh}, ["q", "k", "v"]),
                 Call("merge_heads", {"y_heads": y_heads}, "y")]
        out.append(traced_case(tracer, calls, ["q", "k", "v", "y"], {}))
    return out


def _without_swap(c):
    B, T, C, nh, hs = (c.dims[n] for n in ("B", "T", "C", "nh", "hs"))
    return c.value("qkv")[..., :C].reshape(B, nh, T, hs)


def _cut_inside_heads(c):
    B, T, nh, hs = (c.dims[n] for n in ("B", "T", "nh", "hs"))
    return c.value("qkv").reshape(B, T, nh, 3, hs)[:, :, :, 0].transpose(0, 2, 1, 3)


def _merged(c, axes):
    B, T, C = (c.dims[n] for n in ("B", "T", "C"))
    return c.value("y_heads").transpose(axes).reshape(B, T, C)


MISTAKES = (
    Mistake("reshaped without the swap",
            "view (B, T, C) as (B, T, nh, hs) first (the channels of one token are split into "
            "heads), then swap T and nh. Reshaping straight to (B, nh, T, hs) gives the right shape "
            "with channels of different tokens mixed into one head.",
            lambda c: {"q": _without_swap(c)},
            (".reshape(B, T, n_head, hs).transpose(0, 2, 1, 3)", ".reshape(B, n_head, T, hs)")),
    Mistake("q, k, v cut inside each head",
            "the 3·C columns are laid out (3, nh, hs): first all of q's C columns, then k's, then "
            "v's. Cut qkv into three blocks of C first, then each block into heads.",
            lambda c: {"q": _cut_inside_heads(c)},
            ("np.split(qkv, 3, axis=-1)",
             "np.moveaxis(qkv.reshape(B, T, n_head, 3, hs), 3, 0).reshape(3, B, T, -1)")),
    Mistake("merged without the swap back",
            "swap nh and T back, (B, nh, T, hs) -> (B, T, nh, hs), before the reshape: reshaping "
            "(B, nh, T, hs) straight to (B, T, C) mixes tokens and heads.",
            lambda c: {"y": _merged(c, (0, 1, 2, 3))},
            ("y_heads.transpose(0, 2, 1, 3).reshape", "y_heads.reshape")),
    Mistake("channels before heads when merging",
            "after the swap the axes are (B, T, nh, hs): head 0's hs channels, then head 1's. "
            "Putting hs before nh interleaves the heads' channels.",
            lambda c: {"y": _merged(c, (0, 2, 3, 1))},
            ("y_heads.transpose(0, 2, 1, 3)", "y_heads.transpose(0, 2, 3, 1)")),
)

EXERCISE = Exercise(
    name="heads",
    title="split heads and merge heads",
    step="heads",
    function="merge_heads",
    phase="forward",
    text=(
        "Attention runs nh heads side by side in one array. Write the two reshapes around it. "
        "split_heads cuts qkv (B, T, 3·C) into q, k and v, each (B, T, C), views each as "
        "(B, T, nh, hs) and swaps T and nh: (B, nh, T, hs), so each head's (T, hs) slice is one "
        "matrix. merge_heads undoes it: swap back to (B, T, nh, hs), then view as (B, T, C). The "
        "order matters: the wrong order gives the right shapes and the wrong numbers."
    ),
    hints=(
        "Shapes: (B, T, 3·C) -> 3 × (B, T, C) -> (B, T, nh, hs) -> (B, nh, T, hs). Back: "
        "(B, nh, T, hs) -> (B, T, nh, hs) -> (B, T, C). hs = C // nh.",
        "Formulas: a reshape only regroups neighbouring axes; moving an axis takes a transpose. "
        "The heads live inside the channels of one token, so split the channel axis, then "
        "transpose (0, 2, 1, 3), which is its own inverse.",
        "Near-code: for part in np.split(qkv, 3, axis=-1): part.reshape(B, T, n_head, hs)"
        ".transpose(0, 2, 1, 3)  and  y_heads.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
