"""engine.files.atomic: whole files or none, written like an ordinary write seen from outside."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from engine.files.atomic import NotARegularFile, atomic_write


def write(path, text):
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def test_a_symlink_is_replaced_and_its_target_left_as_it_was(tmp_path):
    target = tmp_path / "documents" / "thesis.txt"
    target.parent.mkdir()
    target.write_text("the user's document")
    link = tmp_path / "workspace" / "config.json"
    link.parent.mkdir()
    link.symlink_to(target)
    write(link, "new")
    assert not link.is_symlink() and link.read_text() == "new"
    assert target.read_text() == "the user's document"


def test_a_dangling_symlink_is_replaced_not_followed(tmp_path):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "elsewhere" / "made-by-the-link.json")
    write(link, "new")
    assert link.read_text() == "new" and not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_what_is_not_a_regular_file_is_never_written_over(tmp_path, kind):
    path = tmp_path / "gpt.npz"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(NotARegularFile, match="not a regular file"), atomic_write(path) as f:
        f.write(b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpt.npz"]  # no temporary left either


def test_a_link_to_a_device_replaces_the_link_and_leaves_the_device(tmp_path):
    link = tmp_path / "gpt.npz"
    link.symlink_to("/dev/null")
    write(link, "checkpoint")
    assert link.read_text() == "checkpoint" and Path("/dev/null").is_char_device()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_umasks_mode(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write(tmp_path / "f.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "f.json").stat().st_mode & 0o777 == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("a")
    path.chmod(0o640)
    write(path, "b")
    assert path.stat().st_mode & 0o777 == 0o640 and path.read_text() == "b"


WRITER = """
import sys, time
from engine.files.atomic import NotARegularFile, atomic_write
with atomic_write(sys.argv[1]) as f:
    f.write(b"x" * 1_000_000)
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_writer_killed_mid_write_leaves_a_temporary_the_next_write_removes(tmp_path):
    target = tmp_path / "gpt.npz"
    target.write_bytes(b"the old checkpoint")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, text=True)
    assert writer.stdout.readline().strip() == "writing"
    alive_writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "other.npz")],
                                    stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)},
                                    text=True)
    assert alive_writer.stdout.readline().strip() == "writing"
    try:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
        (stale,) = [p for p in tmp_path.iterdir() if p.name.startswith(".gpt.npz.")]
        assert target.read_bytes() == b"the old checkpoint"  # the kill spoiled nothing
        someone_elses = tmp_path / ".notes.123.abc.tmp"
        someone_elses.write_text("not ours")
        write(tmp_path / "lessons.json", "{}")  # any write into the folder
        assert not stale.exists()
        assert someone_elses.exists()  # not named like ours: left alone
        # the live writer's temporary is still being written: left alone
        assert [p for p in tmp_path.iterdir() if p.name.startswith(".other.npz.")]
    finally:
        alive_writer.kill()
        alive_writer.wait(10)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f.json"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path, "w") as f:
        f.write("half")
        raise RuntimeError("disk gone")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_the_apps_kept_model_is_never_a_fifo_replaced(tmp_path):
    """The Train screen keeps the longer-trained model by renaming its run over it: a FIFO at
    that name is left as it is, and the run stays in its own file."""
    from kqv_cli.services.models import keep_longer

    run, keep = tmp_path / "gpt-run.npz", tmp_path / "gpt.npz"
    run.write_bytes(b"the run")
    os.mkfifo(keep)
    held, note = keep_longer(run, keep, done=10)
    assert held == run and "not a regular file" in note
    assert keep.is_fifo() and run.read_bytes() == b"the run"
