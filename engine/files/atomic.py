"""Writing a file so that a crash, a full disk or Ctrl-C never leaves half of it.

Checkpoints, progress files and cached results all go through :func:`atomic_write`: the bytes go
to a temporary file beside the target, are flushed to disk, and only then renamed over the
target in one step (a rename within a folder is atomic). On any failure the temporary file is
removed and the previous version of the target is untouched.

Three details decide what a write may touch, and how it looks from outside:

* only the name given is ever replaced. A target that is a symbolic link is replaced by the new
  file, and the file it pointed to is left as it was: a link planted in a workspace or an
  export folder cannot send kqv's write to a document elsewhere. A target that exists but is
  not a regular file (a folder, a FIFO, a device node such as ``/dev/null``, a socket) is never
  written over: :class:`NotARegularFile` says so and nothing is written;
* the new file gets the mode an ordinary ``open()`` would give it (0666 less the umask), or the
  old file's mode when it replaces one, not the 0600 of a private temporary file;
* a process killed mid-write (SIGKILL, power cut) cannot remove its temporary file, so each
  temporary name carries the writer's process id, and the next write into the same folder
  removes the temporaries of processes that no longer exist.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

_SUFFIX = ".tmp"
_TAG = "kqv"  # before the pid in a temporary's name, so no one else's file is taken for ours


class NotARegularFile(OSError):
    """The target exists and is not a regular file (nor a link): kqv never writes over it."""

    def __init__(self, path: Path, what: str):
        super().__init__(errno.EEXIST, f"it is {what}, not a regular file, and kqv never writes over "
                         "one", str(path))


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None):
    """Yield an open temporary file; when the block ends without error it replaces ``path``.

    Creating the temporary file can raise :class:`OSError` (no such folder, no permission) and
    a target that is not a regular file raises :class:`NotARegularFile` (an OSError too);
    callers decide whether that is the user's error or not worth reporting.
    """
    path = Path(os.path.abspath(path))  # the name itself: a link is replaced, never followed
    old_mode = mode_of_replaceable(path)
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_TAG}{os.getpid()}.", suffix=_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask() if old_mode is None else old_mode)
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        mode_of_replaceable(path)  # asked again: something may have been put there meanwhile
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))


def mode_of_replaceable(path: str | os.PathLike) -> int | None:
    """The permission bits of the regular file at ``path``; None when there is none, or a link.

    Raises :class:`NotARegularFile` for anything else at that name. ``lstat``, not ``stat``:
    the name's own entry is what gets replaced, so a link's target is never asked about.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(st.st_mode):
        return stat.S_IMODE(st.st_mode)
    if stat.S_ISLNK(st.st_mode):
        return None  # replaced by the new file, with the mode a new file gets
    raise NotARegularFile(path, next((what for test, what in _KINDS if test(st.st_mode)), "not a file"))


def _umask() -> int:
    """The process's umask (it can only be read by setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temporaries(folder: Path) -> None:
    """Remove temporaries left in ``folder`` by writers that died before renaming them."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(".") and n.endswith(_SUFFIX)]
    except OSError:
        return  # the write itself will report a folder it cannot use
    for name in names:
        parts = name.rsplit(".", 3)  # ".target", "kqv" + pid, random part, "tmp"
        pid = parts[1].removeprefix(_TAG) if len(parts) == 4 and parts[1].startswith(_TAG) else ""
        if pid.isdecimal() and pid.isascii() and not _alive(int(pid)):
            try:
                os.unlink(folder / name)
            except OSError:
                pass  # another writer removed it first, or it is not ours to remove


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or a number we cannot ask about): leave its file
    return True
