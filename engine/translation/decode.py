"""Turning the model's scores into a translation: greedy decoding and beam search.

The decoder writes one token at a time. Each step runs only the newest position through the
decoder: the keys and values of the earlier target positions wait in a KV cache
(:mod:`engine.kv_cache`), and each layer's cross-attention keys and values, which depend on
the source alone, are computed once per sentence (:func:`encode_for_decoding`). Both give
exactly the logits of running the whole prefix again (the tests hold them equal).

* :func:`greedy` takes the most likely token at every step.
* :func:`beam_search` keeps the ``beam`` best partial translations by total log-probability,
  and ranks the finished ones by ``Σ log p / length ** length_penalty``, with length the
  number of tokens generated, the end token included and the start token not: the rule of
  Hugging Face transformers' ``generate`` (4.x and 5.x, which Marian's models use), applied
  the same way: 2·beam candidates a step, a finished candidate counts only when it is among
  the first ``beam`` of them, and a sentence stops when no running beam can beat its worst
  finished one (``early_stopping=False``: judged at the current length) or, with
  ``early_stopping=True``, as soon as ``beam`` translations have finished.

Both return, per source sentence, the generated ids without the start token and without the
end token.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import KqvError
from engine.kv_cache import KVCache
from engine.trace import NO_TRACE

NEG = -1.0e9  # "impossible" without the NaNs that −∞ − −∞ would make


@dataclass
class Encoded:
    """What the decoder reads from the source, computed once per batch of sentences."""

    memory: np.ndarray  # (B*S, C): the encoder's output, for the uncached reference path
    src_pad: np.ndarray  # (B, S): True at the source's padding
    cross_kv: list[tuple[np.ndarray, np.ndarray]]  # per decoder layer: k, v, each (B, nh, S, hs)

    def repeat(self, k: int) -> Encoded:
        """Each sentence k times in a row (its beams): rows b·k .. b·k + k − 1 are sentence b."""
        B, S = self.src_pad.shape
        memory = np.repeat(self.memory.reshape(B, S, -1), k, axis=0).reshape(B * k * S, -1)
        kv = [(np.repeat(key, k, axis=0), np.repeat(value, k, axis=0)) for key, value in self.cross_kv]
        return Encoded(memory, np.repeat(self.src_pad, k, axis=0), kv)


def encode_for_decoding(model, src) -> Encoded:
    """Run the encoder once and each decoder layer's ``c_kv`` over its output once."""
    memory = model.encode(src).reshape(-1, model.config.n_embd)  # (B*S, C)
    B, S = model.src_pad.shape
    cross_kv = [tuple(np.ascontiguousarray(a) for a in layer.cross.memory_kv(memory, B, S))
                for layer in model.dec]
    return Encoded(memory, model.src_pad.copy(), cross_kv)


def _check(model, src, max_new, beam=1):
    src = np.asarray(src)
    if src.ndim == 1:
        src = src[None, :]
    if max_new is None:
        max_new = model.config.max_len
    if isinstance(max_new, bool) or not isinstance(max_new, (int, np.integer)) or max_new < 1:
        raise KqvError(f"max_new must be a whole number of tokens ≥ 1, got {max_new!r}")
    if max_new > model.config.max_len:
        raise KqvError(f"max_new={max_new} is more than the model's max_len={model.config.max_len} positions")
    if isinstance(beam, bool) or not isinstance(beam, (int, np.integer)) or not 1 <= beam <= 64:
        raise KqvError(f"the beam must be a whole number from 1 to 64, got {beam!r}")
    return src, max_new


