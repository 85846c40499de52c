"""Shared fixtures: every test gets its own cache and state folders, never the user's."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
SHAKESPEARE = SHARED_DATA / "tinyshakespeare" / "input.txt"


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
