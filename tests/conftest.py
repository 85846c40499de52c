"""Shared fixtures: every test gets its own cache and state folders, never the user's."""

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
SHAKESPEARE = SHARED_DATA / "tinyshakespeare" / "input.txt"

# kqv's consoles are made when kqv_cli.messages is first imported, and rich fixes a console's
# width from $COLUMNS at that moment: a COLUMNS in the environment pytest starts in (a pytest-xdist
# worker has COLUMNS=80) would pin every console, and a test's CliRunner(env={"COLUMNS": ...})
# could no longer widen it. Dropped before any test module imports kqv_cli.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("KQV_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KQV_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("KQV_DATA_DIR", raising=False)
    # GPT-2 downloads: an empty Hugging Face cache per test, the real hub never asked
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return tmp_path


needs_mnist = pytest.mark.skipif(
    not MNIST_DIR.is_dir(), reason=f"real MNIST not found at {MNIST_DIR} (CI has it)"
)
needs_shakespeare = pytest.mark.skipif(
    not SHAKESPEARE.is_file(), reason=f"Tiny Shakespeare not found at {SHAKESPEARE} (CI has it)"
)


def idx_header(kind: str, count: int, side: int = 28) -> bytes:
    if kind == "images":
        return b"".join(v.to_bytes(4, "big") for v in (0x803, count, side, side))
    return b"".join(v.to_bytes(4, "big") for v in (0x801, count))


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """A well-formed MNIST-shaped folder (not the real digits): pixel [0, 0] of image i is i % 10 * 25."""
    folder = tmp_path_factory.mktemp("fake-mnist")
    for prefix, n in (("train", 60_000), ("t10k", 10_000)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = labels * 25
        images[:, 27, 27] = 255
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(idx_header("images", n) + images.tobytes())
        packed = gzip.compress(idx_header("labels", n) + labels.tobytes(), compresslevel=1)
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(packed)
    return folder