def _next_scores(model, enc: Encoded, tokens, cache: KVCache | None, banned, force_eos: bool,
                 renormalize: bool = False):
    """Log-probabilities ``(N, V)`` of the next token after ``tokens (N, n)``.

    With ``cache`` only the newest token runs (its predecessors' keys and values are cached);
    without it the whole prefix runs again, the reference the cache is held to."""
    if cache is not None:
        new = tokens[:, cache.t :]
        logits = model.decode(new, None, enc.src_pad, cache=cache, cross_kv=enc.cross_kv, last_only=True)
    else:
        logits = model.decode(tokens, enc.memory, enc.src_pad, last_only=True)
    z = logits[:, -1].astype(np.float64)  # (N, V)
    z -= z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # log-softmax
    if banned:
        logp[:, list(banned)] = -np.inf
    if force_eos:  # the last step allowed: only the end token may come
        eos = model.config.eos_id
        keep = logp[:, eos].copy()
        logp[:] = -np.inf
        logp[:, eos] = keep
    if renormalize:  # transformers' renormalize_logits: a log-softmax again over what the bans left
        top = logp.max(axis=1, keepdims=True)
        logp -= top + np.log(np.exp(logp - top).sum(axis=1, keepdims=True))
    return logp


def top_k(scores, k: int):
    """The indices of each row's ``k`` largest scores, best first, ties to the lower index (what
    a stable argsort of −scores gives), found without sorting the whole row: a beam step ranks
    beam · V candidates (240,000 for opus-mt's 59,514 tokens and 4 beams) to keep 8."""
    n = scores.shape[1]
    if k >= n:
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # the k best, in no order
    # a score tied with the k-th may sit on either side of the cut: take every tied one and
    # keep the lowest indices among them, as the stable sort would
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
    if ((scores == kth).sum(axis=1) > (np.take_along_axis(scores, part, axis=1) == kth).sum(axis=1)).any():
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)  # by score, then by index
    return np.take_along_axis(part, order, axis=1)


def _banned(model, banned):
    return (model.config.pad_id,) if banned is None else tuple(banned)


def greedy(model, src, max_new: int | None = None, cache: bool = True, banned=None,
           force_eos: bool = False) -> list[list[int]]:
    """The most likely token at every step, for each sentence of ``src (B, S)``, until the end
    token or ``max_new`` tokens (default: the model's ``max_len``). ``banned`` ids are never
    chosen (default: padding); ``force_eos`` makes the end token the only choice at the last
    allowed step."""
    src, max_new = _check(model, src, max_new)
    cfg = model.config
    enc = encode_for_decoding(model, src)
    B = src.shape[0]
    kv = model_cache(model, B) if cache else None
    tokens = np.full((B, 1), cfg.bos_id, dtype=np.int64)
    done = np.zeros(B, dtype=bool)
    out: list[list[int]] = [[] for _ in range(B)]
    for step in range(max_new):
        logp = _next_scores(model, enc, tokens, kv, _banned(model, banned), force_eos and step == max_new - 1)
        nxt = logp.argmax(axis=1)
        nxt[done] = cfg.pad_id  # finished rows run on (one batch), their tokens ignored
        for b in np.flatnonzero(~done):
            if nxt[b] == cfg.eos_id:
                done[b] = True
            else:
                out[b].append(int(nxt[b]))
        if done.all():
            break
        tokens = np.concatenate([tokens, nxt[:, None]], axis=1)
    return out


def model_cache(model, rows: int) -> KVCache:
    """An empty decoder KV cache for ``rows`` sequences, room for ``max_len`` positions."""
    cfg = model.config
    return KVCache(cfg.n_dec_layer, rows, cfg.n_head, cfg.max_len, cfg.head_size, model.dtype)


def beam_search(model, src, beam: int = 4, max_new: int | None = None, length_penalty: float = 1.0,
                early_stopping: bool = False, cache: bool = True, banned=None,
                force_eos: bool = False, renormalize: bool = False, tracer=NO_TRACE,
                steps: list | None = None) -> list[list[int]]:
    """The best-scoring translation of each sentence of ``src (B, S)`` found with ``beam``
    beams (see the module's docstring for the rules). ``beam=1`` is greedy decoding, as in
    transformers (the beam rules with one beam could still trade a finished translation for
    a longer one whose length penalty flatters it). ``renormalize`` takes the log-softmax again
    after the bans (transformers' ``renormalize_logits``), so a banned token's probability is
    shared among the others; greedy's choice does not change.

    ``tracer`` records the finished translations at the end, ``beam_tokens (B, beams, t)`` (the
    start token and ``t − 1 = max_new`` places, padded) and their penalised ``beam_scores
    (B, beams)``; ``steps``, a list, receives one :class:`BeamStep` per step (the lessons show
    how the beams grow). Neither changes the search."""
    src, max_new = _check(model, src, max_new, beam)
    if beam == 1:
        return greedy(model, src, max_new, cache, banned, force_eos)
    return _beam_search(model, src, beam, max_new, length_penalty, early_stopping, cache, banned, force_eos,
                        renormalize, tracer, steps)


