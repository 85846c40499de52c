"""A split's sentence pairs as ids, and one epoch's batches of them, grouped by length.

The source is ``pieces + </s>``; the target ``<s> + pieces + </s>``, which a batch cuts into the
decoder's input (``<s> + pieces``) and what it learns to write (``pieces + </s>``). A batch of 64
five-piece sentences should not pay for one sentence of 30 pieces, so each epoch shuffles the
pairs, sorts them by length inside pools of :data:`POOL_BATCHES` batches, cuts the batches and
shuffles their order (:func:`epoch_batches`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.data.bpe import BOS_ID, EOS_ID, BPEVocab, pad_batch

POOL_BATCHES = 50  # batches sorted by length together: enough to group lengths, few enough to mix


@dataclass
class PairIds:
    """One split's pairs as ids: ``src[i]`` is pieces + </s>, ``tgt[i]`` is <s> + pieces + </s>."""

    src: list[np.ndarray]
    tgt: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.src)

    def batch(self, idx) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``src (B, S)``, ``tgt_in (B, T)`` and ``tgt_out (B, T)`` of the pairs ``idx``, padded."""
        src = pad_batch([self.src[i] for i in idx])
        tgt = pad_batch([self.tgt[i] for i in idx])
        return src, tgt[:, :-1], tgt[:, 1:]


def encode_pairs(vocab: BPEVocab, pairs: list[tuple[str, str]], max_len: int) -> tuple[PairIds, int]:
    """The pairs as ids, dropping those longer than the model's ``max_len`` positions; returns the
    ids and how many pairs were dropped."""
    if not pairs:
        return PairIds([], []), 0
    srcs = vocab.encode_batch([s for s, _ in pairs])
    tgts = vocab.encode_batch([t for _, t in pairs])
    out, dropped = PairIds([], []), 0
    for s, t in zip(srcs, tgts, strict=True):
        if len(s) + 1 > max_len or len(t) + 1 > max_len:  # </s>; the decoder sees <s> + t, t + </s>
            dropped += 1
            continue
        out.src.append(np.array(s + [EOS_ID], dtype=np.int64))
        out.tgt.append(np.array([BOS_ID] + t + [EOS_ID], dtype=np.int64))
    return out, dropped


def epoch_batches(src_lens: np.ndarray, tgt_lens: np.ndarray, batch_size: int,
                  rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of pair indices: shuffled, grouped by length in pools, order shuffled."""
    n = len(src_lens)
    order = rng.permutation(n)
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, n, pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.lexsort((src_lens[chunk], tgt_lens[chunk]))]  # by target length, then source
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
