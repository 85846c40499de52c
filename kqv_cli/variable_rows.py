"""How one traced variable reads in a row: its shape in numbers and names, its dtype, its range.

Shared by the lesson screen's variables pane and ``kqv lessons show``, which prints the same rows
as plain text; this module imports no Textual, so the command starts fast.
"""

from __future__ import annotations

import numpy as np

from engine.trace import format_shape, format_symbolic


def shape_text(record) -> str:
    """``(4, 8, 8) = (B, T, T)``; the symbolic half is left out when the engine gave none."""
    numeric = format_shape(record.shape)
    if record.symbolic and len(record.symbolic) == len(record.shape):
        symbolic = format_symbolic(record.symbolic)
        if symbolic != numeric:
            return f"{numeric} = {symbolic}"
    return numeric


def number_text(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits; a whole number no longer than the exponent form
    is written out (398, never 4e+02, where a narrow table keeps 1 digit); an exponent without
    its padding zero (6.8e-9)."""
    text = f"{x:.{digits}g}"
    if "e+" in text:
        whole = f"{x:.0f}"
        if len(whole) <= len(text):
            return whole
    mantissa, e, exponent = text.partition("e")
    return mantissa + e + str(int(exponent)) if e else text  # 6.8e-9, not 6.8e-09


def short_dtype(dtype: str) -> str:
    """``float32`` -> ``f32``, ``int64`` -> ``i64`` (as jaxtyping and TorchSnooper write them)."""
    for long, short in (("float", "f"), ("uint", "u"), ("int", "i"), ("complex", "c")):
        if dtype.startswith(long):
            return short + dtype[len(long):]
    return dtype


def value_range(value: np.ndarray, digits: int = 3) -> tuple[str, str, str]:
    """min, mean, max as short strings; ``-inf`` from a causal mask shows as it is."""
    if value.size == 0:
        return ("", "", "")
    if not np.issubdtype(value.dtype, np.number) or np.issubdtype(value.dtype, np.complexfloating):
        return ("", "", "")
    with np.errstate(invalid="ignore", over="ignore"):
        v = value.astype(np.float64, copy=False)
        return tuple(number_text(float(f(v)), digits) for f in (np.min, np.mean, np.max))
