"""`kqv export CKPT --hf DIR` for a translation checkpoint: a MarianMT folder transformers reads.

tests/data/marian-export-golden.npz holds what transformers made of the export of
tests/data/translate-tiny.npz (a small model trained by kqv): the loading report (no missing,
unexpected or mismatched keys), the token ids of AutoTokenizer, logits, and generate()'s greedy
and beam-4 translations (benchmarks/marian_golden.py --export). The export is deterministic, so
the folder written here is the one transformers read; no torch is needed.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.errors import KqvError
from engine.hf.export import export_checkpoint
from engine.hf.marian import load_marian, read_config
from engine.hf.marian_export import halves_order
from engine.translation.checkpoint import load_translator
from engine.translation.decode import beam_search, greedy
from engine.translation.model import Transformer, TransformerConfig
from kqv_cli.cli import app

DATA = Path(__file__).parent / "data"
CKPT = DATA / "translate-tiny.npz"


@pytest.fixture(scope="module")
def golden():
    with np.load(DATA / "marian-export-golden.npz", allow_pickle=False) as g:
        return {k: g[k] for k in g.files}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    return export_checkpoint(CKPT, tmp_path_factory.mktemp("export") / "marian")


def generated(rows, eos=2, pad=0):
    out = []
    for row in rows:
        ids = [int(i) for i in row[1:]]
        out.append(ids[: ids.index(eos)] if eos in ids else [i for i in ids if i != pad])
    return out


def test_transformers_loaded_the_export_with_every_key_in_place(golden, exported):
    for report in ("missing_keys", "unexpected_keys", "mismatched_keys"):
        assert golden[report].size == 0, golden[report]
    with safe_open(exported / "model.safetensors", "np") as f:
        assert sorted(f.keys()) == golden["exported_keys"].tolist()
    names = {p.name for p in exported.iterdir()}
    assert names == {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                     "tokenizer_config.json"}
    assert json.loads((exported / "tokenizer_config.json").read_text())["tokenizer_class"] == \
        "PreTrainedTokenizerFast"


def test_transformers_tokens_logits_and_translations_are_kqvs(golden):
    model, vocab, _ = load_translator(CKPT)
    for text, row, mask in zip(golden["english"], golden["src"], golden["src_mask"], strict=True):
        assert vocab.encode(str(text)) + [2] == row[mask.astype(bool)].tolist()  # </s> appended as kqv does
    n = golden["logits"].shape[0]
    logits = model.forward(golden["src"][:n], golden["tgt_in"])
    np.testing.assert_allclose(logits, golden["logits"], atol=1e-4, rtol=0)
    max_new = model.config.max_len - 1  # generation_config.json's max_length, less the start token
    beam4 = beam_search(model, golden["src"], beam=4, max_new=max_new)
    assert beam4 == generated(golden["beam4"])
    assert greedy(model, golden["src"], max_new=max_new) == generated(golden["greedy"])
    assert [vocab.decode(ids) for ids in beam4] == golden["beam4_text"].tolist()


def test_kqv_translate_of_the_checkpoint_and_of_the_export_print_transformers_text(golden, exported):
    sentences = [str(s) for s in golden["english"][:6]]
    runner = CliRunner()
    for args in ([str(CKPT)], ["--model", str(exported)]):
        result = runner.invoke(app, ["translate", *args, *sentences])
        assert result.exit_code == 0, result.output
        assert result.stdout.splitlines() == golden["beam4_text"][:6].tolist()


def test_the_export_read_back_is_the_same_function(golden, exported):
    """Reloaded, the export has Marian's halves positions and the channels reordered to match:
    the logits do not change."""
    model, _, _ = load_translator(CKPT)
    back, generation = load_marian(exported)
    assert (model.config.positions, back.config.positions) == ("interleaved", "halves")
    assert generation.num_beams == 4 and generation.banned == (0,) and not generation.force_eos
    src, tgt = golden["src"][:3], golden["tgt_in"][:3]
    np.testing.assert_allclose(back.forward(src, tgt), model.forward(src, tgt), atol=1e-5)
    np.testing.assert_array_equal(back.params["wte"], model.params["wte"][:, halves_order(32)])


def test_pre_ln_and_odd_widths_have_no_marian_form(tmp_path):
    from engine.hf.marian_export import save_marian

    pre = Transformer(TransformerConfig(vocab_size=20, n_embd=8, n_head=2, n_layer=1, n_dec_layer=1, d_ff=16,
                                        norm="pre"))
    with pytest.raises(KqvError, match="--norm pre; MarianMT is post-LN only"):
        save_marian(pre, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any file was written


def test_the_exported_config_says_what_kqv_computes(exported):
    cfg = load_translator(CKPT)[0].config
    written = json.loads((exported / "config.json").read_text())
    assert written["activation_function"] == "swish" and written["decoder_start_token_id"] == cfg.bos_id == 1
    assert (written["d_model"], written["encoder_ffn_dim"], written["max_position_embeddings"]) == \
        (cfg.n_embd, cfg.d_ff, cfg.max_len)


def test_export_refuses_a_folder_with_files(tmp_path, exported):
    with pytest.raises(KqvError, match="not empty"):
        export_checkpoint(CKPT, exported)
    assert read_config(export_checkpoint(CKPT, exported, force=True)).n_embd == 32
