"""The GPT's configuration: its sizes, and the parts each what-if swaps in, by name.

:class:`GPTConfig` is what a checkpoint keeps and what :class:`engine.gpt.model.GPT` is built
from. Each what-if field names one part from a table (``POSITIONS``, ``BLOCKS``, ``NORMS``, and
the attention's ``SCORES``, ``SCALES`` and ``MASKS``); :func:`swapped` turns parts into those
names. :func:`count_parameters` sizes a model from its config alone, without building it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from engine.attention_parts import MASKS, SCALES, SCORES
from engine.errors import KqvError
from engine.gpt.blocks import (
    Block,
    BlockWithoutResidual,
    LearnedPositions,
    NoNorm,
    NoPositions,
    SinusoidalPositions,
)
from engine.layers import LN_EPS, LayerNorm, check_heads

# The parts a config names, by the names a checkpoint stores: each what-if swaps one part.
POSITIONS = {"learned": LearnedPositions, "sinusoidal": SinusoidalPositions, "none": NoPositions}
NORMS = {True: LayerNorm, False: NoNorm}
BLOCKS = {True: Block, False: BlockWithoutResidual}
# config field -> its table of parts
PARTS = {"pos": POSITIONS, "score": SCORES, "scale": SCALES, "mask": MASKS, "residual": BLOCKS,
         "layernorm": NORMS}


def swapped(**parts) -> dict:
    """The config changes that build the GPT with these parts in place of the standard ones, by
    config field: ``swapped(mask=FLIPPED, residual=BlockWithoutResidual)`` is ``{"mask":
    "flipped", "residual": False}``. A config names its parts so that a checkpoint can say which
    ran; the lab's variants are written with the parts themselves."""
    return {name: next(key for key, known in PARTS[name].items() if known is part)
            for name, part in parts.items()}


@dataclass
class GPTConfig:
    """The model's sizes. Defaults are nanoGPT's CPU run of shakespeare_char (V set by the text)."""

    vocab_size: int = 65
    block_size: int = 64  # T at most: the longest context the model sees
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128  # C
    dropout: float = 0.0
    bias: bool = True  # biases in linear layers and LayerNorms, as GPT-2
    pos: str = "learned"  # learned (GPT-2) | sinusoidal (Attention Is All You Need) | none
    # the what-ifs (the lab's experiments), each naming a part the model is built with
    # (:meth:`engine.gpt.model.GPT._build_layers`); the standard GPT is the default of each
    score: str = "dot"  # dot: q · k | squared: q² · k²  (engine.attention_parts.SCORES)
    scale: bool = True  # multiply the scores by 1/√hs  (engine.attention_parts.SCALES)
    mask: str = "causal"  # causal: hide the future | flipped: hide the past | none  (MASKS)
    residual: bool = True  # x + attn(...), x + mlp(...): Block, else BlockWithoutResidual
    layernorm: bool = True  # LayerNorm before attention, before the MLP and at the end, else NoNorm
    ln_eps: float = LN_EPS  # ε inside LayerNorm's square root (GPT-2's layer_norm_epsilon)

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise KqvError(f"{name} must be a positive whole number, got {value!r}")
        check_heads(self.n_embd, self.n_head)
        if not 0.0 <= self.dropout < 1.0:
            raise KqvError(f"dropout must be in [0, 1), got {self.dropout}")
        for name, allowed in (("pos", POSITIONS), ("score", SCORES), ("mask", MASKS),
                              ("scale", SCALES), ("residual", BLOCKS), ("layernorm", NORMS)):
            value = getattr(self, name)
            if not isinstance(value, (str, bool)) or value not in allowed:
                raise KqvError(f"{name} must be one of {', '.join(map(str, allowed))}, "
                               f"not {getattr(self, name)!r}")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def count_parameters(cfg: GPTConfig) -> dict[str, int]:
    """Parameters of each part of the model, from its sizes alone (no arrays are made).

    A linear layer from n_in to n_out holds n_in·n_out weights and n_out biases; a LayerNorm
    over C channels holds C gains and C shifts. A block is c_attn (C → 3C), c_proj (C → C),
    c_fc (C → 4C), the MLP's c_proj (4C → C) and two LayerNorms: 12·C² + 13·C with biases. The
    LM head is wte itself (tied), so it adds nothing. The sum is what ``GPT(cfg).num_params``
    counts array by array (a test holds them equal), so it can size models too big to build
    here, such as GPT-2 small.
    """
    C, bias = cfg.n_embd, cfg.bias

    def linear(n_in: int, n_out: int) -> int:
        return n_in * n_out + (n_out if bias else 0)

    layernorm = (2 * C if bias else C) if cfg.layernorm else 0
    block = linear(C, 3 * C) + linear(C, C) + linear(C, 4 * C) + linear(4 * C, C) + 2 * layernorm
    return {
        "wte": cfg.vocab_size * C,
        "wpe": cfg.block_size * C if cfg.pos == "learned" else 0,
        "blocks": cfg.n_layer * block,
        "ln_f": layernorm,
    }
