"""`kqv data marian`, `kqv translate --model` and `kqv trace translate --model` through typer's
runner, on the tiny Marian of tests/data/marian-tiny (served by a local fake hub for the download).
The expected translations are transformers' (tests/data/marian-tiny-golden.npz)."""

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from tests.local_http import serve

runner = CliRunner()
TINY = Path(__file__).parent / "data" / "marian-tiny"
FILES = ("config.json", "generation_config.json", "source.spm", "target.spm", "vocab.json",
         "model.safetensors")


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for w in words:
        assert w in result.output, result.output


@pytest.fixture(scope="module")
def golden():
    with np.load(TINY.parent / "marian-tiny-golden.npz", allow_pickle=False) as g:
        return {k: g[k] for k in ("english", "beam4_text", "greedy_text")}


def test_translate_model_folder_prints_transformers_translations(golden):
    sentences = [str(s) for s in golden["english"][:3]]
    result = invoke("translate", "--model", TINY, *sentences)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == golden["beam4_text"][:3].tolist()  # num_beams 4 from the folder
    greedy = invoke("translate", "--model", TINY, "--beam", "1", input="\n".join(sentences) + "\n")
    assert greedy.exit_code == 0, greedy.output
    assert greedy.stdout.splitlines() == golden["greedy_text"][:3].tolist()


def test_show_attention_has_source_pieces_as_columns():
    result = invoke("translate", "--model", TINY, "--show-attention", "--head", "1", "Go.")
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # the title wraps in the runner's narrow terminal
    assert "cross-attention, last decoder layer (head 1)" in out
    assert "columns: source ▁ G o . </s> ▁Je" in out  # source.spm cuts "Go." into four pieces


def test_trace_translate_model_names_source_and_target_axes():
    result = invoke("trace", "translate", "--model", TINY, "--fold")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "MarianMT" in out and "n_dec_layer=3" in out
    for line in ("dec.h0.cross.att ", "dec.h0.cross.pad_mask"):
        row = next(r for r in out.splitlines() if r.startswith(line))
        assert ("(B, nh, T, S)" if "att" in line else "(B, 1, 1, S)") in row


@pytest.mark.parametrize("args, words", [
    (["--model", "Helsinki-NLP/opus-mt-en-fr", "Hi."], ["not on this machine", "kqv data marian"]),
    (["--model", "Helsinki-NLP/opus-mt-xx-yy", "Hi."], ["unknown model", "opus-mt-en-de"]),
    (["--model", TINY, "--head", "9", "Hi."], ["--head must be from 0 to 3"]),
    (["--model", TINY, "--beam", "0", "Hi."], ["--beam"]),
    (["--model", TINY, "  "], ["empty"]),
    (["--model", TINY, "word " * 80], ["pieces long", "--truncate"]),
    (["--model", TINY.parent / "gpt2-tiny", "Hi."], ["'gpt2' model", "marian"]),
])
def test_bad_input_is_one_line(args, words):
    one_line_error(invoke("translate", *args), *words)


def test_truncate_cuts_and_says_so():
    result = invoke("translate", "--model", TINY, "--truncate", "word " * 80)
    assert result.exit_code == 0, result.output
    assert "was cut to the model's 63 pieces" in result.output


def test_data_marian_downloads_once_then_translate_finds_it_offline(monkeypatch):
    from dataclasses import replace

    from engine.hf import hub

    # the fake hub answers a branch name with the branch name as its commit, which a real hub never
    # does; a commit hash behaves as the real hub's answer for "main" would
    name = "Helsinki-NLP/opus-mt-en-de"
    monkeypatch.setitem(hub.MARIAN_MODELS, name, replace(hub.MARIAN_MODELS[name], revision="5" * 40))
    files = {name: (TINY / name).read_bytes() for name in FILES}
    with serve(files) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url.rstrip("/"))
        result = invoke("data", "marian", "--model", "Helsinki-NLP/opus-mt-en-de")
        assert result.exit_code == 0, result.output
        assert "Helsinki-NLP/opus-mt-en-de" in result.output
        fetched = {p.rsplit("/", 1)[1] for p in server.requests if "/resolve/" in p}
        assert fetched == set(FILES)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("translate", "--model", "Helsinki-NLP/opus-mt-en-de", "Go.")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip()
    result = invoke("translate", "--model", "opus-mt-en-de", "Go.")  # the owner may be left out
    assert result.exit_code == 0, result.output
    one_line_error(invoke("data", "marian"), "opus-mt-en-fr", "not on this machine", "HF_HUB_OFFLINE")
    one_line_error(invoke("data", "marian", "--model", "opus-mt-en-fr"), "Helsinki-NLP/opus-mt-en-fr",
                   "not on this machine")
