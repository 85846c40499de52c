"""The verified downloader against a local HTTP server: good file, wrong checksum, cut connection.

After every failure the destination must be absent (or still the old file) and no temporary
``.part`` file may be left in the folder.
"""

import gzip
import hashlib
import os

import pytest
from local_http import serve

from conftest import MNIST_DIR, needs_mnist
from engine.data import mnist
from engine.data.download import download
from engine.errors import KqvError

GOOD = bytes(range(256)) * 400  # 102,400 bytes: several 64 KiB chunks
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()
GOOD_MD5 = hashlib.md5(GOOD).hexdigest()
PACKED = gzip.compress(GOOD)


@pytest.fixture(scope="module")
def server():
    with serve({"good.bin": GOOD, "other.bin": GOOD[:-1] + b"!", "good.bin.gz": PACKED}) as s:
        yield s


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_good_file_arrives_verified_with_progress(server, tmp_path):
    seen = []
    dest = tmp_path / "sub" / "good.bin"
    path = download(
        [server.url + "good.bin"], dest, sha256=GOOD_SHA, md5=GOOD_MD5, size=len(GOOD),
        on_progress=lambda done, total, label: seen.append((done, total, label)),
    )  # fmt: skip
    assert path == dest and dest.read_bytes() == GOOD
    assert seen[0] == (0, len(GOOD), "good.bin") and seen[-1] == (len(GOOD), len(GOOD), "good.bin")
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert leftovers(dest.parent) == []


def test_wrong_checksum_is_refused_and_nothing_is_left(server, tmp_path):
    dest = tmp_path / "good.bin"
    with pytest.raises(KqvError, match=r"could not download good.bin \(127.0.0.1:\d+: SHA-256 checksum"):
        download([server.url + "other.bin"], dest, sha256=GOOD_SHA)
    with pytest.raises(KqvError, match="MD5 checksum"):
        download([server.url + "other.bin"], dest, md5=GOOD_MD5)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_connection_cut_midway_leaves_no_partial_file(server, tmp_path):
    dest = tmp_path / "good.bin"
    dest.write_bytes(b"the old copy")
    with pytest.raises(KqvError, match="connection cut after 51,200 of 102,400 bytes"):
        download([server.url + "cut/good.bin"], dest, sha256=GOOD_SHA)
    assert dest.read_bytes() == b"the old copy"  # the old file is only ever replaced by a good one
    assert leftovers(tmp_path) == []


def test_next_mirror_is_tried_and_every_failure_is_named(server, tmp_path):
    dest = tmp_path / "good.bin"
    urls = [server.url + "cut/good.bin", server.url + "missing/good.bin", server.url + "good.bin"]
    download(urls, dest, sha256=GOOD_SHA)
    assert dest.read_bytes() == GOOD
    with pytest.raises(KqvError) as err:
        download([server.url + "cut/good.bin", server.url + "nope.bin"], tmp_path / "x", sha256=GOOD_SHA)
    assert "connection cut" in str(err.value) and "HTTP 404" in str(err.value)
    tried = ["/cut/good.bin", "/missing/good.bin", "/good.bin", "/cut/good.bin", "/nope.bin"]
    assert server.requests[-5:] == tried
    assert leftovers(tmp_path) == []


def test_size_and_timeout(server, tmp_path):
    with pytest.raises(KqvError, match="offers 102,400 bytes, expected 100"):
        download([server.url + "good.bin"], tmp_path / "a", size=100)
    with pytest.raises(KqvError, match="timed out"):
        download([server.url + "stall/good.bin"], tmp_path / "b", timeout=0.3)
    assert list(tmp_path.iterdir()) == []


