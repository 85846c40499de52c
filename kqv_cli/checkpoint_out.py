"""``--out`` checked before a long run starts: a checkpoint that could not, or should not, be written."""

from __future__ import annotations

import os
from pathlib import Path

from engine.errors import KqvError
from engine.files.atomic import NotARegularFile, mode_of_replaceable


def check_writable(out: Path | None, replace: bool = False, resume: Path | None = None,
                   resumable: bool = False) -> str | None:
    """Fail before training, not after, when the checkpoint could not or should not be written.

    A file already at ``out`` is someone's earlier work: it is replaced only with ``replace``
    (``--force``) or when it is the very checkpoint this run resumes (``resume``; a command
    that can resume says so with ``resumable``). Returns the line to print before training
    when an earlier file will be replaced, else None.
    """
    if out is None:
        return None
    if out.suffix != ".npz":
        raise KqvError(f"--out names an .npz file, like digits.npz; got {out}")
    if out.is_dir():
        raise KqvError(f"--out {out} is a folder; name a file in it, like {out / 'model.npz'}")
    try:
        mode_of_replaceable(out)
    except NotARegularFile as exc:
        raise KqvError(f"--out {out}: {exc.strerror}") from None
    # a --resume that is missing is refused where it is loaded, with its own line
    resumes_out = resume is not None and resume.exists() and out.exists() and os.path.samefile(resume, out)
    if out.exists() and not replace and not resumes_out:
        resume_hint = f", --resume {out} to continue it," if resumable else ""
        raise KqvError(f"{out} already exists and this run did not write it; pass --force to replace "
                       f"it{resume_hint} or choose another --out")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise KqvError(f"cannot write {out}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise KqvError(f"cannot write {out}: permission denied")
    if out.exists() and not resumes_out:
        return f"--force: {out}, written before this run, will be replaced by this run's checkpoint"
    return None
