"""The KV cache: why generating a token costs one position instead of the whole context.

Without a cache, each new token runs the model over the whole context again, and every block
recomputes the keys and values of positions it has already seen: a causal model's k and v at
position i never change once computed, because position i cannot see what comes after it. The
cache keeps them. Then a new token is one row through every layer: its q, k and v, its k and v
appended to the cache, and its one row of attention over all ``t`` positions so far.

Shapes, per block: ``k_cache`` and ``v_cache`` are ``(B, nh, t, hs)``, ``t`` the positions
seen; a step's query is ``(B, nh, 1, hs)`` and its attention row ``(B, nh, 1, t)``. The buffers
are allocated once at ``block_size`` positions and filled from the left, so appending copies
only the new rows.
"""

from __future__ import annotations

import numpy as np

from engine.errors import KqvError


class KVCache:
    """The keys and values of every block for the ``t`` positions generated so far."""

    def __init__(self, n_layer: int, B: int, n_head: int, block_size: int, head_size: int,
                 dtype=np.float32):
        self.block_size = block_size
        self.t = 0  # positions held: the next token goes at position t
        shape = (B, n_head, block_size, head_size)  # (B, nh, block_size, hs), filled up to t
        self.layers = [LayerKV(self, shape, dtype) for _ in range(n_layer)]

    @property
    def full(self) -> bool:
        return self.t >= self.block_size

    def check_room(self, T: int) -> None:
        if self.t + T > self.block_size:
            raise KqvError(f"the KV cache holds {self.t} positions and block_size={self.block_size}: "
                           f"{T} more do not fit")

    def advance(self, T: int) -> None:
        """After every block has appended its T new positions."""
        self.t += T

    def reset(self) -> None:
        self.t = 0

    def select(self, rows) -> None:
        """Keep, in row i, the sequence that was in row ``rows[i]`` (repeats allowed): beam
        search continues the best beams, some twice, and each continuation needs its parent's
        keys and values. Only the ``t`` filled positions are copied."""
        rows = np.asarray(rows)
        for layer in self.layers:
            layer.k[:, :, : self.t] = layer.k[rows, :, : self.t]  # the right side is a copy first
            layer.v[:, :, : self.t] = layer.v[rows, :, : self.t]


class LayerKV:
    """One block's share of the cache: ``k`` and ``v`` buffers ``(B, nh, block_size, hs)``."""

    def __init__(self, owner: KVCache, shape: tuple[int, ...], dtype):
        self.owner = owner
        # np.empty: memory is only touched as positions are written
        self.k = np.empty(shape, dtype=dtype)
        self.v = np.empty(shape, dtype=dtype)

    def append(self, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store this step's ``k, v (B, nh, T, hs)`` after the cached positions; return all of
        them, ``(B, nh, t, hs)`` with ``t`` = cached + T (views, no copy)."""
        t0, T = self.owner.t, k.shape[2]
        self.k[:, :, t0 : t0 + T] = k
        self.v[:, :, t0 : t0 + T] = v
        return self.k[:, :, : t0 + T], self.v[:, :, : t0 + T]
