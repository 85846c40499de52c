"""Finding and fetching Tiny Shakespeare: cache, $KQV_DATA_DIR, download, offline error."""

import hashlib

import pytest
from local_http import serve
from test_mnist import closed_port_url

from conftest import SHAKESPEARE, needs_shakespeare
from engine.data import shakespeare
from engine.data.shakespeare import fetch_shakespeare, find_shakespeare
from engine.errors import KqvError

PLAY = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 50


@pytest.fixture
def fake_play(monkeypatch):
    """Make a small text stand in for Tiny Shakespeare (its checksum and size)."""
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SHA256", hashlib.sha256(PLAY).hexdigest())
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_SIZE", len(PLAY))
    with serve({"input.txt": PLAY}) as server:
        urls = [server.url + "cut/input.txt", server.url + "input.txt"]  # the first mirror fails
        monkeypatch.setattr(shakespeare, "SHAKESPEARE_URLS", urls)
        yield server


def test_download_into_the_cache_then_found_there(fake_play):
    assert find_shakespeare() is None
    seen = []
    path = fetch_shakespeare(on_progress=lambda done, total, label: seen.append(done))
    assert path == shakespeare.shakespeare_cache_path() and path.read_bytes() == PLAY
    assert seen[-1] == len(PLAY)
    assert find_shakespeare() == path
    requests = len(fake_play.requests)
    assert fetch_shakespeare() == path and len(fake_play.requests) == requests  # no second download


def test_a_damaged_copy_is_not_used(fake_play, tmp_path, monkeypatch):
    cached = shakespeare.shakespeare_cache_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(PLAY[:-1] + b"?")  # right size, wrong content
    assert find_shakespeare() is None
    assert fetch_shakespeare() == cached and cached.read_bytes() == PLAY
    env_copy = tmp_path / "data" / "tinyshakespeare" / "input.txt"
    env_copy.parent.mkdir(parents=True)
    env_copy.write_bytes(PLAY)
    monkeypatch.setenv("KQV_DATA_DIR", str(tmp_path / "data"))
    assert find_shakespeare() == env_copy


def test_into_a_chosen_directory(fake_play, tmp_path):
    path = fetch_shakespeare(directory=tmp_path / "texts")
    assert path == tmp_path / "texts" / "input.txt" and path.read_bytes() == PLAY
    assert not shakespeare.shakespeare_cache_path().exists()


def test_offline_with_nothing_cached(monkeypatch):
    monkeypatch.setattr(shakespeare, "SHAKESPEARE_URLS", [closed_port_url()])
    with pytest.raises(KqvError) as err:
        fetch_shakespeare()
    message = str(err.value)
    assert "--text FILE" in message and "kqv data shakespeare" in message and "refused" in message
    assert not shakespeare.shakespeare_cache_path().exists()
    assert not shakespeare.shakespeare_cache_path().parent.exists()  # no empty folder either


@needs_shakespeare
def test_the_real_file_matches_the_published_checksum(monkeypatch):
    assert shakespeare.is_valid_copy(SHAKESPEARE)
    monkeypatch.setenv("KQV_DATA_DIR", str(SHAKESPEARE.parent.parent))
    assert find_shakespeare() == SHAKESPEARE
