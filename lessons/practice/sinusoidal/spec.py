"""sinusoidal: the 2017 paper's fixed position code, graded against the engine's."""

from __future__ import annotations

import numpy as np

from engine.layers import sinusoidal_positions
from engine.trace import Tracer
from lessons.practice.exercise import Call, Case, Exercise, Mistake
from lessons.practice.gpt_inputs import traced_case

SETS = ({"T": 5, "C": 12}, {"T": 7, "C": 9})  # the second C is odd: one cos column fewer


def cases() -> list[Case]:
    out = []
    for dims in SETS:
        tracer = Tracer(dims=dict(dims))
        sinusoidal_positions(dims["T"], dims["C"], np.float64, tracer)
        out.append(traced_case(tracer, [Call("sinusoidal_positions", dict(dims), "pe")],
                               ["angle", "pe"], {}))
    return out


def _pos(c):
    return np.arange(c.dims["T"])[:, None]


def _columns(c, first, second):
    """sin/cos of the engine's angle put in the columns the way a mistake does."""
    angle, C = c.value("angle"), c.dims["C"]
    pe = np.zeros((c.dims["T"], C))
    pe[:, 0::2], pe[:, 1::2] = first(angle), second(angle[:, : C // 2])
    return pe


def _blocks(c):
    angle, C = c.value("angle"), c.dims["C"]
    return np.concatenate([np.sin(angle), np.cos(angle[:, : C // 2])], axis=1)


MISTAKES = (
    Mistake("i/C instead of 2i/C",
            "the exponent is 2i/C where 2i is the even column index 0, 2, 4, ...: step by 2, "
            "np.arange(0, C, 2), not 0, 1, 2, ...",
            lambda c: {"angle": _pos(c) / 10000 ** (np.arange((c.dims["C"] + 1) // 2) / c.dims["C"])},
            ("np.arange(0, C, 2)", "np.arange((C + 1) // 2)")),
    Mistake("multiplied by 10000^(2i/C)",
            "the position is divided by 10000^(2i/C): the first columns turn fast (one radian per "
            "position), the last ones slowly.",
            lambda c: {"angle": _pos(c) * 10000 ** (np.arange(0, c.dims["C"], 2) / c.dims["C"])},
            ("pos / 10000 ** (two_i / C)", "pos * 10000 ** (two_i / C)")),
    Mistake("sin and cos swapped",
            "sin goes in the even columns 0, 2, 4, ... and cos in the odd ones: PE(pos, 2i) = sin, "
            "PE(pos, 2i+1) = cos.",
            lambda c: {"pe": _columns(c, np.cos, np.sin)},
            ("pe[:, 0::2] = np.sin(angle)\n    pe[:, 1::2] = np.cos(angle[:, : C // 2])",
             "pe[:, 0::2] = np.cos(angle)\n    pe[:, 1::2] = np.sin(angle[:, : C // 2])")),
    Mistake("sin block, then cos block",
            "sin and cos are interleaved, column by column (pe[:, 0::2] and pe[:, 1::2]), not all "
            "sines first and all cosines after.",
            lambda c: {"pe": _blocks(c)},
            ("pe[:, 0::2] = np.sin(angle)\n    pe[:, 1::2] = np.cos(angle[:, : C // 2])",
             "pe[:, : (C + 1) // 2] = np.sin(angle)\n"
             "    pe[:, (C + 1) // 2 :] = np.cos(angle[:, : C // 2])")),
)

EXERCISE = Exercise(
    name="sinusoidal",
    title="sinusoidal positions",
    step="positions",
    function="sinusoidal_positions",
    phase="forward",
    text=(
        "Write the fixed position code of the 2017 Transformer paper, which the attention lesson "
        "shows (GPT-2 and kqv's default GPT learn a table wpe instead). Each pair of columns is a "
        "clock: angle = pos / 10000^(2i/C), sin(angle) in column 2i and cos(angle) in column 2i+1. "
        "The first pair turns one radian per position, later pairs ever more slowly, so every "
        "position gets its own pattern. With an odd C the last column is a sin with no cos."
    ),
    hints=(
        "Shapes: pos as a column (T, 1) and the even indices 2i as a row (ceil(C/2),) broadcast to "
        "angle (T, ceil(C/2)). pe[:, 0::2] has ceil(C/2) columns, pe[:, 1::2] has floor(C/2).",
        "Formulas: angle[pos, i] = pos / 10000^(2i/C); pe[:, 2i] = sin(angle[:, i]), "
        "pe[:, 2i+1] = cos(angle[:, i]).",
        "Near-code: angle = np.arange(T)[:, None] / 10000 ** (np.arange(0, C, 2) / C); "
        "pe[:, 0::2] = np.sin(angle); pe[:, 1::2] = np.cos(angle[:, : C // 2])",
    ),
    mistakes=MISTAKES,
    cases=cases,
)
