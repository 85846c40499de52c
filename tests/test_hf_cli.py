"""`kqv data gpt2`, `--model` for sample and trace gpt, and `kqv export`, through typer's runner.

The model is the tiny random GPT-2 in tests/data/gpt2-tiny (written by transformers); the hub
is a local fake (tests/local_http.py) that HF_ENDPOINT points at. Every test gets an empty
Hugging Face cache (conftest.py).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from local_http import serve
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.data.text import CharVocab
from engine.files.checkpoint import save_checkpoint
from engine.gpt.model import GPT, GPTConfig
from kqv_cli.cli import app

runner = CliRunner()
TINY = Path(__file__).parent / "data" / "gpt2-tiny"
PIZZA = "The pizza came out of the oven and it"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for w in words:
        assert w in result.output, result.output


@pytest.fixture
def fake_hub(monkeypatch):
    files = {name: (TINY / name).read_bytes() for name in ("config.json", "tokenizer.json",
                                                            "model.safetensors")}
    with serve(files) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url.rstrip("/"))
        yield server


def test_data_gpt2_downloads_the_pinned_files_once_and_sample_then_finds_them(fake_hub, monkeypatch):
    result = invoke("data", "gpt2")
    assert result.exit_code == 0, result.output
    assert "openai-community/gpt2 at revision 607a30d783" in result.output
    fetched = [p for p in fake_hub.requests if "/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/" in p]
    assert {p.rsplit("/", 1)[1] for p in fetched} == {"config.json", "tokenizer.json", "model.safetensors"}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # from now on only the cache
    again = invoke("data", "gpt2")
    assert again.exit_code == 0, again.output
    result = invoke("sample", "--model", "gpt2", "--prompt", PIZZA, "--tokens", "5", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(PIZZA) and "5 tokens in" in result.output and "tokens/s" in result.output


def test_weights_absent_offline_name_kqv_data_gpt2_and_a_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    one_line_error(invoke("data", "gpt2", "--model", "distilgpt2"), "kqv data gpt2", "--model PATH")
    one_line_error(invoke("sample", "--model", "gpt2"), "not on this machine", "kqv data gpt2",
                   "--model PATH")


def test_without_a_network_the_download_fails_at_once_instead_of_retrying(monkeypatch):
    """HF_HUB_OFFLINE unset and nothing answers: huggingface_hub alone would retry five times,
    sleeping about 23 s in all, before our line. Its sleeps are recorded here instead."""
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: connections are refused
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    waits = []
    monkeypatch.setattr(time, "sleep", waits.append)
    for args in (("data", "gpt2"), ("data", "gpt2", "--model", "distilgpt2")):
        one_line_error(invoke(*args), "cannot reach the Hugging Face hub", "--model PATH")
    one_line_error(invoke("sample", "--model", "gpt2"), "not on this machine", "kqv data gpt2")
    assert waits == []


def test_sampling_past_the_window_says_so_once_and_keeps_going():
    result = invoke("sample", "--model", TINY, "--prompt", PIZZA, "--tokens", "30", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("note: the last 6 of these tokens come past the model's window of 32") == 1
    assert result.stdout.startswith(PIZZA) and "30 tokens in" in result.stderr
    quiet = invoke("sample", "--model", TINY, "--prompt", PIZZA, "--tokens", "24", "--seed", "3")
    assert "note:" not in quiet.stderr  # 9 + 24 - 1 = 32 positions: the last token's context fits


def test_sample_with_a_folder_streams_reproducibly():
    a = invoke("sample", "--model", TINY, "--prompt", PIZZA, "--tokens", "8", "--seed", "3")
    b = invoke("sample", "--model", TINY, "--prompt", PIZZA, "--tokens", "8", "--seed", "3")
    assert a.exit_code == 0, a.output
    assert a.stdout == b.stdout and a.stdout.startswith(PIZZA) and len(a.stdout) > len(PIZZA) + 1
    assert "8 tokens in" in a.output


@pytest.mark.parametrize("args, words", [
    (["--model", "gpt5"], ["unknown model 'gpt5'", "gpt2, distilgpt2, gpt2-medium"]),
    (["--model", "./no/such/folder"], ["no such folder"]),
    (["--model", TINY, "--prompt", "pizza " * 40], ["the prompt is", "at most 32 (n_positions)"]),
    (["--model", TINY, "--prompt", ""], ["turns into no tokens"]),
    (["--model", TINY, "--temperature", "0"], ["temperature must be above 0"]),
    ([], ["give a checkpoint", "--model"]),
])
def test_sample_model_bad_input(args, words):
    one_line_error(invoke("sample", *args), *words)


def test_a_folder_that_is_not_gpt2_is_one_line(tmp_path):
    folder = tmp_path / "llama"
    shutil.copytree(TINY, folder)
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "model_type": "llama"}))
    one_line_error(invoke("sample", "--model", folder), "'llama' model")
    one_line_error(invoke("trace", "gpt", "--model", folder), "'llama' model")


def test_a_missing_tensor_or_a_wrong_shape_is_one_line_naming_it(tmp_path):
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "gpt2"
    shutil.copytree(TINY, folder)
    tensors = load_file(folder / "model.safetensors")
    name = "transformer.h.0.attn.c_proj.weight"
    cut = {**tensors, name: tensors[name][:, :8]}
    save_file({k: np.ascontiguousarray(v) for k, v in cut.items()}, folder / "model.safetensors")
    one_line_error(invoke("sample", "--model", folder), "transformer.h.0.attn.c_proj.weight is (16, 8)")
    del tensors["transformer.ln_f.bias"]
    save_file(tensors, folder / "model.safetensors")
    one_line_error(invoke("trace", "gpt", "--model", folder), "lacks the tensor ln_f.bias")


def test_trace_gpt_model_shows_real_shapes_and_the_kv_cache_step():
    prompt = "<|endoftext|>" + PIZZA
    result = runner.invoke(app, ["trace", "gpt", "--model", str(TINY), "--prompt", prompt])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "over 10 tokens ['<|endoftext|>', 'The', ' pizza'" in out
    assert "h1.att " in out and "(1, 4, 10, 10)" in out and "(B, nh, T, T)" in out
    assert "h1.k_cache" in out and "(1, 4, 11, 4)" in out and "(B, nh, t, hs)" in out
    assert "(1, 4, 1, 11)" in out and "(B, nh, T, t)" in out  # the new token's row of attention
    folded = runner.invoke(app, ["trace", "gpt", "--model", str(TINY), "--prompt", prompt, "--fold"])
    assert folded.exit_code == 0, folded.output
    assert "h0.att " in folded.output and "h1.att " not in folded.output
    assert "the same variables and shapes as block 0, named h1.…" in " ".join(folded.output.split())


def char_checkpoint(tmp_path, text="the pizza came out of the oven\n"):
    vocab = CharVocab.from_text(text)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=8), seed=2)
    path = tmp_path / "char.npz"
    save_checkpoint(path, dict(model.params), {"kind": "gpt", "model": model.config.to_dict(),
                                               "vocab": vocab.chars})
    return path


def test_export_writes_a_folder_that_sample_reads_back(tmp_path):
    ckpt = char_checkpoint(tmp_path)
    result = invoke("export", ckpt, "--hf", tmp_path / "hf")
    assert result.exit_code == 0, result.output
    assert "from_pretrained" in result.output
    a = invoke("sample", ckpt, "--prompt", "the ", "--tokens", "10", "--seed", "4")
    b = invoke("sample", "--model", tmp_path / "hf", "--prompt", "the ", "--tokens", "10", "--seed", "4")
    assert b.exit_code == 0, b.output
    assert a.stdout == b.stdout  # same weights, same vocabulary, same draws
    one_line_error(invoke("export", ckpt, "--hf", tmp_path / "hf"), "not empty", "--force")
    assert invoke("export", ckpt, "--hf", tmp_path / "hf", "--force").exit_code == 0


def test_export_refuses_a_digits_checkpoint(tmp_path):
    digits = tmp_path / "digits.npz"
    save_checkpoint(digits, {"w2": np.zeros((2, 4))}, {"kind": "digits", "sizes": [4, 2]})
    one_line_error(invoke("export", digits, "--hf", tmp_path / "out"), "digits checkpoint")
    assert not (tmp_path / "out").exists()


# -- permissions: kqv runs as the user, never with root's override ---------------------------


def as_a_user() -> list[str]:
    """A prefix that runs a command with file modes in force. Root reads any file whatever its
    mode (CAP_DAC_OVERRIDE); without that capability root is held to the modes as a user is."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes do not apply to root")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def kqv_as_a_user(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*as_a_user(), str(Path(sys.executable).with_name("kqv")), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("locked, words", [
    ("model.safetensors", ["model.safetensors: permission denied"]),  # was "No such file", exit 70
    ("tokenizer.json", ["tokenizer.json: permission denied"]),
    (".", ["cannot read the folder", "permission denied"]),  # was PermissionError from is_file()
])
@pytest.mark.slow
def test_model_files_and_folders_the_user_may_not_read_are_one_line(tmp_path, locked, words):
    folder = tmp_path / "gpt2"
    shutil.copytree(TINY, folder)
    target = folder / locked
    target.chmod(0)
    try:
        done = kqv_as_a_user("sample", "--model", folder, "--tokens", "2")
        also = kqv_as_a_user("trace", "gpt", "--model", folder / "inner") if locked == "." else done
    finally:
        target.chmod(0o755)
    for run in (done, also):
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    for w in words:
        assert w in done.stderr
    if locked == ".":  # a path inside the locked folder: its parent cannot be entered
        assert "cannot look into" in also.stderr and "permission denied" in also.stderr


def test_a_fifo_or_a_folder_where_a_model_file_belongs_is_one_line_and_does_not_wait(tmp_path):
    folder = tmp_path / "gpt2"
    shutil.copytree(TINY, folder)
    (folder / "config.json").unlink()
    os.mkfifo(folder / "config.json")  # opened for reading, a FIFO waits for a writer forever
    one_line_error(invoke("sample", "--model", folder), "config.json is not a regular file")
    (folder / "config.json").unlink()
    (folder / "config.json").mkdir()
    one_line_error(invoke("sample", "--model", folder), "config.json is a folder")


# -- control characters: shown on a terminal, kept in a pipe ---------------------------------

ESCAPES = "\x1b]2;pwned\x07\x00\x03\x16\r\x9b"  # a window title, raw bytes, CR, an 8-bit CSI


def test_visible_escapes_every_control_but_newline_and_tab():
    from kqv_cli.generated_text import visible

    assert visible("a\tb\nc") == "a\tb\nc"
    assert visible(ESCAPES) == "\\x1b]2;pwned\\x07\\x00\\x03\\x16\\r\\x9b"
    assert visible("Café ☕ ü") == "Café ☕ ü"


@pytest.mark.parametrize("terminal", [False, True])
def test_sampled_control_characters_are_escaped_on_a_terminal_and_kept_in_a_pipe(tmp_path, monkeypatch,
                                                                                terminal):
    """A model whose vocabulary holds ESC, BEL, NUL... (from its training text, or a crafted
    tokenizer.json) samples them; a terminal must not obey them, a pipe must get them."""
    monkeypatch.setattr("kqv_cli.generated_text.on_terminal", lambda stream: terminal)
    ckpt = char_checkpoint(tmp_path, text=ESCAPES + "ab")
    assert invoke("export", ckpt, "--hf", tmp_path / "hf").exit_code == 0
    for source in ([ckpt], ["--model", tmp_path / "hf"]):
        result = invoke("sample", *source, "--prompt", "a", "--tokens", "300", "--seed", "1")
        assert result.exit_code == 0, result.output
        controls = [c for c in ESCAPES if not c.isprintable()]  # ESC BEL NUL ETX SYN CR CSI
        raw = [c for c in controls if c in result.stdout]
        if terminal:
            assert raw == [], result.stdout
            assert "\\x1b" in result.stdout and "\\x07" in result.stdout and "\\r" in result.stdout
        else:
            assert raw == controls and "\\x1b" not in result.stdout
