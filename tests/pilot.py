"""Running Textual pilot tests without a pytest async plugin."""

from __future__ import annotations

import asyncio
import functools


def pilot_test(test):
    """Run an async pilot test on a fresh event loop."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run
