"""Step script of lessons/attention.md: one GPT block from engine/gpt.py on a sentence, traced.

The text is word-level: lower-cased words and "." split on spaces, so each token is a whole
word the learner can read. Row 0 of the batch is always the seed's sentence, "the pizza came
out of the oven and it tasted good ."; the other B − 1 rows start at the other sentences of a
small made-up text, and every row runs on into the following sentence when T is longer.

Two runs of the same untrained one-block model (sinusoidal positions, dropout 0.1):

* ``block``: evaluation mode (no rng), so dropout is the identity; the lesson walks this one;
* ``dropout``: training mode (an rng), to show what dropout does to the attention weights.

All the maths is the engine's: this module only makes token ids and picks views of the trace.
"""

from __future__ import annotations

import numpy as np

from engine.errors import KqvError
from engine.gpt import GPT, GPTConfig
from engine.layers import check_heads, sinusoidal_positions
from engine.trace import Tracer
from lessons.model import TraceRun

SENTENCES = [
    "the pizza came out of the oven and it tasted good .",
    "the cat slept next to the warm oven all night .",
    "she cut the pizza into eight slices and ate two .",
    "the oven was hot so the cheese melted fast .",
    "he put the bread in the oven and it rose .",
    "we shared the pizza and it was gone soon .",
    "the dog watched the oven door and waited .",
    "after dinner the kitchen smelled of warm bread .",
]
STREAM = " ".join(SENTENCES).split()
VOCAB = sorted(set(STREAM))  # the id of a word is its place in this list
STARTS = [sum(len(s.split()) for s in SENTENCES[:i]) for i in range(len(SENTENCES))]
BLOCK_SIZE = 16  # the longest T the lesson allows
DROPOUT = 0.1
QUERY_WORD, QUERY_POS = "it", SENTENCES[0].split().index("it")  # position 8 of row 0

EXTRAS = {"tokens", "pe_heatmap", "attn_heatmap", "attends", "loss"}


def full_dims(dims: dict) -> dict[str, int]:
    """The learner's B, T, C, nh plus hs = C // nh, V and the model's fixed sizes."""
    B, T, C, nh = (int(dims.get(k, d)) for k, d in (("B", 2), ("T", 12), ("C", 32), ("nh", 4)))
    if not 1 <= T <= BLOCK_SIZE:
        raise KqvError(f"T must be between 1 and {BLOCK_SIZE} (the model's block_size), not {T}")
    if B < 1:
        raise KqvError(f"B must be at least 1, not {B}")
    check_heads(C, nh)
    return {"B": B, "T": T, "C": C, "nh": nh, "hs": C // nh, "V": len(VOCAB),
            "block_size": BLOCK_SIZE, "n_layer": 1}


def batch(B: int, T: int) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """Token ids ``idx (B, T)``, the next-token ``targets (B, T)`` and the words of each row."""
    ids = {w: i for i, w in enumerate(VOCAB)}
    rows = []
    for b in range(B):
        start = STARTS[b % len(STARTS)]
        rows.append([STREAM[(start + t) % len(STREAM)] for t in range(T + 1)])
    idx = np.array([[ids[w] for w in row[:T]] for row in rows], dtype=np.int64)
    targets = np.array([[ids[w] for w in row[1:]] for row in rows], dtype=np.int64)
    return idx, targets, [row[:T] for row in rows]


def model_for(d: dict, seed: int) -> GPT:
    """The lesson's untrained one-block GPT for the dims ``d`` (from :func:`full_dims`)."""
    cfg = GPTConfig(vocab_size=d["V"], block_size=BLOCK_SIZE, n_layer=1, n_head=d["nh"],
                    n_embd=d["C"], dropout=DROPOUT, pos="sinusoidal")
    return GPT(cfg, seed=seed)


def run_block(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    idx, targets, words = batch(d["B"], d["T"])
    model = model_for(d, seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer)  # no rng: evaluation mode, dropout off
    return TraceRun(tracer, d, notes=[f"untrained one-block model, random weights (seed {seed}); "
                                      f"row 0 is: {' '.join(words[0])}"],
                    extras=_extras(tracer, words, d))


def run_dropout(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    idx, targets, _ = batch(d["B"], d["T"])
    model = model_for(d, seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer, rng=np.random.default_rng(seed))  # training mode
    att = tracer["h0.att"].value
    sums = att[0, 0].sum(axis=-1)
    zeros = float(np.mean(att[0, 0][np.tril(np.ones_like(att[0, 0], dtype=bool))] == 0))
    notes = [f"training mode, dropout p = {DROPOUT}: {zeros:.0%} of the kept attention weights of "
             f"batch 0, head 0 were zeroed",
             "row sums of att[0, 0] now: " + " ".join(f"{s:.2f}" for s in sums)]
    return TraceRun(tracer, d, notes=notes,
                    extras={"attn_heatmap": {"heatmap": ("att[0, 0] with dropout", att[0, 0],
                                                         "query position", "key position")}})


def _extras(tracer: Tracer, words: list[list[str]], d: dict) -> dict[str, dict]:
    T, C = d["T"], d["C"]
    row0 = words[0]
    ids = tracer["idx"].value[0]
    pairs = "  ".join(f"{w}={i}" for w, i in zip(row0, ids, strict=True))
    extras = {
        "tokens": {"notes": [f"row 0 as tokens: {pairs}", f"vocabulary: {len(VOCAB)} words"]},
        # more positions than T so the stripes show; the engine's own function, as the model uses
        "pe_heatmap": {"heatmap": (f"sinusoidal PE, positions 0..{max(T, 32) - 1} × {C} dimensions",
                                   sinusoidal_positions(max(T, 32), C), "position", "dimension")},
        "attn_heatmap": {"heatmap": ("att[0, 0]: batch 0, head 0", tracer["h0.att"].value[0, 0],
                                     "query position", "key position")},
    }
    loss = float(tracer["loss"].value)
    extras["loss"] = {"notes": [f"loss of this untrained model: {loss:.3f}; a uniform guess over "
                                f"V = {len(VOCAB)} words would score ln V = {np.log(len(VOCAB)):.3f}"]}
    if T > QUERY_POS:
        att_it = tracer["h0.att"].value[0, :, QUERY_POS, :]  # (nh, T): row "it" of every head
        lines = []
        for h, weights in enumerate(att_it):
            top = np.argsort(weights[: QUERY_POS + 1])[::-1][:3]
            lines.append(f"head {h}: " + ", ".join(f"{row0[j]}@{j} {weights[j]:.2f}" for j in top))
        extras["attends"] = {"attends": (QUERY_WORD, row0, att_it),
                             "notes": [f"what '{QUERY_WORD}' (position {QUERY_POS}) attends to, "
                                       "top three per head:"] + lines}
    else:
        extras["attends"] = {"notes": [f"T = {T} cuts the sentence before '{QUERY_WORD}' (position "
                                       f"{QUERY_POS}); set T to at least {QUERY_POS + 1} with d"]}
    return extras


TRACES = {"block": run_block, "dropout": run_dropout}
