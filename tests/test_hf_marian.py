"""MarianMT in the Hugging Face format: the tokenizer, the weights, the decoding rules, the refusals.

The golden values in tests/data/marian-tiny-golden.npz were computed by transformers (eager
attention, float32) on the tiny Marian in tests/data/marian-tiny, by benchmarks/marian_golden.py;
nothing here compares kqv with itself.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from engine.errors import KqvError
from engine.hf.marian import load_marian, read_config, translate_ids
from engine.hf.marian_tokenizer import MarianTokenizer
from engine.trace import Tracer

DATA = Path(__file__).parent / "data"
TINY = DATA / "marian-tiny"


@pytest.fixture(scope="module")
def golden():
    with np.load(DATA / "marian-tiny-golden.npz", allow_pickle=False) as g:
        return {k: g[k] for k in g.files}


@pytest.fixture(scope="module")
def marian():
    return load_marian(TINY)


def generated(rows, eos: int, pad: int) -> list[list[int]]:
    """transformers' generate() rows -> kqv's: no start token, cut before the end token."""
    out = []
    for row in rows:
        ids = [int(i) for i in row[1:]]
        out.append(ids[: ids.index(eos)] if eos in ids else [i for i in ids if i != pad])
    return out


def test_the_tokenizer_gives_transformers_ids(golden):
    tok = MarianTokenizer.from_folder(TINY)
    for text, row, mask in zip(golden["english"], golden["src"], golden["src_mask"], strict=True):
        assert tok.encode(str(text)).tolist() == row[mask.astype(bool)].tolist()
    assert tok.encode("Go.")[-1] == tok.eos_id == 0  # </s> appended
    assert tok.pad_id == 396 and tok.size == 397


def test_config_carries_what_makes_marian_differ_from_the_paper():
    cfg = read_config(TINY)
    assert (cfg.positions, cfg.activation, cfg.norm) == ("halves", "silu", "post")
    assert cfg.final_logits_bias and cfg.scale_embedding
    assert cfg.bos_id == cfg.pad_id == 396 and cfg.eos_id == 0  # decoding starts from the pad token
    assert (cfg.n_layer, cfg.n_dec_layer, cfg.d_ff, cfg.n_embd, cfg.n_head) == (2, 3, 40, 16, 4)


def test_logits_and_cross_attention_match_transformers_on_a_padded_batch(golden, marian):
    model, _ = marian
    B, S = golden["src"].shape
    T = golden["tgt_in"].shape[1]
    tracer = Tracer(dims=model.dims(B, S, T))
    logits = model.forward(golden["src"], golden["tgt_in"], tracer=tracer)
    real = golden["tgt_out"] != model.config.pad_id  # positions whose prediction is a real token
    assert real.sum() > 200 and (~real).any()  # padded on both sides
    np.testing.assert_allclose(logits[real], golden["logits"][real], atol=1e-4, rtol=0)
    for i in range(model.config.n_dec_layer):
        att = tracer[f"dec.h{i}.cross.att"].value  # (B, nh, T, S)
        assert att.shape == golden[f"cross_att{i}"].shape
        rows = att.transpose(0, 2, 1, 3)[real]  # (positions, nh, S)
        want = golden[f"cross_att{i}"].transpose(0, 2, 1, 3)[real]
        np.testing.assert_allclose(rows, want, atol=1e-5, rtol=0)
    assert tracer.mismatches() == []


def test_greedy_and_beam4_are_transformers_tokens_and_text(golden, marian):
    model, generation = marian
    tok = MarianTokenizer.from_folder(TINY)
    eos, pad = model.config.eos_id, model.config.pad_id
    assert generation.num_beams == 4 and generation.banned == (pad,) and generation.force_eos
    greedy = translate_ids(model, generation, golden["src"], beam=1)
    beam4 = translate_ids(model, generation, golden["src"])  # num_beams from generation_config.json
    assert greedy == generated(golden["greedy"], eos, pad)
    assert beam4 == generated(golden["beam4"], eos, pad)
    assert greedy != beam4  # the golden sentences do tell greedy from beam search
    assert [tok.decode(ids) for ids in beam4] == golden["beam4_text"].tolist()
    assert [tok.decode(ids) for ids in greedy] == golden["greedy_text"].tolist()


def test_one_sentence_alone_translates_as_in_the_batch(golden, marian):
    model, generation = marian
    i = 7
    src = golden["src"][i : i + 1, golden["src_mask"][i].astype(bool)]
    assert translate_ids(model, generation, src) == generated(golden["beam4"][i : i + 1], 0, 396)


# -- refusals: one line each, before any big allocation --------------------------------------------


def tiny_copy(tmp_path) -> Path:
    folder = tmp_path / "marian"
    shutil.copytree(TINY, folder)
    return folder


def edit_config(folder: Path, name: str = "config.json", **changes) -> None:
    path = folder / name
    cfg = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("changes, words", [
    ({"model_type": "bart"}, "'bart' model"),
    ({"activation_function": "gelu"}, "exact erf GELU"),
    ({"normalize_before": True}, "normalize_before = true"),
    ({"share_encoder_decoder_embeddings": False}, "one token table"),
    ({"decoder_attention_heads": 2}, "differ"),
    ({"encoder_layers": 10**9}, "would need"),
    ({"d_model": 0}, "whole number ≥ 1"),
    ({"pad_token_id": 5000}, "below vocab_size"),
])
def test_a_config_kqv_would_run_differently_is_refused(tmp_path, changes, words):
    folder = tiny_copy(tmp_path)
    edit_config(folder, **changes)
    with pytest.raises(KqvError, match=words.replace("(", r"\(")) as exc:
        load_marian(folder)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("changes, words", [
    ({"do_sample": True}, "do_sample"),
    ({"no_repeat_ngram_size": 3}, "no_repeat_ngram_size"),
    ({"early_stopping": "never"}, "early_stopping"),
    ({"num_beams": 0}, "num_beams"),
])
def test_generation_rules_kqv_lacks_are_refused(tmp_path, changes, words):
    folder = tiny_copy(tmp_path)
    edit_config(folder, "generation_config.json", **changes)
    with pytest.raises(KqvError, match=words):
        load_marian(folder)


def test_weights_that_disagree_with_the_config_are_refused(tmp_path):
    folder = tiny_copy(tmp_path)
    edit_config(folder, encoder_ffn_dim=48, decoder_ffn_dim=48)
    with pytest.raises(KqvError, match=r"fc1.weight is \(40, 16\), config.json makes it \(48, 16\)"):
        load_marian(folder)


def test_learned_positions_are_refused_and_true_sinusoids_accepted(tmp_path):
    from engine.layers import sinusoidal_positions

    folder = tiny_copy(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    table = sinusoidal_positions(64, 16, np.float32, layout="halves")
    save_file({**tensors, "model.encoder.embed_positions.weight": table}, folder / "model.safetensors")
    load_marian(folder)  # the fixed sinusoids, as older checkpoints stored them: fine
    interleaved = sinusoidal_positions(64, 16, np.float32)
    save_file({**tensors, "model.decoder.embed_positions.weight": interleaved}, folder / "model.safetensors")
    with pytest.raises(KqvError, match="not Marian's fixed sinusoids"):
        load_marian(folder)


def test_a_missing_final_logits_bias_is_zero_as_in_transformers(tmp_path, golden):
    folder = tiny_copy(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    bias = tensors.pop("final_logits_bias")[0]
    save_file(tensors, folder / "model.safetensors")
    model, _ = load_marian(folder)
    logits = model.forward(golden["src"][:2], golden["tgt_in"][:2])
    np.testing.assert_allclose(logits + bias, golden["logits"][:2], atol=1e-4)


@pytest.mark.parametrize("missing", ["source.spm", "target.spm", "vocab.json"])
def test_missing_tokenizer_files_are_one_line(tmp_path, missing):
    folder = tiny_copy(tmp_path)
    (folder / missing).unlink()
    with pytest.raises(KqvError, match=f"no {missing} in"):
        MarianTokenizer.from_folder(folder)


def test_a_broken_spm_file_is_one_line(tmp_path):
    folder = tiny_copy(tmp_path)
    (folder / "source.spm").write_bytes(b"not a model")
    with pytest.raises(KqvError, match="is not a SentencePiece model"):
        MarianTokenizer.from_folder(folder)


def test_renormalize_length_penalty_and_forced_end_follow_transformers(tmp_path, golden):
    """generation_config.json's rules change the translations (7 of 20 without renormalize_logits
    here) and kqv follows each: renormalize_logits, length_penalty 0.6, max_length 12."""
    folder = tiny_copy(tmp_path)
    rules = json.loads(str(golden["other_rules"]))
    edit_config(folder, "generation_config.json", **rules)
    model, generation = load_marian(folder)
    assert generation.renormalize and generation.max_new == 11 and generation.length_penalty == 0.6
    want = generated(golden["beam4_other_rules"], 0, 396)
    assert translate_ids(model, generation, golden["src"]) == want
    assert want != generated(golden["beam4"], 0, 396)


def test_the_flags_old_opus_mt_configs_carry_are_accepted(tmp_path, golden):
    """Configs converted with transformers 3.x/4.x carry BART's flags with the values Marian
    computes (and add_bias_logits either way: final_logits_bias is always added)."""
    folder = tiny_copy(tmp_path)
    edit_config(folder, normalize_before=False, normalize_embedding=False, add_final_layer_norm=False,
                static_position_embeddings=True, add_bias_logits=False, extra_pos_embeddings=64,
                num_beams=4, max_length=512, bad_words_ids=[[396]], id2label={"0": "LABEL_0"})
    model, _ = load_marian(folder)
    logits = model.forward(golden["src"][:2], golden["tgt_in"][:2])
    np.testing.assert_allclose(logits, golden["logits"][:2], atol=1e-4)
