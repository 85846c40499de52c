"""What the lab measures on a trained GPT besides its loss.

* **The loss where generation happens.** Training scores every position of a window; sampling
  only ever reads the *last* position's logits. For a causal model the two tell the same
  story. For a model that may look at later characters (a flipped mask, no mask) they do not:
  inside a training window the answer for position t sits at position t+1, but when
  generating, the last position has nothing after it. So we also measure the cross-entropy at
  the last position of validation windows: the loss the model really has while writing.
* **Attention entropy.** Each row of ``att`` is a probability distribution over the keys a
  query may see; its entropy ``H = −Σ p ln p`` is ln(n) when the n visible keys share the
  weight equally and 0 when one key takes it all. We report the mean H over every row, head
  and layer next to the mean ln(n) of uniform rows: their ratio says how peaked attention is.
* **Real words.** How many words of the training text (runs of two letters or more) the sample
  holds per 100 characters: a rough, honest count of whether generation makes sense. Tiny
  Shakespeare itself has about 16; gibberish and runs of blank lines both score near 0.
"""

from __future__ import annotations

import re

import numpy as np

from engine.data.text import get_batch
from engine.gpt.model import GPT

WORD = re.compile(r"[a-z]{2,}")  # words of two letters or more: a lone "I" or "a" proves little


def visible_keys(mask, T: int) -> np.ndarray:
    """How many keys each of the T query positions may attend to under ``mask`` (a part from
    :mod:`engine.attention`): T less the ones it hides."""
    hidden = mask.hidden(T, T)
    return np.full(T, T) if hidden is None else T - hidden.sum(axis=1)


def probe(model: GPT, ids: np.ndarray, windows: int, seed: int, chunk: int = 64) -> dict[str, float]:
    """Last-position loss and attention entropy over ``windows`` random windows of ``ids``."""
    T = model.config.block_size
    rng = np.random.default_rng([seed, 7])
    losses, entropy, uniform = [], [], []
    log_n = np.log(visible_keys(model.h[0].attn.mask, T).astype(np.float64))  # (T,)
    for start in range(0, windows, chunk):
        x, y = get_batch(ids, min(chunk, windows - start), T, rng)
        logits, _ = model.forward(x)  # (B, T, V)
        last = logits[:, -1].astype(np.float64)  # (B, V): what sampling reads
        z = last - last.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        losses.append(-log_p[np.arange(len(x)), y[:, -1]])
        for block in model.h:
            p = block.attn.att_soft.astype(np.float64)  # (B, nh, T, T), rows sum to 1
            h = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=-1)  # (B, nh, T)
            entropy.append(h.mean())
            uniform.append(log_n.mean())
    return {
        "next_loss": float(np.concatenate(losses).mean()),
        "entropy": float(np.mean(entropy)),
        "entropy_uniform": float(np.mean(uniform)),
    }


def words_of(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def real_words_per_100(sample: str, known: set[str]) -> float | None:
    """Words of ``known`` in the sample per 100 characters; None for an empty sample."""
    if not sample:
        return None
    return 100 * sum(w in known for w in WORD.findall(sample.lower())) / len(sample)