def test_checksum_of_the_unpacked_content(server, tmp_path):
    dest = tmp_path / "good.bin.gz"
    download([server.url + "good.bin.gz"], dest, decompressed_sha256=GOOD_SHA)
    assert gzip.decompress(dest.read_bytes()) == GOOD
    with pytest.raises(KqvError, match="unpacked content"):
        download([server.url + "good.bin.gz"], tmp_path / "x.gz", decompressed_sha256="0" * 64)
    with pytest.raises(KqvError, match="not a valid gzip file"):
        download([server.url + "good.bin"], tmp_path / "y.gz", decompressed_sha256=GOOD_SHA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.bin.gz"]


def test_ctrl_c_midway_removes_the_partial_file(server, tmp_path):
    def interrupt(done, total, label):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download([server.url + "good.bin"], tmp_path / "good.bin", on_progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_mirror(tmp_path):
    from test_mnist import closed_port_url

    with pytest.raises(KqvError, match="could not download f.bin \\(127.0.0.1:\\d+: connection refused\\)"):
        download([closed_port_url()], tmp_path / "f.bin")


@pytest.mark.slow
@needs_mnist
def test_fetch_mnist_then_load_from_the_cache(monkeypatch):
    """The real files served locally: fetched into the cache, verified, then loaded as MNIST.

    The shared copy was gzipped again, so its .gz MD5s differ from the mirrors'; the
    SHA-256s of the unpacked files (which fetch_mnist checks too) are the genuine ones.
    """
    files = {f.gz_name: (MNIST_DIR / f.gz_name).read_bytes() for f in mnist.MNIST_FILES}
    patched = tuple(
        mnist.MnistFile(f.name, f.kind, f.count, hashlib.md5(files[f.gz_name]).hexdigest(), f.sha256)
        for f in mnist.MNIST_FILES
    )
    monkeypatch.setattr(mnist, "MNIST_FILES", patched)
    with serve(files) as s:
        monkeypatch.setattr(mnist, "MNIST_MIRRORS", [s.url + "missing/", s.url])
        status = mnist.fetch_mnist()
        assert status == {f.gz_name: "downloaded" for f in patched}
        assert mnist.fetch_mnist() == {f.gz_name: "present" for f in patched}
        train, validation, test = mnist.load_mnist(download=False)
    assert train.source == f"MNIST ({mnist.mnist_cache_dir()})"
    assert train.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert leftovers(mnist.mnist_cache_dir()) == []


def test_full_disk_stops_at_once_and_leaves_nothing(server, tmp_path, monkeypatch):
    import engine.data.download as dl

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, chunk):
            raise OSError(28, "No space left on device")

    real_stream = dl._stream
    monkeypatch.setattr(dl, "_stream", lambda url, out, *rest: real_stream(url, FullDisk(out), *rest))
    before = len(server.requests)
    with pytest.raises(KqvError, match="cannot write good.bin: No space left on device"):
        download([server.url + "good.bin", server.url + "good.bin"], tmp_path / "good.bin")
    assert len(server.requests) == before + 1  # not the mirror's fault: no second try
    assert list(tmp_path.iterdir()) == []


def test_a_failed_first_download_leaves_no_empty_folder(tmp_path):
    from test_mnist import closed_port_url

    folder = tmp_path / "cache" / "mnist"
    with pytest.raises(KqvError):
        download([closed_port_url()], folder / "f.bin")
    assert not folder.exists()
    (tmp_path / "kept").mkdir()  # a folder that was there before stays, even if empty
    with pytest.raises(KqvError):
        download([closed_port_url()], tmp_path / "kept" / "f.bin")
    assert (tmp_path / "kept").is_dir()


def test_a_fifo_at_the_destination_is_refused_and_left_a_fifo(server, tmp_path):
    dest = tmp_path / "good.bin"
    os.mkfifo(dest)
    with pytest.raises(KqvError, match="it is a FIFO .named pipe., not a regular file"):
        download([server.url + "good.bin"], dest, sha256=GOOD_SHA)
    assert dest.is_fifo() and leftovers(tmp_path) == []


def test_a_link_at_the_destination_is_replaced_and_its_target_kept(server, tmp_path):
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's")
    dest = tmp_path / "good.bin"
    dest.symlink_to(mine)
    download([server.url + "good.bin"], dest, sha256=GOOD_SHA)
    assert not dest.is_symlink() and dest.read_bytes() == GOOD and mine.read_text() == "the user's"
