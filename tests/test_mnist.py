"""MNIST look-up order, loading, the checks on a folder, the offline error, and the real files."""

import hashlib
import socket

import numpy as np
import pytest

from conftest import MNIST_DIR, idx_header, needs_mnist
from engine.data import mnist
from engine.data.idx import read_bytes
from engine.data.mnist import MNIST_FILES, find_mnist, load_mnist, verify_mnist_dir
from engine.errors import KqvError


def link_copy(src, dst, skip=()):
    dst.mkdir(parents=True, exist_ok=True)
    for path in src.iterdir():
        if path.name not in skip:
            (dst / path.name).symlink_to(path)
    return dst


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_load_splits_scales_and_names_the_source(fake_mnist):
    train, validation, test = load_mnist(fake_mnist, download=False)
    assert train.x.shape == (50_000, 784) and validation.x.shape == (10_000, 784)
    assert test.x.shape == (10_000, 784)
    for d in (train, validation, test):
        assert d.x.dtype == np.float32 and d.labels.dtype == np.int64
        assert len(d) == len(d.labels) == d.x.shape[0]
        assert d.x[:, -1].min() == 1.0 and d.x.min() == 0.0  # 255 -> 1.0
        np.testing.assert_allclose(d.x[:, 0], d.labels * 25 / 255, rtol=1e-6)
    # the validation set is training images 50,000..59,999, in order
    assert validation.labels[:3].tolist() == [0, 1, 2] and train.labels[-1] == 9
    # well-formed but not the genuine files: never called "MNIST" bare
    assert "not the standard MNIST" in train.source and str(fake_mnist) in train.source


def test_data_dir_wins_and_an_incomplete_one_is_an_error(fake_mnist, tmp_path, monkeypatch):
    monkeypatch.setenv("KQV_DATA_DIR", str(fake_mnist))
    partial = link_copy(fake_mnist, tmp_path / "partial", skip={"t10k-labels-idx1-ubyte.gz"})
    with pytest.raises(KqvError, match="partial lacks t10k-labels-idx1-ubyte\\[.gz\\]"):
        find_mnist(partial)  # does not fall through to $KQV_DATA_DIR
    with pytest.raises(KqvError, match="does not exist.*kqv data mnist.*--data DIR.*--synthetic"):
        load_mnist(tmp_path / "no-such-folder")
    assert find_mnist(fake_mnist) == fake_mnist


def test_dotted_names_as_some_copies_have_them(fake_mnist, tmp_path):
    folder = tmp_path / "dotted"
    folder.mkdir()
    for path in fake_mnist.iterdir():
        (folder / path.name.replace("-idx", ".idx")).symlink_to(path)
    assert (folder / "train-images.idx3-ubyte").exists()
    verify_mnist_dir(folder)
    assert find_mnist(folder) == folder


def test_lookup_order_env_then_cache(fake_mnist, tmp_path, monkeypatch):
    assert find_mnist() is None
    cache = link_copy(fake_mnist, mnist.mnist_cache_dir())
    assert find_mnist() == cache
    parent = tmp_path / "data"
    in_env = link_copy(fake_mnist, parent / "mnist")
    monkeypatch.setenv("KQV_DATA_DIR", str(parent))  # a data folder with an mnist/ inside
    assert find_mnist() == in_env
    monkeypatch.setenv("KQV_DATA_DIR", str(in_env))  # or the MNIST folder itself
    assert find_mnist() == in_env
    monkeypatch.setenv("KQV_DATA_DIR", str(tmp_path / "empty"))  # nothing there: on to the cache
    assert find_mnist() == cache


def test_offline_with_nothing_cached_names_the_three_ways_out(monkeypatch):
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", [closed_port_url(), closed_port_url()])
    with pytest.raises(KqvError) as err:
        load_mnist()
    message = str(err.value)
    assert "could not download train-images-idx3-ubyte.gz" in message and "refused" in message
    for way_out in ("kqv data mnist", "--data DIR", "--synthetic"):
        assert way_out in message
    assert "\n" not in message
    assert not mnist.mnist_cache_dir().exists()  # no partial file, no empty folder left
    with pytest.raises(KqvError, match="not on this machine; run `kqv data mnist`.*--synthetic"):
        load_mnist(download=False)


def test_damaged_copy_in_the_cache_is_refused(fake_mnist):
    link_copy(fake_mnist, mnist.mnist_cache_dir())
    with pytest.raises(KqvError, match="is damaged.*run `kqv data mnist`"):
        load_mnist(download=False)


def test_headers_checked_per_pair_and_against_mnist_sizes(tmp_path):
    def folder_with(**override):
        d = tmp_path / f"f{len(list(tmp_path.iterdir()))}"
        d.mkdir()
        for f in MNIST_FILES:
            (d / f.name).write_bytes(override.get(f.name, idx_header(f.kind, f.count)))
        return d

    verify_mnist_dir(folder_with())  # headers alone are enough for the cheap check
    mismatch = folder_with(**{"train-labels-idx1-ubyte": idx_header("labels", 59_999)})
    with pytest.raises(KqvError, match="60,000 images but .*train-labels-idx1-ubyte holds 59,999 labels"):
        verify_mnist_dir(mismatch)
    small = folder_with(**{"t10k-images-idx3-ubyte": idx_header("images", 10_000, side=27)})
    with pytest.raises(KqvError, match="27 x 27 images; MNIST images are 28 x 28"):
        verify_mnist_dir(small)
    fewer = folder_with(
        **{
            "t10k-images-idx3-ubyte": idx_header("images", 500),
            "t10k-labels-idx1-ubyte": idx_header("labels", 500),
        }
    )
    with pytest.raises(KqvError, match="holds 500 images; MNIST's t10k-images-idx3-ubyte has 10,000"):
        verify_mnist_dir(fewer)
    swapped = folder_with(**{"t10k-labels-idx1-ubyte": idx_header("images", 10_000)})
    with pytest.raises(KqvError, match="wrong magic number 0x00000803"):
        verify_mnist_dir(swapped)


def test_label_that_is_not_a_digit(fake_mnist, tmp_path):
    folder = link_copy(fake_mnist, tmp_path / "bad-label", skip={"t10k-labels-idx1-ubyte.gz"})
    labels = (np.arange(10_000) % 10).astype(np.uint8)
    labels[123] = 12
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_header("labels", 10_000) + labels.tobytes())
    with pytest.raises(KqvError, match="label 12 at position 123 is not a digit"):
        load_mnist(folder)


@needs_mnist
@pytest.mark.slow
def test_real_mnist():
    train, validation, test = load_mnist(MNIST_DIR, download=False)
    assert train.x.shape == (50_000, 784)
    assert validation.x.shape == (10_000, 784) and test.x.shape == (10_000, 784)
    for d in (train, validation, test):
        assert d.x.dtype == np.float32 and d.labels.dtype == np.int64
        assert d.x.min() == 0.0 and d.x.max() == 1.0
        assert d.source == f"MNIST ({MNIST_DIR})"
    assert train.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(test.labels).tolist()[:3] == [980, 1135, 1032]
    for f in MNIST_FILES:
        assert hashlib.sha256(read_bytes(mnist.file_in(MNIST_DIR, f), f.kind)).hexdigest() == f.sha256
