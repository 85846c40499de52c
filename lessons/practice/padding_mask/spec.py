"""padding_mask: the source's padding hidden from the encoder's self-attention, graded against a
small encoder–decoder's own run (engine.translation.model.Transformer.encode, its first layer)."""

from __future__ import annotations

import numpy as np

from engine.trace import Tracer
from engine.translation.model import Transformer, TransformerConfig
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import rng_for

PAD, EOS, V = 0, 2, 13
GRADED = ["src_pad", "enc.h0.pad_mask", "enc.h0.att_masked", "enc.h0.att"]
# dims, the channels of the model, each source sentence's tokens (</s> included; the rest is padding)
SETS = (({"B": 2, "S": 5, "nh": 3}, 12, (5, 3)), ({"B": 3, "S": 7, "nh": 2}, 10, (4, 7, 2)))


def cases() -> list[Case]:
    out = []
    for i, (dims, C, lengths) in enumerate(SETS):
        rng = rng_for("padding_mask", i)
        B, S = dims["B"], dims["S"]
        src = np.full((B, S), PAD, dtype=np.int64)
        for b, n in enumerate(lengths):
            src[b, : n - 1], src[b, n - 1] = rng.integers(3, V, n - 1), EOS
        cfg = TransformerConfig(vocab_size=V, n_embd=C, n_head=dims["nh"], n_layer=1, n_dec_layer=1,
                                d_ff=2 * C, max_len=S, dropout=0.0)
        model = Transformer(cfg, seed=i, dtype=np.float64)
        tracer = Tracer(dims=dict(dims))
        model.encode(src, tracer)
        values = {r.name: r.value for r in tracer}
        values.update(pad_id=np.asarray(PAD))
        args = {"src": src, "pad_id": PAD, "att_scores": values["enc.h0.att_scores"]}
        out.append(Case(dims=dict(dims), calls=[Call("padded_attention", args, "enc.h0.att")],
                        expected=[tracer[name] for name in GRADED], values=values))
    return out


def _masked(c, hide):
    return {"enc.h0.att_masked": np.where(hide, -np.inf, c.value("enc.h0.att_scores"))}


MISTAKES = (
    Mistake("padding taken for the words",
            "src_pad is True where the source IS padding (src == pad_id): those are the keys to hide.",
            lambda c: {"src_pad": ~c.value("src_pad")},
            ("src == pad_id", "src != pad_id")),
    Mistake("the padding mask over the query axis",
            "padding is hidden as a key: the mask is (B, 1, 1, S), one row per sentence that every "
            "head and every query shares, so it hides columns. (B, 1, S, 1) hides rows: the padding's "
            "own queries, while every real token still reads the padding.",
            lambda c: {"enc.h0.pad_mask": c.value("src_pad")[:, None, :, None],
                       **_masked(c, c.value("src_pad")[:, None, :, None])},
            ("src_pad[:, None, None, :]", "src_pad[:, None, :, None]")),
    Mistake("padding scores set to 0",
            "a score of 0 still gets e⁰ = 1 in the softmax, as much as any other: set the padding's "
            "scores to −inf, whose e^−inf is exactly 0.",
            lambda c: {"enc.h0.att_masked": np.where(c.value("enc.h0.pad_mask"), 0.0,
                                                     c.value("enc.h0.att_scores"))},
            ("np.where(hidden, -np.inf, att_scores)", "np.where(hidden, 0.0, att_scores)")),
    Mistake("a causal mask in the encoder",
            "the encoder reads a sentence that is already whole: every source token sees every other, "
            "before and after it. Only the decoder's self-attention is causal.",
            lambda c: _masked(c, c.value("enc.h0.pad_mask")
                              | np.triu(np.ones((c.dims["S"],) * 2, dtype=bool), k=1)),
            ("hidden = pad_mask  #",
             "hidden = pad_mask | np.triu(np.ones((src.shape[1],) * 2, dtype=bool), k=1)  #")),
)

EXERCISE = Exercise(
    name="padding_mask",
    title="the padding mask of a batch of sentences",
    step="encoder-input",
    function="padded_attention",
    phase="forward",
    text=(
        "A batch pads its shorter sentences with pad_id to the longest's S tokens. Write the "
        "encoder's attention weights with that padding hidden: src_pad (B, S) is True where the "
        "source is padding; pad_mask views it as (B, 1, 1, S), so one row per sentence broadcasts "
        "over the heads and the queries and hides the padded columns; att_masked is the scores "
        "(B, nh, S, S) with those columns set to −inf (nothing causal: the encoder sees the whole "
        "sentence); att is the softmax over the last axis, each row summing to 1 over the real tokens."
    ),
    hints=(
        "Shapes: src (B, S) == pad_id is (B, S). Add two axes in the middle, [:, None, None, :], to "
        "get (B, 1, 1, S): against the scores (B, nh, S, S) the 1s stretch over the heads and the "
        "query rows, the last axis lines up with the key columns.",
        "Formulas: att_masked[b, h, i, j] = −inf where src[b, j] is padding, else att_scores[b, h, i, j]; "
        "att = exp(x − max) / Σ exp(x − max) along the last axis (e^−inf = 0).",
        "Near-code: src_pad = src == pad_id; pad_mask = src_pad[:, None, None, :]; "
        "att = np.where(pad_mask, -np.inf, att_scores); e = np.exp(att - att.max(axis=-1, keepdims=True)); "
        "return e / e.sum(axis=-1, keepdims=True)",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
