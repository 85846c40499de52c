"""Step script of lessons/attention.md: one GPT block from engine/gpt/model.py on a sentence, traced.

The text is word-level: lower-cased words and "." split on spaces, so each token is a whole
word the learner can read. Row 0 of the batch is always the blog post's example sentence, "the pizza came
out of the oven and it tasted good ."; the other B − 1 rows start at the other sentences of a
small made-up text, and every row runs on into the following sentence when T is longer.

Two runs of the same untrained one-block model (sinusoidal positions, dropout 0.1):

* ``block``: evaluation mode (no rng), so dropout is the identity; the lesson walks this one;
* ``dropout``: training mode (an rng), to show what dropout does to the attention weights;
* ``trained``: the same model after the training lesson's short run on the lesson's sentences
  (:func:`lessons.steps.word_model.trained`), so the "it" step reads a trained attention row
  without a download, beside the untrained one.

With a GPT-2 folder (``kqv learn attention --model``, or the ``g`` key), the ``block`` trace
runs GPT-2 itself instead (:func:`run_real_block`): the sentence split by GPT-2's BPE and
started with ``<|endoftext|>``, all its blocks, and a "which word does it attend to" view that
ranks every head by what it measured. The dropout trace keeps the small model (GPT-2 runs
without dropout when it is not training).

All the maths is the engine's: this module only makes token ids and picks views of the trace.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from engine.gpt.model import GPT, GPTConfig
from engine.layers import sinusoidal_positions
from engine.trace import Tracer
from lessons.model import Extra, RealTraceFn, TraceFn, TraceRun
from lessons.steps import word_model
from lessons.steps.word_model import BLOCK_SIZE, SENTENCES, VOCAB, batch, full_dims

DROPOUT = 0.1
QUERY_WORD, QUERY_POS = "it", SENTENCES[0].split().index("it")  # position 8 of row 0

EXTRAS = {"ln_compare", "tokens", "pe_heatmap", "pe_scale", "score_scale", "attn_heatmap", "attends", "loss"}
SCALE_PAIR = ("pizza", "cat")  # two words compared at one position in the positions' scale step


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
                    extras=_extras(tracer, words, d), tokens=words)


def run_dropout(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    idx, targets, words = batch(d["B"], d["T"])
    model = model_for(d, seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer, rng=np.random.default_rng(seed))  # training mode
    att = tracer["h0.att"].value
    sums = att[0, 0].sum(axis=-1)
    zeros = float(np.mean(att[0, 0][np.tril(np.ones_like(att[0, 0], dtype=bool))] == 0))
    notes = [f"training mode, dropout p = {DROPOUT}: {zeros:.0%} of the kept attention weights of "
             f"batch 0, head 0 were zeroed",
             "row sums of att[0, 0] now: " + " ".join(f"{s:.2f}" for s in sums)]
    return TraceRun(tracer, d, notes=notes, tokens=words,
                    extras={"attn_heatmap": {"heatmap": ("att[0, 0] with dropout", att[0, 0],
                                                         "query", "key", words[0], words[0])}})


def _extras(tracer: Tracer, words: list[list[str]], d: dict) -> dict[str, Extra]:
    T, C = d["T"], d["C"]
    row0 = words[0]
    ids = tracer["idx"].value[0]
    pairs = "  ".join(f"{w}={i}" for w, i in zip(row0, ids, strict=True))
    extras: dict[str, Extra] = {
        "tokens": {"notes": [f"row 0 as tokens: {pairs}", f"vocabulary: {len(VOCAB)} words",
                             real_model_hint()]},
        # more positions than T so the stripes show; the engine's own function, as the model uses
        "pe_heatmap": {"heatmap": (f"sinusoidal PE, positions 0..{max(T, 32) - 1} × {C} dimensions",
                                   sinusoidal_positions(max(T, 32), C), "position", "dimension")},
        "attn_heatmap": {"heatmap": ("att[0, 0]: batch 0, head 0", tracer["h0.att"].value[0, 0],
                                     "query", "key", row0, row0),
                         "notes": averaging_notes(tracer["h0.att"].value[0, 0])},
        "pe_scale": {"notes": scale_notes(tracer, d)},
        "ln_compare": lambda: {"notes": layernorm_notes()},  # trains two models: on demand
        "score_scale": {"notes": score_scale_notes(tracer, d["hs"])},
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
                                       "top three per head:"] + lines + [real_model_hint()]}
    else:
        extras["attends"] = {"notes": [f"T = {T} cuts the sentence before '{QUERY_WORD}' (position "
                                       f"{QUERY_POS}); set T to at least {QUERY_POS + 1} with d"]}
    return extras


def averaging_notes(att: np.ndarray) -> list[str]:
    """How far one head's att (T, T) is from the plain running average: row t = 1/(t + 1) on 0..t."""
    T = att.shape[0]
    average = np.tril(np.ones((T, T))) / np.arange(1, T + 1)[:, None]  # (T, T)
    gap = float(np.abs(att - average).max())
    lines = [f"the plain average of the earlier tokens is the matrix whose row t holds 1/(t + 1) on "
             f"positions 0..t; this att[0, 0] differs from it by at most {gap:.3f} in any entry"]
    if gap < 0.1:
        lines.append("so att @ v, two steps on, nearly averages the value rows of each token's past; "
                     "training turns those equal weights into chosen ones (Karpathy's 'Let's build GPT' "
                     "starts attention from this averaging trick)")
    else:
        lines.append("so this head no longer averages: att @ v, two steps on, is a weighted average with "
                     "weights the head chose (Karpathy's 'Let's build GPT' starts attention from the "
                     "plain average)")
    return lines


