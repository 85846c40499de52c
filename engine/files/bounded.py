"""Reading a small file that someone else may have put there: regular files only, and not too much.

kqv reads a few small files it wrote itself (progress, cached lab results, what a practice
child left). Anyone can put something else at those names: a FIFO, whose ``open()`` waits for
a writer that never comes; a link to ``/dev/zero``, which reads until memory runs out; a
multi-gigabyte file. :func:`read_bounded` opens without blocking, asks the opened file itself
(``fstat``, so nothing can be swapped in between) whether it is a regular file, and reads at
most ``limit`` bytes, so none of those can hang kqv or fill its memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotReadable(OSError):
    """The path holds something kqv will not read: not a regular file, or larger than allowed."""


class NotRegular(NotReadable):
    """A FIFO, a device, a socket or a folder: not damaged, just not a file to read."""


class TooLarge(NotReadable):
    """A regular file larger than any file of its kind kqv writes."""


def read_bounded(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    Raises :class:`FileNotFoundError` (and the other :class:`OSError` of ``open``) as usual, and
    :class:`NotRegular` for a FIFO, device, socket or folder and :class:`TooLarge` for a file
    larger than ``limit`` (both :class:`NotReadable`).
    """
    path = Path(path)
    # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(f"{path} is not a regular file (a FIFO, a device or a folder), so kqv "
                              "does not read it")
        if st.st_size > limit:
            raise TooLarge(f"{path} holds {st.st_size:,} bytes, more than the {limit:,} such a file "
                              "ever needs")
        data = f.read(limit + 1)  # a file still growing is caught here
    if len(data) > limit:
        raise TooLarge(f"{path} grew past {limit:,} bytes while it was read")
    return data
