"""How many threads the BLAS (OpenBLAS under numpy) may use, chosen per workload.

On these 2-core machines two BLAS threads double the speed of big matrix products (the GPT)
but make the digit net's small ones 5-100x slower and erratic, so each training loop says
what it wants, through threadpoolctl rather than environment variables set by hand.
"""

from __future__ import annotations

from contextlib import contextmanager

from threadpoolctl import threadpool_limits


@contextmanager
def blas_threads(n: int | None):
    """Run the block with at most ``n`` BLAS threads (``None``: leave the library's choice)."""
    if n is None:
        yield
        return
    with threadpool_limits(limits=int(n), user_api="blas"):
        yield
