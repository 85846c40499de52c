"""What the screens' worker threads share."""

from __future__ import annotations

import os
import threading


def yield_to_the_interface() -> None:
    """Lower this (worker) thread's CPU priority, so on a busy machine the event loop that
    handles the keys is scheduled first. Linux schedules threads one by one; elsewhere this is
    a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass
