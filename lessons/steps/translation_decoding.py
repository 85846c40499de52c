"""The translation lesson's last two runs: the pizza sentence decoded, and the pizza question.

* ``decode``: the pizza sentence translated greedily and with beam search (4 beams), step by
  step, by the :class:`~lessons.steps.translation_model.Translator`;
* ``pizza``: the two pizza sentences ("... and it tasted good.", "... and it was turned off.")
  with their French references teacher-forced through the translator: the probability of
  "elle" against "il" where the pronoun comes, and the cross-attention row of that position.

:mod:`lessons.steps.translation` (the lesson's step script) names them in its ``TRACES`` and
``REAL_MODEL_TRACES``.
"""

from __future__ import annotations

import numpy as np

from engine.data.bpe import BOS_ID, pad_batch
from engine.trace import Tracer
from engine.translation.model import Transformer
from lessons.model import Extra, TraceRun
from lessons.steps.translation_model import BEAMS, PIZZA, PRONOUN_PREFIX, PRONOUNS, Translator, train_hint

# -- the decode run ----------------------------------------------------------------------------------


def run_decode(dims: dict, seed: int, marian: str | None = None) -> TraceRun:
    from engine.translation.decode import beam_search, greedy
    from engine.translation.evaluate import max_new_tokens

    tr = Translator(dims, seed, marian)
    model, text = tr.model, tr.text
    english = PIZZA[0][0]
    src = np.array([text.source(english)], dtype=np.int64)  # (1, S)
    max_new = max_new_tokens(src.shape[1], model.config.max_len)
    steps: list = []
    tracer = Tracer()
    best = beam_search(model, src, beam=BEAMS, max_new=max_new, tracer=tracer, steps=steps,
                       **tr.beam_options)[0]
    first = greedy(model, src, max_new=max_new, banned=tr.beam_options.get("banned"))[0]
    d = {**model.dims(1, src.shape[1], 1), "beams": BEAMS, "t": 1 + max_new, "max_new": max_new}
    tracer.dims = d
    lines = [f"source: {english!r}, S = {src.shape[1]} pieces with </s>; at most {max_new} new pieces",
             f"greedy: {_text(text, first)}", f"beam {BEAMS}: {_text(text, best)}"]
    lines += _beam_lines(steps, text)
    if not tr.trained:
        lines.append("untrained: both outputs are pieces chosen by random weights, not French; a uniform "
                     f"guess would score −ln V = {-np.log(model.config.vocab_size):.2f} per piece, and the "
                     "random model's guesses are more peaked than that, not better")
    return TraceRun(tracer, d, notes=[tr.describe], extras={"beams": {"notes": lines}})


def _text(vocab, ids) -> str:
    """The words of ``ids``, or their pieces when they are special pieces only (an untrained model
    may write <s> again and again)."""
    words = vocab.decode(ids)
    return repr(words) if words.strip() else " ".join(vocab.pieces(ids)) or "(nothing)"


def _beam_lines(steps, vocab, shown: int = 4) -> list[str]:
    from engine.translation.decode import NEG

    lines = []
    for step in steps[:shown]:
        beams = []
        for k in range(step.running.shape[1]):
            score = step.running_scores[0, k]
            if score <= NEG / 2:
                continue
            tokens = _text(vocab, step.running[0, k, 1:])
            beams.append(f"{tokens} {score:.2f} (from beam {step.parents[0, k]})")
        lines.append(f"step {step.t - 1}: " + "; ".join(beams))
    done = steps[-1] if steps else None
    if done is not None:
        fin = [f"{s:.3f} ({n} pieces)"
               for s, n in zip(done.finished_scores[0], done.finished_len[0], strict=True) if s > NEG / 2]
        lines.append(f"after {len(steps)} steps, finished scores Σ log p / length: " + ", ".join(fin))
    return lines


# -- the pizza run ------------------------------------------------------------------------------------


def _pronoun_position(text, french: str) -> tuple[list[int], int]:
    """The reference's ids and the place in ``tgt_in = <s> + ids`` whose output is the pronoun's first
    piece: the prefix's length (position 0 is <s>)."""
    ids = text.target(french)
    prefix = text.target(PRONOUN_PREFIX)
    if ids[: len(prefix)] != prefix:  # a merge across the boundary: find the longest common start
        n = 0
        while n < min(len(ids), len(prefix)) and ids[n] == prefix[n]:
            n += 1
        prefix = prefix[:n]
    return ids, len(prefix)


