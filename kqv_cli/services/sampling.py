"""Text from a trained character GPT, and digits read by a trained net: one way for both fronts.

``kqv sample``, the sample ``kqv train gpt`` prints at each evaluation, and the Train screen's
``s`` all draw characters through :func:`characters`, with ``kqv sample``'s defaults
(temperature 0.8, top-k 200), so a sample in the app reads like one from the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from engine.errors import KqvError

TEMPERATURE, TOP_K = 0.8, 200  # kqv sample's defaults


def encode_prompt(vocab, prompt: str) -> np.ndarray:
    """The prompt's ids; refuses characters the model never saw in training, naming them."""
    if not prompt:
        raise KqvError("--prompt is empty; give at least one character, e.g. --prompt \"ROMEO:\"")
    missing = sorted({c for c in prompt if c not in vocab.chars})
    if missing:
        shown = ", ".join(repr(c) for c in missing[:5])
        raise KqvError(f"the prompt has characters this model never saw in training: {shown}; "
                       "use only characters of its training text")
    return vocab.encode(prompt)


def characters(model, vocab, n: int, prompt: str | None = None, temperature: float = TEMPERATURE,
               top_k: int | None = TOP_K, seed: int | None = None) -> Iterator[str]:
    """``n`` characters the model writes after ``prompt`` (default: its start character), one at
    a time as they are drawn (the prompt itself is not yielded). The prompt is checked at the
    call, before anything is drawn or shown."""
    ids = encode_prompt(vocab, vocab.start_char if prompt is None else prompt)
    stream = model.stream(ids, n, temperature=temperature, top_k=top_k, rng=np.random.default_rng(seed))
    return (vocab.chars[i] for i in stream)


def text(model, vocab, n: int, temperature: float = TEMPERATURE, top_k: int | None = TOP_K,
         seed: int | None = None, should_stop: Callable[[], bool] = lambda: False) -> str:
    """The start character and up to ``n`` characters after it (fewer if ``should_stop`` turns
    true), as one string."""
    out = [vocab.start_char]
    for c in characters(model, vocab, n, temperature=temperature, top_k=top_k, seed=seed):
        out.append(c)
        if should_stop():
            break
    return "".join(out)


def from_checkpoint(path: Path, n: int, should_stop: Callable[[], bool] = lambda: False,
                    seed: int | None = None) -> str:
    """Text from the GPT saved at ``path``, as ``kqv sample path`` writes it."""
    from engine.gpt.checkpoint import load_gpt

    model, vocab, _ = load_gpt(path)
    return text(model, vocab, n, seed=seed, should_stop=should_stop)


def digit_guesses(net, images, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels, guesses) of the first ``n`` of ``images`` (a split with ``x`` and ``labels``)."""
    return images.labels[:n], net.predict(images.x[:n])
