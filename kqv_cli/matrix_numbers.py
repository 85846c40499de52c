"""How the numbers of one matrix are written: one format, chosen from the whole matrix.

A matrix written cell by cell, each number in its own best format, mixes styles: ``-4e-3`` beside
``0.002`` beside ``0.05``, which a reader has to decode one cell at a time before comparing.
:func:`matrix_format` looks at the whole matrix once and picks one format for every entry, the
way numpy and PyTorch print an array:

* whole numbers (token ids, counts, a 0/1 mask) as whole numbers: ``50256``, ``0``, ``1``;
* else fixed point with the same number of decimals in every cell, as many as fit the cell for
  the largest entry (``-0.52``, ``0.03``; ``0.094`` when nothing is negative);
* else, when the largest entry would keep fewer than two significant digits (all entries tiny,
  ``0.004``) or would not fit at all (``123456``), one power of ten taken out of every entry and
  written once beside the matrix, as PyTorch's ``1e-3 *``: ``×1e-3`` over ``-4.10  2.00``.

An exact zero is written ``0`` (a masked triangle of attention weights reads as empty), and the
entries that are not finite as ``−inf``, ``inf`` and ``nan``. Nothing here knows of Textual or
rich, so ``kqv lessons show`` writes its matrices with the same formats as the app.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CELL = 5  # characters per number in the value pane: -0.52, 0.094, 50256, −inf


@dataclass(frozen=True)
class MatrixFormat:
    """One way of writing every entry of a matrix.

    ``decimals`` digits after the point (None: whole numbers), after dividing each entry by
    ``10**exponent``; ``width`` is the widest entry it writes, non-finite ones included.
    """

    decimals: int | None = None
    exponent: int = 0
    width: int = 1

    @property
    def scale(self) -> str:
        """``×1e-3``: what every written number is to be multiplied by ("" when by 1)."""
        return f"×1e{self.exponent}" if self.exponent else ""

    def text(self, x: float) -> str:
        x = float(x)
        if not math.isfinite(x):
            return "nan" if math.isnan(x) else ("−inf" if x < 0 else "inf")
        if x == 0:
            return "0"
        if self.exponent:
            x = x / 10.0**self.exponent
        if self.decimals is None:
            return f"{x:.0f}"
        return f"{x:.{self.decimals}f}"


def matrix_format(matrix, cell: int = CELL) -> MatrixFormat:
    """The one format for every entry of ``matrix`` in cells of ``cell`` characters (see the module)."""
    values = np.asarray(matrix)
    if values.size == 0 or not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
        return MatrixFormat()
    whole_dtype = np.issubdtype(values.dtype, np.integer) or values.dtype == np.bool_
    if whole_dtype:
        finite, special = values, 0
    else:
        mask = np.isfinite(values)
        finite = values if mask.all() else values[mask]
        special = 0 if mask.all() else max(len(MatrixFormat().text(x)) for x in np.unique(values[~mask]))
    if finite.size == 0:
        return MatrixFormat(width=max(special, 1))
    lo, hi = finite.min(), finite.max()
    top = max(abs(float(lo)), abs(float(hi)))
    sign = 1 if lo < 0 else 0
    if top == 0:
        return MatrixFormat(width=max(special, 1))
    whole = whole_dtype or _all_whole(finite)
    if whole:
        width = len(f"{top:.0f}") + sign
        if width <= cell:
            return MatrixFormat(width=max(width, special))
    for decimals in range(cell - 2 - sign, -1, -1):  # as many decimals as fit the largest entry
        widest = len(f"{top:.{decimals}f}") + sign
        if widest <= cell:
            if top * 10**decimals < 9.5:  # the largest entry would keep one significant digit
                break
            return MatrixFormat(decimals, width=max(widest, special))
    # one power of ten out of every entry: the largest then reads d.dd
    exponent = math.floor(math.log10(top))
    decimals = max(cell - 2 - sign, 0)
    if len(f"{top / 10.0**exponent:.{decimals}f}") > 1 + (decimals > 0) + decimals:  # 9.996 -> 10.00
        exponent += 1
    widest = len(f"{top / 10.0**exponent:.{decimals}f}") + sign
    return MatrixFormat(decimals, exponent, max(widest, special))


def _all_whole(values: np.ndarray) -> bool:
    """Whether every entry is a whole number; a few thousand entries usually settle it without
    a rounded copy of an embedding table's millions (one fraction among them is enough)."""
    flat = values.reshape(-1)
    head = flat[:4096]
    if not np.all(head == np.round(head)):
        return False
    return bool(np.all(flat == np.round(flat)))