def scale_notes(tracer: Tracer, d: dict) -> list[str]:
    """The token rows against the position rows, with and without the √C factor, and what
    LayerNorm makes of two different words at one position (measured on this run's weights)."""
    from engine.layers import layernorm_forward

    C = d["C"]
    ids = {w: i for i, w in enumerate(VOCAB)}
    wte = tracer["wte"].value.astype(np.float64)  # (V, C)
    pe = sinusoidal_positions(BLOCK_SIZE, C).astype(np.float64)  # (block_size, C)
    pos = SENTENCES[0].split().index(SCALE_PAIR[0])
    rows = np.stack([wte[ids[w]] for w in SCALE_PAIR])  # (2, C)
    ones, zeros = np.ones(C), np.zeros(C)

    def cosine(scale: float) -> float:
        out, _, _ = layernorm_forward(rows * scale + pe[pos], ones, zeros)  # (2, C)
        return float(out[0] @ out[1] / (np.linalg.norm(out[0]) * np.linalg.norm(out[1])))

    token, position = float(np.linalg.norm(wte, axis=1).mean()), float(np.linalg.norm(pe, axis=1).mean())
    scaled = token * np.sqrt(C)
    a, b = SCALE_PAIR
    return [f"mean length of a row: wte {token:.3f}, wte·√C {scaled:.3f}, PE {position:.3f} "
            f"(√(C/2) = {np.sqrt(C / 2):.3f}): even scaled, a token row is {position / scaled:.1f} "
            f"times shorter than a position row",
            f"'{a}' and '{b}' at position {pos}, after LayerNorm: cosine {cosine(1.0):.3f} without the "
            f"factor, {cosine(np.sqrt(C)):.3f} with √C (1 would be the same vector)"]


def layernorm_notes() -> list[str]:
    """The residual stream's size block by block, trained with and without LayerNorm."""
    s, runs = word_model.LN_SETUP, word_model.layernorm_streams()

    def sizes(values):
        return " → ".join(f"{v:.2f}" for v in values)

    lines = [f"the lesson's word model with {s['n_layer']} blocks (C = {s['C']}, nh = {s['nh']}), trained "
             f"{word_model.ITERS} iterations on the lesson's sentences with and without LayerNorm; the std "
             "of the residual stream at the input and after each block:"]
    for layernorm, name in ((True, "with LayerNorm"), (False, "without")):
        before, after, loss = runs[layernorm]
        lines.append(f"{name}: untrained {sizes(before)}; trained {sizes(after)}; loss on the batch "
                     f"{loss:.3f}")
    return lines


