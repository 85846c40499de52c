"""engine.files.atomic: whole files or none, written like an ordinary write seen from outside."""

import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO
from engine.files.atomic import atomic_write


def write(path, text):
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    target = tmp_path / "real" / "model.npz"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    write(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


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
from engine.files.atomic import atomic_write
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
