"""`kqv data mnist` and `kqv data shakespeare` through typer's runner, against a local server.

The server holds a tiny MNIST look-alike (20 training and 10 test images) and the tests make
the engine's file list describe it (its counts and checksums), so every step is the real one:
download, MD5 of the .gz, SHA-256 of the unpacked file, header check, atomic rename.
"""

import gzip
import hashlib

import numpy as np
import pytest
from local_http import serve
from test_mnist import closed_port_url, idx_header
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.data import mnist, shakespeare
from engine.files.paths import default_cache_dir
from kqv_cli.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def tiny_mnist() -> tuple[dict[str, bytes], tuple]:
    files, entries = {}, []
    for prefix, n in (("train", 20), ("t10k", 10)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 10:18, 13] = 200
        for kind, raw in (
            ("images", idx_header("images", n) + images.tobytes()),
            ("labels", idx_header("labels", n) + labels.tobytes()),
        ):
            name = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
            packed = gzip.compress(raw, mtime=0)
            files[name + ".gz"] = packed
            md5, sha256 = hashlib.md5(packed).hexdigest(), hashlib.sha256(raw).hexdigest()
            entries.append(mnist.MnistFile(name, kind, n, md5, sha256))
    return files, tuple(entries)


@pytest.fixture
def mirror(monkeypatch):
    files, entries = tiny_mnist()
    monkeypatch.setattr(mnist, "MNIST_FILES", entries)
    with serve(files) as server:
        monkeypatch.setattr(mnist, "MNIST_MIRRORS", [server.url])
        yield server


def parts(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_data_help_lists_both():
    result = invoke("data", "--help")
    assert result.exit_code == 0 and "mnist" in result.output and "shakespeare" in result.output
    assert "KQV_DATA_DIR" in result.output  # where kqv looks, said where a learner asks
    said = " ".join(result.output.split())  # the help is wrapped to the terminal
    for where in ("MNIST in --data DIR, then in $KQV_DATA_DIR (or its mnist sub-folder)",
                  "$KQV_DATA_DIR/tinyshakespeare/input.txt",
                  f"then both in the cache folder, {default_cache_dir()} ($KQV_CACHE_DIR moves it)",
                  "Hugging Face cache ($HF_HUB_CACHE)"):
        assert where in said, where


def test_data_mnist_downloads_verifies_then_skips(mirror, tmp_path):
    folder = tmp_path / "mnist"
    result = invoke("data", "mnist", "--dir", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.count("downloaded, checksum ok") == 4
    assert f"--data {folder}" in result.output
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.gz_name for f in mnist.MNIST_FILES)
    assert len(mirror.requests) == 4

    result = invoke("data", "mnist", "--dir", str(folder))
    assert result.exit_code == 0 and result.output.count("already there, checksum ok") == 4
    assert len(mirror.requests) == 4  # nothing fetched again

    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    result = invoke("data", "mnist", "--dir", str(folder))
    assert result.exit_code == 0 and result.output.count("already there") == 3
    assert mirror.requests[-1] == "/t10k-labels-idx1-ubyte.gz"
    mnist.verify_mnist_dir(folder)


def test_data_mnist_into_the_cache_by_default(mirror):
    result = invoke("data", "mnist")
    assert result.exit_code == 0, result.output
    assert mnist.find_mnist() == mnist.mnist_cache_dir()
    assert str(mnist.mnist_cache_dir()) in result.output.replace("\n", "")


def test_wrong_checksum_from_the_mirror_is_one_line_exit_2(mirror, tmp_path):
    mirror.files["train-images-idx3-ubyte.gz"] = gzip.compress(b"not the images")
    folder = tmp_path / "mnist"
    result = invoke("data", "mnist", "--dir", str(folder))
    assert result.exit_code == 2
    assert "MD5 checksum" in result.output and "train-images-idx3-ubyte.gz" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not folder.exists()  # nothing unverified, nothing half-written, no empty folder


def test_cut_connection_and_offline_are_one_line_exit_2(mirror, monkeypatch, tmp_path):
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [mirror.url + "cut/"])
    result = invoke("data", "mnist", "--dir", str(tmp_path))
    assert result.exit_code == 2 and "connection cut" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert parts(tmp_path) == []
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [closed_port_url()])
    result = invoke("data", "mnist")
    assert result.exit_code == 2 and "refused" in result.output and "--synthetic" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_dir_that_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    for command in ("mnist", "shakespeare"):
        result = invoke("data", command, "--dir", str(tmp_path / "f"))
        assert result.exit_code == 2 and "is a file, not a folder" in result.output


def test_data_shakespeare(monkeypatch, tmp_path):
    play = b"ROMEO:\nBut soft, what light through yonder window breaks?\n" * 20
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SHA256", hashlib.sha256(play).hexdigest())
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SIZE", len(play))
    with serve({"input.txt": play}) as server:
        monkeypatch.setattr(shakespeare, "SHAKESPEARE_URLS", [server.url + "input.txt"])
        result = invoke("data", "shakespeare", "--dir", str(tmp_path / "texts"))
        assert result.exit_code == 0, result.output
        assert "downloaded, checksum ok" in result.output and "--text" in result.output
        assert (tmp_path / "texts" / "input.txt").read_bytes() == play
        result = invoke("data", "shakespeare", "--dir", str(tmp_path / "texts"))
        assert "already there" in result.output and len(server.requests) == 1
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_URLS", [closed_port_url()])
    result = invoke("data", "shakespeare")
    assert result.exit_code == 2 and "--text FILE" in result.output
    assert len(result.output.strip().splitlines()) == 1


def header_only_folder(folder, **override):
    """The four MNIST files as bare headers (enough for every check that fails early)."""
    folder.mkdir()
    for f in mnist.MNIST_FILES:
        (folder / f.name).write_bytes(override.get(f.name, idx_header(f.kind, f.count)))
    return folder


@pytest.mark.parametrize(
    "override, missing, message",
    [
        ({}, "t10k-labels-idx1-ubyte", "lacks t10k-labels-idx1-ubyte[.gz]"),
        ({"train-images-idx3-ubyte": idx_header("labels", 60_000)}, None, "wrong magic number 0x00000801"),
        ({"train-labels-idx1-ubyte": idx_header("labels", 59_000)}, None, "holds 60,000 images but"),
        ({}, None, "truncated at byte 16: its header promises 60,000 x 28 x 28 images"),
        ({"t10k-images-idx3-ubyte": b"\x1f\x8b\x08\x00garbage"}, None, "gzip file"),
    ],
)
def test_train_digits_with_a_broken_data_folder_is_one_line_exit_2(tmp_path, override, missing, message):
    folder = header_only_folder(tmp_path / "broken", **override)
    if missing:
        (folder / missing).unlink()
    result = invoke("train", "digits", "--data", str(folder), "--epochs", "1")
    assert result.exit_code == 2, result.output
    assert message in result.output and str(folder) in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
