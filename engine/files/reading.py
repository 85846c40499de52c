"""Files the user names, checked before they are read: missing, unreadable, and not a file told apart.

``Path.is_file()`` answers False for a file that is not there, but raises ``PermissionError``
when the folder above it cannot be entered (mode 000); and some readers word every failure as
"No such file" (the ``safetensors`` library does, for a file the user may not read). So a file
is opened here first, without blocking (a FIFO named ``config.json`` would otherwise wait for a
writer forever), and whatever is wrong becomes one line that says which of these it is.

Small files kqv wrote itself (progress, cached lab results, what a practice child left) are read
with :func:`read_bounded`: anyone can put something else at those names, a FIFO, a link to
``/dev/zero`` (which reads until memory runs out), a multi-gigabyte file. It opens without
blocking, asks the opened file itself (``fstat``, so nothing can be swapped in between) whether it
is a regular file, and reads at most ``limit`` bytes.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.errors import KqvError


def readable_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a regular file this process may read, False when nothing is there.

    Anything else raises :class:`KqvError`: a file or folder the user may not read ("permission
    denied", with the mode to check), a folder or a device where a file should be.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except PermissionError:
        raise KqvError(f"cannot read {path}: permission denied (check the mode of the file and of the "
                       "folders above it, e.g. chmod u+r FILE, chmod u+rx FOLDER)") from None
    except OSError as exc:
        raise KqvError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # a folder opens for reading too
            raise KqvError(f"{path} is a folder, where kqv expects a file")
        if not stat.S_ISREG(mode):
            raise KqvError(f"{path} is not a regular file (a FIFO, a device or a socket); kqv reads "
                           "model files only from regular files")
    finally:
        os.close(fd)
    return True


def usable_folder(path: str | os.PathLike) -> bool:
    """True for a folder whose files this process may look up and list; False when ``path`` is
    not a folder (nothing, or a file). A folder the user may not enter raises :class:`KqvError`."""
    path = Path(path)
    try:
        if not stat.S_ISDIR(os.stat(path).st_mode):
            return False
    except (FileNotFoundError, NotADirectoryError):
        return False
    except PermissionError:
        raise KqvError(f"cannot look into {path.parent}: permission denied (check its mode, e.g. "
                       "chmod u+rx FOLDER)") from None
    except OSError as exc:
        raise KqvError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not os.access(path, os.R_OK | os.X_OK):
        raise KqvError(f"cannot read the folder {path}: permission denied (check its mode, e.g. "
                       "chmod u+rx FOLDER)")
    return True


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
