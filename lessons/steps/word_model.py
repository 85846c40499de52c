"""The small word-level GPT two lessons share: its text, its batches, and the model they train.

The attention lesson (:mod:`lessons.steps.attention`) traces a one-block GPT on these sentences
and, in its "it" step, reads the same model after training; the training lesson
(:mod:`lessons.steps.training`) trains and samples it. Both import it from here, so neither step
script imports the other.

The text is word-level: lower-cased words and "." split on spaces, so each token is a whole
word the learner can read. Row 0 of a batch is always "the pizza came out of the oven and it
tasted good ."; the other B − 1 rows start at the other sentences, and every row runs on into
the following sentence when T is longer.

The trained model has a longer context than the attention lesson's (``CONTEXT`` = 32, so a KV
cache has room after a prompt of T ≤ 16 words) and is trained for ``ITERS`` iterations the way
``kqv train gpt`` trains (engine.optim: warm-up then cosine, global-norm clipping at 1.0, AdamW
with weight decay on the 2-D weights), on random windows of the text.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.data.text import get_batch
from engine.errors import KqvError
from engine.gpt.model import GPT, GPTConfig
from engine.layers import check_heads, head_counts
from engine.optim import AdamW, clip_grad_norm, lr_at
from engine.runtime.memory import check_fits, gpt_memory
from engine.trace import Tracer

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
MAX_HEADS = 16  # the most heads the lessons allow (the nh maximum of their dim: lines)


def full_dims(dims: dict) -> dict[str, int]:
    """The learner's B, T, C, nh plus hs = C // nh, V and the model's fixed sizes."""
    B, T, C, nh = (int(dims.get(k, d)) for k, d in (("B", 2), ("T", 12), ("C", 32), ("nh", 4)))
    if not 1 <= T <= BLOCK_SIZE:
        raise KqvError(f"T must be between 1 and {BLOCK_SIZE} (the model's block_size), not {T}")
    if B < 1:
        raise KqvError(f"B must be at least 1, not {B}")
    if C > 0 and nh > 0 and C % nh:  # in the dims dialog's words, not the engine's n_embd/n_head
        valid = ", ".join(str(h) for h in head_counts(C, MAX_HEADS))
        raise KqvError(f"channels per token (C) = {C} is not divisible by attention heads (nh) = {nh}: "
                       f"each head takes C/nh channels; with C = {C}, nh can be {valid}")
    check_heads(C, nh)
    # the same estimate as `kqv train gpt`; the trace keeps a copy of every variable: 2·B
    model = GPTConfig(vocab_size=len(VOCAB), block_size=BLOCK_SIZE, n_layer=1, n_head=nh, n_embd=C)
    check_fits(gpt_memory(model, 2 * B, training=True), f"a step with B={B}, T={T}, C={C}",
               "choose smaller dims")
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


CONTEXT = 32  # room for the prompt (T ≤ 16) and what is generated after it
ITERS, WARMUP = 150, 10
LR, MIN_LR, WEIGHT_DECAY, GRAD_CLIP = 1e-2, 1e-3, 0.1, 1.0


def trained_dims(dims: dict) -> dict[str, int]:
    """:func:`full_dims` for the trained model: the same checks, its longer context."""
    return {**full_dims(dims), "block_size": CONTEXT}


def untrained(d: dict, seed: int) -> GPT:
    """The trained model before training: one block, no dropout, the longer context."""
    cfg = GPTConfig(vocab_size=d["V"], block_size=CONTEXT, n_layer=1, n_head=d["nh"], n_embd=d["C"],
                    dropout=0.0, pos="sinusoidal")
    return GPT(cfg, seed=seed)


def ids() -> np.ndarray:
    """The lesson's whole text as word ids, the stream training draws its windows from."""
    number = {w: i for i, w in enumerate(VOCAB)}
    return np.array([number[w] for w in STREAM], dtype=np.int64)


# the attention lesson reads the same trained models: room for its check-dims and this lesson's
@lru_cache(maxsize=12)
def trained(B: int, T: int, C: int, nh: int, seed: int):
    """The model after ITERS AdamW steps, its optimizer, and what each step measured."""
    d = trained_dims({"B": B, "T": T, "C": C, "nh": nh})
    model = untrained(d, seed)
    opt, history = train(model, B, T, seed)
    return model, opt, history


def train(model: GPT, B: int, T: int, seed: int):
    """ITERS AdamW steps on random windows of the lesson's words, the recipe of `kqv train gpt`;
    returns the optimizer and (iteration, loss, lr, gradient norm before clipping) per step."""
    data = ids()
    opt = AdamW(model.flat_params, model.flat_grads, model.n_decay, weight_decay=WEIGHT_DECAY)
    rng = np.random.default_rng(seed)
    history = []
    for it in range(ITERS):
        x, y = get_batch(data, B, T, rng)
        _, loss = model.forward(x, y)
        model.backward()
        norm = clip_grad_norm(model.flat_grads, GRAD_CLIP)
        lr = lr_at(it, LR, MIN_LR, WARMUP, ITERS)
        opt.step(lr)
        history.append((it, loss, lr, norm))
    return opt, history


LN_SETUP = {"B": 4, "T": 12, "C": 32, "nh": 4, "n_layer": 4}  # fixed: the comparison runs once


@lru_cache(maxsize=1)
def layernorm_streams() -> dict[bool, tuple[list[float], list[float], float]]:
    """For a 4-block word model with and without LayerNorm (``True``/``False``): the residual
    stream's std at the input and after each block, untrained and after the ITERS steps, and
    the trained loss on the lesson's batch. Measured once per process (about a second)."""
    s = LN_SETUP
    idx, targets, _ = batch(s["B"], s["T"])
    out = {}
    for layernorm in (True, False):
        cfg = GPTConfig(vocab_size=len(VOCAB), block_size=CONTEXT, n_layer=s["n_layer"],
                        n_head=s["nh"], n_embd=s["C"], dropout=0.0, pos="sinusoidal", layernorm=layernorm)
        model = GPT(cfg, seed=0)

        def stream(m=model):
            tracer = Tracer(dims=m.dims(s["B"], s["T"]))
            _, loss = m.forward(idx, targets, tracer=tracer)
            names = ["x"] + [f"h{i}.x_out" for i in range(s["n_layer"])]
            return [float(np.std(tracer[n].value)) for n in names], float(loss)

        before, _ = stream()
        train(model, s["B"], s["T"], 0)
        after, loss = stream()
        out[layernorm] = (before, after, loss)
    return out
