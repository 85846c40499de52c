"""Inputs from benchmarks/hostile.py's exploration that once got a misleading line: each now gets
one line that says what the file is not, and exit code 2."""

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app

runner = CliRunner()


@pytest.mark.parametrize("content", [b"hello\n", b"", b"\x93NUMPY\x01\x00"], ids=["text", "empty", "npy"])
def test_a_file_that_is_no_npz_is_refused_without_advice_to_unpickle(tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.npz").write_bytes(content)
    result = runner.invoke(app, ["sample", "model.npz"], prog_name="kqv")
    assert result.exit_code == 2
    assert result.stderr == ("error: model.npz is not a kqv checkpoint (not an .npz archive; "
                             "kqv train writes them)\n")


def test_an_mnist_folder_that_is_a_file_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mnist").write_text("not a folder")
    result = runner.invoke(app, ["train", "digits", "--data", "mnist", "--epochs", "1"], prog_name="kqv")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: the MNIST folder mnist is a file, not a folder")
    assert len(result.stderr.splitlines()) == 1


def test_a_state_folder_that_is_a_file_is_one_warning_and_left_alone(tmp_path, monkeypatch):
    state = tmp_path / "state-file"
    state.write_text("mine")
    monkeypatch.setenv("KQV_STATE_DIR", str(state))
    result = runner.invoke(app, ["quiz", "-n", "1", "--seed", "1"], input="1\n", prog_name="kqv")
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]  # the quiz then says its answers are not saved
    assert first == f"warning: {state} is not a folder, so progress cannot be kept there and is not saved"
    assert state.read_text() == "mine"


def test_a_practice_dir_that_is_a_file_is_not_offered_to_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["practice", "check", "--dir", "notes.txt"], prog_name="kqv")
    assert result.exit_code == 2
    assert result.stderr == ("error: notes.txt (--dir) is a file, not a practice workspace; name the "
                             "workspace folder (`kqv practice init DIR` makes one)\n")