def score_scale_notes(tracer: Tracer, hs: int) -> list[str]:
    """The variance of q·k on unit-variance q and k, with and without 1/√hs, beside this run's."""
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 2048, hs))  # unit variance, as the argument assumes
    dots = np.einsum("nh,nh->n", q, k)  # 2048 dot products of hs terms each
    scores = tracer["h0.att_scores"].value
    seen = scores[np.isfinite(scores)] if scores.size else scores
    return [f"2,048 random q, k with variance 1 and hs = {hs}: var(q·k) = {dots.var():.2f} (about hs), "
            f"var(q·k / √hs) = {(dots / np.sqrt(hs)).var():.2f} (about 1)",
            f"this model's q and k have std {tracer['h0.q'].value.std():.3f} and "
            f"{tracer['h0.k'].value.std():.3f}; its scaled scores have variance {seen.var():.2g}"]


def run_trained(dims: dict, seed: int) -> TraceRun:
    """The model the training lesson trains, on this lesson's batch: its attention, traced,
    with the row of "it" before and after training in the notes."""
    d = word_model.trained_dims(dims)
    B, T = d["B"], d["T"]
    idx, targets, words = batch(B, T)
    before = Tracer(dims=d)
    word_model.untrained(d, seed).forward(idx, targets, tracer=before)  # the same model, untrained
    model, _, history = word_model.trained(B, T, d["C"], d["nh"], seed)
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer)
    loss0, loss = float(before["loss"].value), float(tracer["loss"].value)
    notes = [f"the training lesson's model: this block, trained {len(history)} iterations on the lesson's "
             f"{len(SENTENCES)} sentences (seed {seed}); loss on this batch {loss0:.3f} untrained, "
             f"{loss:.3f} trained"]
    row0 = words[0]
    if T <= QUERY_POS:
        return TraceRun(tracer, d, notes=notes, tokens=words, extras={"attends": {"notes": [
            f"T = {T} cuts the sentence before '{QUERY_WORD}' (position {QUERY_POS}); set T to at least "
            f"{QUERY_POS + 1} with d"]}})
    new, old = tracer["h0.att"].value[0, :, QUERY_POS, :], before["h0.att"].value[0, :, QUERY_POS, :]

    def top(weights):
        order = np.argsort(weights[: QUERY_POS + 1])[::-1][:3]
        return ", ".join(f"{row0[j]}@{j} {weights[j]:.2f}" for j in order)

    pizza, oven = row0.index("pizza"), row0.index("oven")
    lines = [f"what '{QUERY_WORD}' (position {QUERY_POS}) attends to, top three per head, "
             "untrained → trained:"]
    lines += [f"head {h}: {top(old[h])} → {top(new[h])}" for h in range(len(new))]
    lines.append(f"weight on pizza / oven, mean over heads: untrained {old[:, pizza].mean():.2f} / "
                 f"{old[:, oven].mean():.2f}, trained {new[:, pizza].mean():.2f} / {new[:, oven].mean():.2f}")
    lines.append(f"a uniform row would give each of the {QUERY_POS + 1} words it may see 1/{QUERY_POS + 1} = "
                 f"{1 / (QUERY_POS + 1):.2f}; the largest weight in the row is now {new.max():.2f}")
    lines.append(real_model_hint())
    return TraceRun(tracer, d, notes=notes, tokens=words,
                    extras={"attends": {"attends": (QUERY_WORD, row0, new), "notes": lines}})


TRACES: dict[str, TraceFn] = {"block": run_block, "dropout": run_dropout, "trained": run_trained}


# -- the real model ----------------------------------------------------------------------------

# GPT-2 reads a document from <|endoftext|>, the token it saw between documents in training
REAL_SENTENCE = "<|endoftext|>The pizza came out of the oven and it tasted good."
QUERY, CANDIDATES, LATER = " it", (" pizza", " oven"), (" tasted", " good")
STRONGEST = 8  # heads shown in the figure


def real_model_hint() -> str:
    """The line that offers GPT-2: press g when its weights are here, else how to get them."""
    from engine.hf.hub import MODELS, cached_snapshot

    if cached_snapshot("gpt2") is None:  # a look at the cache folder: this note is on the first step
        return (f"to ask a trained model, get GPT-2 small: kqv data gpt2 ({MODELS['gpt2'].size}), "
                "then press g here or run kqv learn attention --model gpt2")
    return "GPT-2 small is on this machine: press g to run these steps on it and ask it about 'it'"


