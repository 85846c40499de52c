"""How many threads the BLAS (OpenBLAS under numpy) may use, chosen per workload.

On these 2-core machines two BLAS threads double the speed of big matrix products (the GPT)
but make the digit net's small ones 5-100x slower and erratic, so each training loop says
what it wants, through threadpoolctl rather than environment variables set by hand.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    # finding the loaded BLAS libraries is the slow part (~0.15 ms): done once, a limit then
    # costs ~10 µs, little enough to set around every generated token
    return ThreadpoolController()


@contextmanager
def blas_threads(n: int | None):
    """Run the block with at most ``n`` BLAS threads (``None``: leave the library's choice)."""
    if n is None:
        yield
        return
    with _controller().limit(limits=int(n), user_api="blas"):
        yield


class FasterThreads:
    """Run the same kind of call on 1 BLAS thread and on the library's own count (every core)
    a few times each, then keep whichever was faster (``auto``, as ``kqv train gpt --threads
    auto`` does for its halves).

    Generating a token is one row through every weight matrix: bound by memory, not arithmetic,
    so more threads help only when the other cores are free; on a busy 2-core machine two
    OpenBLAS threads waiting on each other were measured 10x slower than one. Timing both
    answers it for the machine as it is now.
    """

    CHOICES = (1, None)  # one thread, or as many as the library takes by itself

    def __init__(self, trials: int = 3):
        self.trials = trials
        self.times: dict[int | None, list[float]] = {n: [] for n in self.CHOICES}
        self.decided = False
        self.chosen: int | None = None

    def __call__(self, fn, *args, **kwargs):
        # until decided, the choice tried least so far: 1, all, 1, all, ...
        n = self.chosen if self.decided else min(self.CHOICES, key=lambda k: len(self.times[k]))
        with blas_threads(n):
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            seconds = time.perf_counter() - start
        if not self.decided:
            self.times[n].append(seconds)
            if all(len(t) >= self.trials for t in self.times.values()):
                self.chosen = min(self.CHOICES, key=lambda k: sorted(self.times[k])[len(self.times[k]) // 2])
                self.decided = True
        return out