@dataclass
class BeamStep:
    """One step of beam search, as the search saw it: what a lesson shows beam by beam."""

    t: int  # tokens in each running beam after this step, the start token included
    running: np.ndarray  # (B, beams, t) the beams that run on
    running_scores: np.ndarray  # (B, beams) their total log-probabilities (NEG: no beam)
    parents: np.ndarray  # (B, beams) the beam of the previous step each one continues
    finished_scores: np.ndarray  # (B, beams) Σ log p / length ** length_penalty of the finished (NEG: none)
    finished_len: np.ndarray  # (B, beams) tokens generated by each finished one, the end included


def beam_step(logp, running_scores, generated: int, length_penalty: float, tracer=NO_TRACE):
    """One step of beam search for ``B`` sentences of ``K`` beams: which ``2K`` continuations
    survive, and what each would score if it ended here.

    ``logp (B*K, V)`` is each beam's log-probability of every next token, ``running_scores
    (B, K)`` each beam's total log-probability so far (NEG for a beam not yet alive), and
    ``generated`` the tokens a candidate of this step has generated, its new one included.
    A candidate's score is its beam's total plus its token's log-probability, ``acc (B, K*V)``:
    all K beams' V continuations side by side, so candidate ``i`` continues beam ``i // V``
    with token ``i % V``. The 2K best are kept (2K, so K stay alive even if K of them end
    here), and each is also given its score as a finished translation, the total divided by
    ``generated ** length_penalty``: a sum of log-probabilities only falls as a translation
    grows, and without the division beam search would prefer every short ending to a longer,
    better translation (``length_penalty`` 0: no division; 1: the mean per token).

    Returns ``top_scores (B, 2K)`` best first, ``parent (B, 2K)``, ``token (B, 2K)`` and
    ``finish_scores (B, 2K)``.
    """
    B, K = running_scores.shape
    V = logp.shape[1]
    acc = (logp.reshape(B, K, V) + running_scores[:, :, None]).reshape(B, K * V)  # (B, K*V)
    tracer.record("acc", acc, "running_scores + logp, each beam's V continuations side by side", "forward",
                  ("B", "K*V"), "candidate i continues beam i // V with token i % V")
    top = top_k(acc, 2 * K)  # (B, 2K) indices into acc, best first
    top_scores = np.take_along_axis(acc, top, axis=1)
    tracer.record("top_scores", top_scores, "the 2K largest of acc in each row, best first", "forward",
                  ("B", "2*K"), "2K, so that K beams run on even if K candidates end here")
    parent, token = top // V, top % V
    tracer.record("parent", parent, "top index // V: the beam each candidate continues", "forward",
                  ("B", "2*K"))
    tracer.record("token", token, "top index % V: the token it adds", "forward", ("B", "2*K"))
    finish_scores = top_scores / generated**length_penalty
    tracer.record("finish_scores", finish_scores, "top_scores / generated ** length_penalty", "forward",
                  ("B", "2*K"), "a finished translation's score: a longer one is not punished for its length")
    return top_scores, parent, token, finish_scores