def run_pizza(dims: dict, seed: int, marian: str | None = None) -> TraceRun:
    tr = Translator(dims, seed, marian)
    model, vocab = tr.model, tr.text
    sources = [vocab.source(e) for e, _, _ in PIZZA]
    refs, positions = zip(*(_pronoun_position(vocab, f) for _, f, _ in PIZZA), strict=True)
    src = pad_batch(sources, vocab.pad)
    tgt_in = pad_batch([[vocab.bos] + ids for ids in refs], vocab.pad)
    B, S = src.shape
    T = tgt_in.shape[1]
    d = model.dims(B, S, T)
    tracer = Tracer(dims=d)
    model.forward(src, tgt_in, tracer=tracer)  # (B, T, V) logits, traced
    words = [vocab.word(w) for w in PRONOUNS]
    last = f"dec.h{model.config.n_dec_layer - 1}.cross.att"
    att = tracer[last].value  # (B, nh, T, S)
    lines = []
    several = [f"{w} is {len(ids)} pieces here ({' '.join(vocab.pieces(ids))}): its probability is "
               "the product of each piece's, given the ones before"
               for w, ids in zip(PRONOUNS, words, strict=True) if len(ids) > 1]
    lines += several
    figure = None
    prefers = []
    logits = tracer["logits"].value.astype(np.float64)  # (B, T, V)
    for b, ((english, _, meaning), q) in enumerate(zip(PIZZA, positions, strict=True)):
        src_p = vocab.pieces(src[b])
        prefix = list(tgt_in[b, 1:q + 1])
        pe, pi = (word_probability(model, src[b:b + 1], prefix, w, vocab.bos) for w in words)
        prefers.append("elle" if pe > pi else "il")
        row = att[b, :, q, :].mean(axis=0)  # (S,) mean over heads
        top = np.argsort(row)[::-1][:3]
        said = " ".join(vocab.pieces(tgt_in[b, 1:q + 1]))
        z = logits[b, q] - logits[b, q].max()
        p = np.exp(z) / np.exp(z).sum()
        best = np.argsort(p)[::-1][:3]
        lines.append(f"{english!r} (it = the {meaning}): after {said!r}, position {q} of tgt_in: "
                     f"p(elle) = {pe:.4f}, p(il) = {pi:.4f}; its likeliest next pieces there: "
                     + ", ".join(f"{vocab.pieces([j])[0]} {p[j]:.3f}" for j in best))
        n_real = sum(piece != "<pad>" for piece in src_p)
        lines.append(f"  {last} row {q}, mean over heads: "
                     + ", ".join(f"{src_p[j]} {row[j]:.2f}" for j in top)
                     + f"; on 'pizza' {word_weight(src_p, row, 'pizza'):.2f}, on 'oven' "
                     f"{word_weight(src_p, row, 'oven'):.2f} (a uniform row: 1/{n_real} = {1 / n_real:.2f} "
                     "a piece)")
        if b == 0:
            figure = (vocab.pieces([tgt_in[b, q]])[0] + " → ?", src_p, att[b, :, q, :])
    if not tr.trained:
        V = model.config.vocab_size
        lines.append(f"this model is untrained: its probabilities and attention come from random weights (a "
                     f"uniform guess gives a one-piece word 1/V = {1 / V:.4f}); whatever preference shows is "
                     f"chance, not grammar. {train_hint()}")
    elif prefers == ["elle", "il"]:
        lines.append("this model prefers elle for the pizza and il for the oven: its choice follows the noun "
                     "'it' stands for; the attention row shows where it read while choosing, not why")
    else:
        lines.append(f"this model prefers {prefers[0]} for the pizza and {prefers[1]} for the oven: it has "
                     "not tied the pronoun to the right noun in both sentences"
                     + ("" if tr.real else " (a small model, trained briefly; the probabilities say how far "
                        "it is from either)"))
    extra: Extra = {"notes": lines}
    if figure is not None:
        extra["attends"] = figure
    return TraceRun(tracer, d, notes=[tr.describe], extras={"pizza": extra},
                    tokens=[vocab.pieces(row) for row in tgt_in],
                    source_tokens=[vocab.pieces(row) for row in src])


def word_probability(model: Transformer, src: np.ndarray, prefix: list[int], word: list[int],
                     bos: int = BOS_ID) -> float:
    """p(word | source, prefix) for a word of one or more pieces: the product of each piece's
    probability given the prefix and the word's earlier pieces (one teacher-forced forward)."""
    tgt_in = np.array([[bos] + prefix + word[:-1]], dtype=np.int64)  # (1, len(prefix) + len(word))
    logits = model.forward(src, tgt_in)[0].astype(np.float64)  # (T, V)
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    at = np.arange(len(prefix), len(prefix) + len(word))
    return float(np.exp(logp[at, word].sum()))


def word_weight(pieces: list[str], row: np.ndarray, word: str) -> float:
    """The weight ``row`` gives the pieces of ``word`` together ("▁o" + "ven" for oven): a word starts
    at the first piece, a piece that begins with '▁', a special piece or a punctuation mark."""
    total, current, weights = 0.0, "", []
    for piece, w in [*zip(pieces, row, strict=True), ("▁", 0.0)]:
        if piece.startswith("▁") or piece in ("<pad>", "</s>") or not piece.strip(".,!?'"):
            if current.lower() == word:
                total += sum(weights)
            current, weights = "", []
        current += piece.lstrip("▁")
        weights.append(float(w))
    return total


def run_real_decode(model: str, seed: int) -> TraceRun:
    return run_decode({}, seed, marian=model)


def run_real_pizza(model: str, seed: int) -> TraceRun:
    return run_pizza({}, seed, marian=model)