@lru_cache(maxsize=1)
def load_real(model: str):
    """GPT-2 and its tokenizer, loaded once per process (a second or two for GPT-2 small)."""
    from engine.hf.hub import load_pretrained

    gpt, tokenizer, _ = load_pretrained(model)
    return gpt, tokenizer


def run_real_block(model: str, seed: int) -> TraceRun:
    """The sentence through the whole GPT-2 in ``model`` (a name or folder), traced.

    The input is every token but the last and the targets every token but the first, so the
    loss step scores each next token up to the full stop. ``seed`` changes nothing: GPT-2's
    weights are fixed and the forward pass uses no randomness.
    """
    gpt, tok = load_real(str(model))
    ids = tok.encode_prompt(REAL_SENTENCE, gpt.config.block_size + 1)
    idx, targets = ids[None, :-1], ids[None, 1:]
    B, T = idx.shape
    d = gpt.dims(B, T)
    tracer = Tracer(dims=d, copy_limit=1_000_000)  # bigger values are weights: kept as views
    gpt.forward_on_faster_threads(idx, targets=targets, tracer=tracer)  # busy machines: see its doc
    cfg = gpt.config
    notes = [f"GPT-2 from {model}: {cfg.n_layer} blocks of {cfg.n_head} heads, C = {cfg.n_embd}, "
             f"V = {cfg.vocab_size}; the steps show block 0 (h0.…); press g for the lesson's own model"]
    pieces = tok.pieces(idx[0])
    losses = position_losses(tracer, targets[0], pieces, tok.pieces(targets[0]))
    return TraceRun(tracer, d, notes=notes, extras=_real_extras(tracer, pieces, gpt, losses), tokens=[pieces])


