"""embedding: tok_emb + pos_emb, graded against the engine's Embedding layer."""

from __future__ import annotations

import numpy as np

from engine.gpt.blocks import Embedding, LearnedPositions
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import gpt_sets, rng_for, traced_case

BLOCK_SIZE = (8, 13)  # above V, so looking positions up by token id runs and can be named


def cases() -> list[Case]:
    out = []
    for i, dims in enumerate(gpt_sets("B", "T", "C", "V")):
        # the random set's: the first size above V and T that no other dim has
        dims["block_size"] = BLOCK_SIZE[i] if i < len(BLOCK_SIZE) else next(
            n for n in range(max(dims["V"], dims["T"]) + 1, 99) if n not in dims.values())
        rng = rng_for("embedding", i)
        B, T, C, V = dims["B"], dims["T"], dims["C"], dims["V"]
        layer = Embedding(V, dims["block_size"], C, rng, LearnedPositions, dtype=np.float64)
        layer.wte[...] = rng.standard_normal(layer.wte.shape)  # unit rows, easy to tell apart
        layer.positions.wpe[...] = rng.standard_normal(layer.positions.wpe.shape)
        idx = rng.integers(0, V, (B, T))
        tracer = Tracer(dims=dims)
        layer.forward(idx, tracer)
        args = {"idx": idx, "wte": layer.wte.copy(), "wpe": layer.positions.wpe.copy()}
        out.append(traced_case(tracer, [Call("embedding_forward", args, "x")],
                               ["tok_emb", "pos_emb", "x"], args))
    return out


def _T(c):
    return c.dims["T"]


MISTAKES = (
    Mistake("positions looked up by token id",
            "a position row depends on where the token is, not on which token it is: pos_emb is "
            "wpe[0:T], (T, C), the same for every sequence of the batch.",
            lambda c: {"pos_emb": c.value("wpe")[c.value("idx")]},
            ('show("pos_emb", wpe[:T])', 'show("pos_emb", wpe[idx])')),
    Mistake("positions counted from 1",
            "the first token sits at position 0: take rows 0..T−1 of wpe, wpe[:T].",
            lambda c: {"pos_emb": c.value("wpe")[1 : _T(c) + 1]},
            ("wpe[:T]", "wpe[1 : T + 1]")),
    Mistake("positions left out",
            "x adds the position rows to the token rows: without them attention cannot tell "
            "\"dog bites man\" from \"man bites dog\".",
            lambda c: {"x": c.value("tok_emb")},
            ("return tok_emb + pos_emb", "return tok_emb")),
    Mistake("multiplied, not added",
            "the token and the position vectors are added: x = tok_emb + pos_emb.",
            lambda c: {"x": c.value("tok_emb") * c.value("pos_emb")},
            ("return tok_emb + pos_emb", "return tok_emb * pos_emb")),
)

EXERCISE = Exercise(
    name="embedding",
    title="the embedding: tok_emb + pos_emb",
    step="embedding",
    function="embedding_forward",
    phase="forward",
    text=(
        "Write the GPT's first layer. Each token id picks its row of the token table wte (V, C), "
        "tok_emb = wte[idx], (B, T) -> (B, T, C): no multiplication, a lookup. Each position "
        "0..T−1 picks its row of the learned position table wpe (block_size, C), "
        "pos_emb = wpe[0:T], (T, C). Their sum x = tok_emb + pos_emb, (B, T, C), is what the "
        "first block reads; (T, C) broadcasts over the B sequences."
    ),
    hints=(
        "Shapes: indexing a (V, C) table with a (B, T) array of ids gives (B, T, C). The positions "
        "are the same for every sequence: (T, C), and (B, T, C) + (T, C) broadcasts.",
        "Formulas: tok_emb[b, t] = wte[idx[b, t]]; pos_emb[t] = wpe[t] for t = 0..T−1; "
        "x = tok_emb + pos_emb.",
        "Near-code: B, T = idx.shape; tok_emb = wte[idx]; pos_emb = wpe[:T]; return tok_emb + pos_emb",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
