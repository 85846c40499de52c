"""Writing a file so that a crash, a full disk or Ctrl-C never leaves half of it.

Checkpoints, progress files and cached results all go through :func:`atomic_write`: the bytes go
to a temporary file beside the target, are flushed to disk, and only then renamed over the
target in one step (a rename within a folder is atomic). On any failure the temporary file is
removed and the previous version of the target is untouched.

Three details make it behave like an ordinary write, seen from outside:

* a target that is a symbolic link is written through: the file it points to is replaced and
  the link stays a link;
* the new file gets the mode an ordinary ``open()`` would give it (0666 less the umask), or the
  old file's mode when it replaces one, not the 0600 of a private temporary file;
* a process killed mid-write (SIGKILL, power cut) cannot remove its temporary file, so each
  temporary name carries the writer's process id, and the next write into the same folder
  removes the temporaries of processes that no longer exist.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

_SUFFIX = ".tmp"
_TAG = "kqv"  # before the pid in a temporary's name, so no one else's file is taken for ours


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None):
    """Yield an open temporary file; when the block ends without error it replaces ``path``.

    Creating the temporary file can raise :class:`OSError` (no such folder, no permission);
    callers decide whether that is the user's error or not worth reporting.
    """
    path = Path(os.path.realpath(path))  # through a symlink, to the file it names
    remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_TAG}{os.getpid()}.", suffix=_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    """The existing file's permission bits, or those a plain ``open(path, "w")`` would give."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


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