def _real_extras(tracer: Tracer, pieces: list[str], gpt: GPT, losses: str) -> dict[str, Extra]:
    cfg = gpt.config
    ids = tracer["idx"].value[0]
    pairs = "  ".join(f"{p!r}={i}" for p, i in zip(pieces, ids, strict=True))
    loss = float(tracer["loss"].value)
    positions = min(32, cfg.block_size)
    return {
        "tokens": {"notes": [f"the sentence as GPT-2 tokens (byte-level BPE), token=id: {pairs}"]},
        "pe_heatmap": {"heatmap": (f"GPT-2's learned wpe, positions 0..{positions - 1} × {cfg.n_embd}",
                                   gpt.params["wpe"][:positions], "position", "dimension"),
                       "notes": [f"the figure: rows 0..{positions - 1} of wpe ({cfg.block_size} rows in "
                                 "all), as training left them"]},
        "attn_heatmap": {"heatmap": ("att[0, 0]: block 0, head 0 of GPT-2", tracer["h0.att"].value[0, 0],
                                     "query", "key", pieces, pieces),
                         "notes": averaging_notes(tracer["h0.att"].value[0, 0])},
        "pe_scale": {"notes": [f"mean length of a row: wte {_row_length(gpt.params['wte']):.3f}, wpe "
                               f"{_row_length(gpt.params['wpe']):.3f}: both learned, added as they are"]},
        "score_scale": {"notes": score_scale_notes(tracer, cfg.n_embd // cfg.n_head)},
        "ln_compare": lambda: {"notes": layernorm_notes()},  # trains two models: on demand
        "loss": {"notes": [f"GPT-2's loss on this sentence: {loss:.3f}; a uniform guess over "
                           f"V = {cfg.vocab_size} tokens would score ln V = {np.log(cfg.vocab_size):.3f}",
                           f"e^−loss = {np.exp(-loss):.4f}: the geometric mean of the probabilities of the "
                           f"right next tokens; perplexity e^loss = {np.exp(loss):.1f} equally likely tokens",
                           "−ln p of each next token: " + losses]},
        "attends": pizza_question(tracer, pieces, cfg.n_layer, cfg.n_head),
    }


def position_losses(tracer: Tracer, targets: np.ndarray, pieces: list[str], next_pieces: list[str]) -> str:
    """``'The'→' pizza' 7.1, ...``: −ln p of each next token of row 0, from the traced logits."""
    from engine.layers import softmax_forward

    p = softmax_forward(tracer["logits"].value[0].astype(np.float64))  # (T, V)
    losses = -np.log(p[np.arange(len(targets)), targets])
    return ", ".join(f"{a!r}→{b!r} {x:.1f}" for a, b, x in zip(pieces, next_pieces, losses, strict=True))


def _row_length(table: np.ndarray) -> float:
    return float(np.linalg.norm(table.astype(np.float64), axis=1).mean())


def pizza_question(tracer: Tracer, pieces: list[str], n_layer: int, n_head: int) -> Extra:
    """Rank every head (layer.head) by the weight " it" gives " pizza" minus " oven", from the
    attention the engine recorded; the figure shows the row of " it" in the strongest heads."""
    where = {p: pieces.index(p) for p in (QUERY, *CANDIDATES, *LATER) if p in pieces}
    missing = [p for p in (QUERY, *CANDIDATES) if p not in where]
    if missing:
        return {"notes": [f"this tokenizer does not make {', '.join(repr(p) for p in missing)} one token "
                          "each, so the heads cannot be ranked on them"]}
    it, pizza, oven = where[QUERY], where[CANDIDATES[0]], where[CANDIDATES[1]]
    att = np.stack([tracer[f"h{layer}.att"].value[0] for layer in range(n_layer)])  # (L, nh, T, T)
    row = att[:, :, it, :]  # (L, nh, T): the row of " it" in every head
    score = (row[..., pizza] - row[..., oven]).ravel()  # (L*nh,)
    order = np.argsort(score)[::-1]
    name = [f"{f // n_head}.{f % n_head}" for f in range(n_layer * n_head)]

    def weights(f: int) -> str:
        r = row.reshape(n_layer * n_head, -1)[f]
        return f"pizza {r[pizza]:.2f}, oven {r[oven]:.2f}, <|endoftext|> {r[0]:.2f}"

    n_heads = n_layer * n_head
    favour = int(np.sum(score > 0))
    lines = [f"all {n_heads} heads (layer.head) ranked by the weight from ' it' to ' pizza' minus "
             "its weight to ' oven', as measured now:"]
    lines += [f"  {rank + 1}. head {name[f]}: {weights(f)}" for rank, f in enumerate(order[:5])]
    lines += [f"  last: head {name[f]}: {weights(f)}" for f in order[-2:]]
    lines.append(f"' it' gives ' pizza' more weight than ' oven' in {favour} of {n_heads} heads; over all "
                 f"heads on average pizza {row[..., pizza].mean():.3f}, oven {row[..., oven].mean():.3f}")
    hidden = ", ".join(map(repr, pieces[it + 1 :]))
    lines.append(f"the causal mask: ' it' sits at position {it}, so its row cannot see {hidden} yet; "
                 "the rows of later tokens can, and they come next")
    top = order[0]
    for later in LATER:
        if later in where:
            r = att[:, :, where[later], :].reshape(n_heads, -1)
            lines.append(f"{later!r} (position {where[later]}, it sees ' it' and both nouns): head "
                         f"{name[top]} gives pizza {r[top, pizza]:.2f}, oven {r[top, oven]:.2f}; "
                         f"mean over heads pizza {r[:, pizza].mean():.3f}, oven {r[:, oven].mean():.3f}")
    sink = float(att[:, :, 1:, 0].mean())  # rows after the first, which has nothing else to see
    lines.append(f"on average {sink:.0%} of a row's weight lands on <|endoftext|> (position 0): an "
                 "attention sink, where heads with nothing to look for park their weight; it means nothing")
    strongest = order[:STRONGEST]
    weights_top = row.reshape(n_heads, -1)[strongest, : it + 1]  # (8, it+1): what " it" may see
    lines.append("the figure: the row of ' it' in the heads " + ", ".join(name[f] for f in strongest)
                 + " (columns, in that order), and their mean")
    return {"attends": (QUERY, pieces[: it + 1], weights_top), "notes": lines}


# the "it" step reads the trained small model on its own, and GPT-2 itself when GPT-2 is loaded
REAL_MODEL_TRACES: dict[str, RealTraceFn] = {"block": run_real_block, "trained": run_real_block}
