"""How many threads the BLAS (OpenBLAS under numpy) may use, chosen per workload.

On these 2-core machines two BLAS threads double the speed of big matrix products (the GPT)
but make the digit net's small ones 5-100x slower and erratic, so each training loop says
what it wants, through threadpoolctl rather than environment variables set by hand.
"""

from __future__ import annotations

import time
from collections import deque
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

    The machine changes while a long run goes on: another job starts on the other core, and the
    choice that was right (two threads) becomes 10-30x too slow. So the chosen count's recent
    times are kept, and when ``STRIKES`` calls in a row each take ``SLOW`` times their median or
    more (and at least ``JITTER`` longer: a 20 µs call taking 80 µs is noise, not a busy core),
    both counts are timed again (:attr:`retimed` counts how often). The same happens when
    the work changes size (generation past the context window runs the whole window each step):
    the choice is made again for the new work.

    A single big call (a forward pass over a prompt) cannot be timed twice; :meth:`decide_with`
    makes the choice on a small stand-in for it first (one of its own matrix products).
    """

    CHOICES = (1, None)  # one thread, or as many as the library takes by itself
    SLOW, STRIKES, RECENT = 4.0, 2, 8
    JITTER = 0.001  # seconds

    def __init__(self, trials: int = 3, clock=time.perf_counter):
        """``clock`` tells the seconds; a test hands a clock of its own, so it decides what each
        call took instead of timing a machine it shares."""
        self.trials = trials
        self.clock = clock
        self.retimed = 0
        self._reopen()

    def _reopen(self) -> None:
        self.times: dict[int | None, list[float]] = {n: [] for n in self.CHOICES}
        self.decided = False
        self.chosen: int | None = None
        self.recent: deque[float] = deque(maxlen=self.RECENT)  # the chosen count's last times
        self.strikes = 0

    def __call__(self, fn, *args, **kwargs):
        # until decided, the choice tried least so far: 1, all, 1, all, ...
        n = self.chosen if self.decided else min(self.CHOICES, key=lambda k: len(self.times[k]))
        with blas_threads(n):
            start = self.clock()
            out = fn(*args, **kwargs)
            seconds = self.clock() - start
        if not self.decided:
            self.times[n].append(seconds)
            if all(len(t) >= self.trials for t in self.times.values()):
                self._decide()
                self.recent.extend(self.times[self.chosen])
        else:
            self._watch(seconds)
        return out

    def _decide(self) -> None:
        self.chosen = min(self.CHOICES, key=lambda k: sorted(self.times[k])[len(self.times[k]) // 2])
        self.decided = True

    def _watch(self, seconds: float) -> None:
        """Time both counts again after STRIKES calls in a row SLOW times their usual length."""
        usual = sorted(self.recent)[len(self.recent) // 2] if len(self.recent) >= self.trials else None
        self.recent.append(seconds)
        if usual is None:
            return
        slow = seconds > self.SLOW * usual and seconds - usual > self.JITTER
        self.strikes = self.strikes + 1 if slow else 0
        if self.strikes >= self.STRIKES:
            self.retimed += 1
            self._reopen()

    def decide_with(self, probe) -> int | None:
        """Choose by timing ``probe()`` (a cheap stand-in for the next call) on each count, unless
        already decided; return the count chosen. The call that follows runs on that count and
        starts the record of its own times.

        Once each count has run the probe twice, a count whose fastest run is ``SLOW`` times
        the other's slowest ends the trials: on a busy core every further probe on it would
        cost that much again. (One run each is not enough: on a loaded machine a single run of
        a few ms may lose a whole time slice to another process, whichever count it used.)"""
        while not self.decided:
            n = min(self.CHOICES, key=lambda k: len(self.times[k]))
            with blas_threads(n):
                start = self.clock()
                probe()
                self.times[n].append(self.clock() - start)
            one, every = (self.times[n] for n in self.CHOICES)
            clear = len(one) >= 2 and len(every) >= 2 and (min(one) > self.SLOW * max(every)
                                                           or min(every) > self.SLOW * max(one))
            if clear or all(len(t) >= self.trials for t in self.times.values()):
                self._decide()  # the probe's times are not the call's: recent starts empty
        return self.chosen
