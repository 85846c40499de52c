"""Where kqv keeps things on the user's machine.

Downloads (MNIST, Tiny Shakespeare) go to the user cache folder; progress (lessons seen, quiz
cards) to the user data folder, both as platformdirs names them for this OS. Two environment
variables move them, for tests and for people who keep data elsewhere:
``KQV_CACHE_DIR`` and ``KQV_STATE_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def cache_dir() -> Path:
    """The folder for downloaded data sets (created on first write, not here)."""
    return Path(os.environ.get("KQV_CACHE_DIR") or default_cache_dir())


def default_cache_dir() -> Path:
    """The cache folder when ``KQV_CACHE_DIR`` is not set: this OS's user cache folder for kqv."""
    return Path(platformdirs.user_cache_dir("kqv"))


def state_dir() -> Path:
    """The folder for the learner's progress files."""
    return Path(os.environ.get("KQV_STATE_DIR") or platformdirs.user_data_dir("kqv"))
