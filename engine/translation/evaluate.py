"""Translating many sentences at once, and scoring the translations with BLEU.

BLEU (Papineni et al., 2002) counts how many of the translation's 1- to 4-word sequences also
occur in a reference translation, takes the geometric mean of the four precisions and
penalises translations shorter than the references. With several references, a word sequence
counts if any reference has it, so "Courez !" is not marked wrong because another translator
wrote "Cours !". The score comes from sacrebleu, the scorer papers report, with its standard
tokenisation (13a), so a number here can be set beside a published one.
"""

from __future__ import annotations

import numpy as np

from engine.data.bpe import EOS_ID, BPEVocab, pad_batch
from engine.errors import KqvError


def encode_sources(vocab: BPEVocab, texts: list[str], max_len: int, truncate: bool = False
                   ) -> tuple[list[list[int]], list[int]]:
    """Each source as pieces + </s>; returns the ids and the indices of sentences that were too long
    (cut to ``max_len`` when ``truncate``, else refused with one line)."""
    ids, long = [], []
    for i, s in enumerate(vocab.encode_batch(texts)):
        if len(s) + 1 > max_len:
            if not truncate:
                raise KqvError(f"sentence {i + 1} is {len(s)} pieces long; this model reads at most "
                               f"{max_len - 1} (its {max_len} positions, one for the end mark)")
            long.append(i)
            s = s[: max_len - 1]
        ids.append(s + [EOS_ID])
    return ids, long


def max_new_tokens(src_len: int, max_len: int) -> int:
    """How many pieces a translation may have: a French sentence is rarely more than 1.5 times
    the English one plus a few pieces (on the Tatoeba pairs it averages 1.25 times)."""
    return max(1, min(max_len - 1, (3 * src_len) // 2 + 8))


def translate_ids(model, src_ids: list[list[int]], beam: int = 4, batch_size: int = 64) -> list[list[int]]:
    """Translations (ids, no <s> or </s>) of sources given as ids, in their order.

    Sentences go in batches of similar length, so little of a batch is padding.
    """
    from engine.translation.decode import beam_search, greedy

    max_len = model.config.max_len
    order = np.argsort([len(s) for s in src_ids], kind="stable")
    out: list[list[int] | None] = [None] * len(src_ids)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        src = pad_batch([src_ids[i] for i in idx], model.config.pad_id)
        max_new = max_new_tokens(src.shape[1], max_len)
        if beam == 1:
            hyps = greedy(model, src, max_new=max_new)
        else:
            # a sentence stops once it has ``beam`` finished translations: searching on for a
            # longer one that the length penalty might prefer costs far more than it gains here
            hyps = beam_search(model, src, beam=beam, max_new=max_new, early_stopping=True)
        for i, h in zip(idx, hyps, strict=True):
            out[i] = [t for t in h if t not in (model.config.bos_id, model.config.eos_id)]
    return out  # type: ignore[return-value]


def translate_texts(model, vocab: BPEVocab, texts: list[str], beam: int = 4, batch_size: int = 64
                    ) -> list[str]:
    ids, _ = encode_sources(vocab, texts, model.config.max_len, truncate=True)
    return [vocab.decode(h) for h in translate_ids(model, ids, beam, batch_size)]


def corpus_bleu(hypotheses: list[str], references: list[list[str]]) -> float:
    """sacrebleu's corpus BLEU (0-100) of ``hypotheses`` against every reference of each sentence."""
    import sacrebleu

    k = max(len(r) for r in references)
    streams = [[r[j] if j < len(r) else None for r in references] for j in range(k)]
    return round(float(sacrebleu.corpus_bleu(hypotheses, streams).score), 2)
