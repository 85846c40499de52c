"""Writing a file so that a crash, a full disk or Ctrl-C never leaves half of it.

Checkpoints, progress files and cached results all go through :func:`atomic_write`: the bytes go
to a temporary file beside the target, are flushed to disk, and only then renamed over the
target in one step (a rename within a folder is atomic). On any failure the temporary file is
removed and the previous version of the target is untouched.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None):
    """Yield an open temporary file; when the block ends without error it replaces ``path``.

    Creating the temporary file can raise :class:`OSError` (no such folder, no permission);
    callers decide whether that is the user's error or not worth reporting.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
