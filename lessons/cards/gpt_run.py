"""The traced GPT run the attention, backward and training cards ask about.

:func:`run_gpt` draws sizes for the learner's level (:func:`draw_config`), builds the real
:class:`engine.gpt.model.GPT` in float64 and traces one forward and backward pass on random
characters; :class:`GPTRun` says in words what ran. The cards of each topic live beside their
lesson's other cards (``lessons/cards/<topic>.py``) and share this run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.gpt.model import GPT, GPTConfig
from engine.trace import Record, Tracer
from lessons.cards.question import Draw, Operand, both

CONVENTION = ("Conventions: batch first, (B, T, C); heads split as (B, nh, T, hs) with hs = C / nh; "
              "weights stored (in, out), so a linear layer is x @ w.")
LETTERS = ("B", "T", "C", "nh", "hs", "V", "block_size")


@dataclass
class GPTRun:
    """A GPT, the batch it ran on, and the trace of its forward and backward pass."""

    model: GPT
    B: int
    T: int
    trace: Tracer
    letters = LETTERS
    derived = {"C": "nh*hs"}  # C is not free: it is nh heads of hs channels

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    @property
    def dims(self) -> dict[str, int]:
        return {k: v for k, v in self.trace.dims.items() if k in LETTERS}

    def setting(self) -> str:
        return f"{self.model_text()} reads {self.sequences()} of T={self.T} characters."

    def model_text(self) -> str:
        c = self.config
        heads = "nh=1 head" if c.n_head == 1 else f"nh={c.n_head} heads"
        blocks = "one block" if c.n_layer == 1 else f"{c.n_layer} blocks (h0..h{c.n_layer - 1})"
        return (f"A GPT with V={c.vocab_size} characters, block_size={c.block_size}, C={c.n_embd} channels, "
                f"{heads} of hs={c.head_size}, {blocks}")

    def sequences(self) -> str:
        # every letter an answer may hold is stated, 1 included: "one sequence" left B = 1 implied,
        # and (9, 12) then looked as right as (1, 9, 12)
        return "B=1 sequence" if self.B == 1 else f"B={self.B} sequences"

    def block(self, draw: Draw) -> str:
        """The prefix of a block to ask about: h0, or any block at level 2."""
        return f"h{int(draw.rng.integers(self.config.n_layer))}."


def draw_config(draw: Draw, strict: bool) -> tuple[dict, int, int]:
    """Sizes for the level, all different from each other where the level allows it.

    ``strict`` (answers in letters about whether an operation works) needs B and nh above 1
    and every size distinct, so an operation works with these numbers exactly when it works
    in letters.
    """
    if "config" in draw.fixed:
        return dict(draw.fixed["config"]), int(draw.fixed.get("B", 2)), int(draw.fixed.get("T", 4))
    rng = draw.rng
    level = max(draw.level, 1) if strict else draw.level
    for _attempt in range(1000):  # a handful of draws is usual
        if level == 0:
            B, nh, n_layer = 1, 1, 1
            hs = int(rng.integers(3, 17))
        else:
            B = int(rng.integers(2, 7 if level == 1 else 9))
            nh = int(rng.integers(2, 5 if level == 1 else 7))
            hs = int(rng.integers(2, 9))
            n_layer = 1 if level == 1 else int(rng.integers(2, 4))
        C = nh * hs
        T = int(rng.integers(3, 13 if level < 2 else 17))
        block_size = T + int(rng.integers(1, 6))
        V = int(rng.integers(5, 40))
        free = [B, T, C, nh, V, block_size] + ([hs] if nh > 1 else [])  # one head: hs is C
        sizes = [n for n in free if n != 1]
        if len(set(sizes)) == len(sizes):
            break
    config = dict(vocab_size=V, block_size=block_size, n_layer=n_layer, n_head=nh, n_embd=C)
    return config, B, T


def run_gpt(draw: Draw, strict: bool = False) -> GPTRun:
    """Build a GPT for the level and trace one forward and backward pass on random characters."""
    config, B, T = draw_config(draw, strict)
    model = GPT(GPTConfig(**config), seed=int(draw.rng.integers(2**31)), dtype=np.float64)
    idx = draw.rng.integers(config["vocab_size"], size=(B, T))
    targets = draw.rng.integers(config["vocab_size"], size=(B, T))
    tracer = Tracer(dims=model.dims(B, T))
    model.forward(idx, targets, tracer)
    model.backward(tracer)
    return GPTRun(model, B, T, tracer)


def both_forms(rec: Record) -> str:
    """A record's shape in letters and in numbers, as an answer shows it."""
    return both(rec.symbolic, rec.shape)


def flat_rows(run: GPTRun, name: str, label: str) -> Operand:
    """A (B, T, C) activation as the (B*T, C) matrix a linear layer multiplies."""
    rec = run.trace[name]
    return Operand(label, rec.value.reshape(-1, rec.value.shape[-1]),
                   ("B*T", rec.symbolic[-1]), rec)