def _beam_search(model, src, beam, max_new, length_penalty, early_stopping, cache, banned, force_eos,
                 renormalize=False, tracer=NO_TRACE, steps=None):
    cfg = model.config
    B, K = src.shape[0], beam
    banned = _banned(model, banned)
    enc = encode_for_decoding(model, src).repeat(K)
    kv = model_cache(model, B * K) if cache else None
    width = 1 + max_new  # the start token and every generated one
    running = np.full((B, K, width), cfg.pad_id, dtype=np.int64)
    running[:, :, 0] = cfg.bos_id
    running_scores = np.full((B, K), NEG)
    running_scores[:, 0] = 0.0  # only the first beam is live at the start: no K copies of one choice
    finished = np.full((B, K, width), cfg.pad_id, dtype=np.int64)
    finished_scores = np.full((B, K), NEG)
    finished_len = np.zeros((B, K), dtype=np.int64)
    is_finished = np.zeros((B, K), dtype=bool)
    improvable = np.ones(B, dtype=bool)
    top_k_mask = np.arange(2 * K) < K
    rows_b = np.arange(B)[:, None]
    cur = 1  # tokens in each running sequence, the start token included
    while True:
        last = cur + 1 == width  # the step that makes the longest allowed translation
        prefix = running.reshape(B * K, width)[:, :cur]
        logp = _next_scores(model, enc, prefix, kv, banned, force_eos and last, renormalize)
        generated = cur  # tokens generated by a candidate of this step, its new token included
        top_scores, parent, token, finish_scores = beam_step(logp, running_scores, generated, length_penalty)
        candidates = running[rows_b, parent].copy()  # (B, 2K, width)
        candidates[:, :, cur] = token
        ends = (token == cfg.eos_id) | (cur + 1 >= width)  # (B, 2K): the end token, or no room left
        # the K best candidates that have not ended run on
        live_scores = top_scores + ends * NEG
        keep = np.argsort(-live_scores, axis=1, kind="stable")[:, :K]  # (B, K)
        running = np.take_along_axis(candidates, keep[:, :, None], axis=1)
        running_scores = np.take_along_axis(live_scores, keep, axis=1)
        new_parents = np.take_along_axis(parent, keep, axis=1)  # (B, K) beam each one continues
        # ended candidates among the first K join the finished list, scored with the penalty
        scored = finish_scores + (~(ends & top_k_mask)) * NEG
        scored = scored + (~improvable)[:, None] * NEG
        if early_stopping:
            scored = scored + is_finished.all(axis=1)[:, None] * NEG
        merged_scores = np.concatenate([finished_scores, scored], axis=1)  # (B, 3K)
        merged = np.concatenate([finished, candidates], axis=1)
        merged_len = np.concatenate([finished_len, np.full((B, 2 * K), generated)], axis=1)
        merged_done = np.concatenate([is_finished, ends & top_k_mask], axis=1)
        best = np.argsort(-merged_scores, axis=1, kind="stable")[:, :K]
        finished = np.take_along_axis(merged, best[:, :, None], axis=1)
        finished_scores = np.take_along_axis(merged_scores, best, axis=1)
        finished_len = np.take_along_axis(merged_len, best, axis=1)
        is_finished = np.take_along_axis(merged_done, best, axis=1)
        if kv is not None:
            kv.select((new_parents + np.arange(B)[:, None] * K).reshape(-1))
        cur += 1
        if steps is not None:
            steps.append(BeamStep(cur, running[:, :, :cur].copy(), running_scores.copy(), new_parents.copy(),
                                  finished_scores.copy(), finished_len.copy()))
        # can the best running beam still beat the worst finished one (judged at this length)?
        best_running = running_scores[:, 0] / (cur - 1) ** length_penalty
        worst = np.where(is_finished, finished_scores.min(axis=1, keepdims=True), NEG)
        improvable &= (best_running[:, None] > worst).any(axis=1)
        if not improvable.any() or (early_stopping and is_finished.all()) or ends.all():
            break
    tracer.record("beam_tokens", finished, "the beams' finished translations, best first: <s>, the pieces, "
                  "</s>, padding", "forward", ("B", "beams", "t"), "t = 1 + max_new places")
    tracer.record("beam_scores", finished_scores, "Σ log p / length ** length_penalty, length = pieces "
                  "generated (</s> included)", "forward", ("B", "beams"), "the best is kept")
    out = []
    for b in range(B):
        n = int(finished_len[b, 0])
        ids = [int(t) for t in finished[b, 0, 1 : 1 + n]]
        out.append(ids[:-1] if ids and ids[-1] == cfg.eos_id else ids)
    return out
