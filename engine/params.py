"""One flat buffer for every parameter of a model, and one for every gradient.

A model is built as ordinary layers, each holding its own named arrays (``w``, ``b``); then
:func:`pack` moves them all into one flat vector and points each layer's attribute at its
slice of it (a view: the layer still reads ``self.w``), and does the same for the gradients
(``self.dw``). To the reader the model is named arrays; to the optimiser it is one vector, so
Adam and gradient clipping are a handful of whole-vector numpy passes, and a backward pass
writes every gradient in place with ``np.matmul(..., out=self.dw)``, allocating nothing.

2-D weights come first in the vector, so "weight decay on the matrices only" is one slice:
``flat[:n_decay]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Packed:
    """The two buffers and the named views into them (``params[name]``, ``grads[name]``)."""

    flat_params: np.ndarray
    flat_grads: np.ndarray
    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]
    n_decay: int  # how many leading entries of the buffers belong to 2-D weights


def pack(entries, dtype, fill: bool = True, shared: np.ndarray | None = None) -> Packed:
    """Move the parameters named by ``entries`` into one flat buffer (2-D weights first).

    ``entries`` is ``[(full name, layer, attribute), ...]`` (``Module.named_params()``); each
    ``layer.attribute`` and ``layer.d<attribute>`` becomes a view of the new buffers. With
    ``shared``, the parameters are views of that buffer (another model's, the same layout)
    instead; ``fill=False`` leaves the buffer unset (weights about to be loaded).
    """
    entries = sorted(entries, key=lambda e: getattr(e[1], e[2]).ndim < 2)  # stable: 2-D first
    total = sum(getattr(layer, attr).size for _, layer, attr in entries)
    flat_params = np.empty(total, dtype=dtype) if shared is None else shared
    flat_grads = np.zeros(total, dtype=dtype)
    params: dict[str, np.ndarray] = {}
    grads: dict[str, np.ndarray] = {}
    n_decay = offset = 0
    for name, layer, attr in entries:
        value = getattr(layer, attr)
        n = value.size
        view = flat_params[offset : offset + n].reshape(value.shape)
        if shared is None and fill:
            view[...] = value
        grad = flat_grads[offset : offset + n].reshape(value.shape)
        setattr(layer, attr, view)
        setattr(layer, "d" + attr, grad)
        params[name], grads[name] = view, grad
        if value.ndim >= 2:
            n_decay = offset + n
        offset += n
    return Packed(flat_params, flat_grads, params, grads, n_decay)


def flat_slice(flat: np.ndarray, view: np.ndarray) -> slice:
    """Where ``view`` (a parameter) sits inside ``flat``: an optimiser's m and v follow the
    same layout, so ``opt.m[flat_slice(model.flat_params, model.params[name])]``."""
    start = (view.ctypes.data - flat.ctypes.data) // view.itemsize
    return slice(start, start + view.size)
