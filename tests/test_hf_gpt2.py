"""GPT-2 in the Hugging Face format: loading, the name mapping, the tokenizer and the export.

The golden values in tests/data/gpt2-tiny-golden.npz were computed by transformers (eager
attention) on the random tiny GPT-2 in tests/data/gpt2-tiny, by benchmarks/hf_gpt2_reference.py;
nothing here compares kqv with itself.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from engine.data.text import CharVocab
from engine.errors import KqvError
from engine.files.checkpoint import save_checkpoint
from engine.gpt.checkpoint import load_gpt
from engine.gpt.model import GPT, GPTConfig
from engine.gpt.sampling import sample_next
from engine.hf.export import export_checkpoint
from engine.hf.gpt2 import gpt2_tensors, load_gpt2, read_config
from engine.hf.tokenizer import HFTokenizer
from engine.trace import Tracer

DATA = Path(__file__).parent / "data"
TINY = DATA / "gpt2-tiny"
TOL = 1e-4  # float32, against transformers


@pytest.fixture(scope="module")
def golden():
    with np.load(DATA / "gpt2-tiny-golden.npz", allow_pickle=False) as g:
        return {k: g[k] for k in g.files}


def copy_tiny(tmp_path) -> Path:
    folder = tmp_path / "gpt2"
    shutil.copytree(TINY, folder)
    return folder


def test_logits_and_every_attention_matrix_match_transformers(golden):
    model = load_gpt2(TINY)
    ids = golden["ids"]
    tracer = Tracer(dims=model.dims(1, ids.size))
    logits, _ = model.forward(ids[None, :], tracer=tracer)
    np.testing.assert_allclose(logits[0], golden["logits"], atol=TOL)
    for i in range(model.config.n_layer):
        np.testing.assert_allclose(tracer[f"h{i}.att"].value[0], golden[f"att_h{i}"], atol=TOL)
    assert tracer.mismatches() == []


def test_cached_generation_matches_transformers_step_by_step(golden):
    model = load_gpt2(TINY)
    kv = model.kv_cache()
    model.forward(golden["ids"][None, :], cache=kv)
    for token, expected in zip(golden["gen_ids"], golden["gen_logits"], strict=True):
        logits, _ = model.forward(np.array([[token]]), cache=kv)
        np.testing.assert_allclose(logits[0, -1], expected, atol=TOL)
        # greedy: transformers' next token is the argmax of these logits
    assert kv.t == golden["ids"].size + golden["gen_ids"].size


@pytest.mark.parametrize("top_k, temperature", [(1, 1.0), (None, 1.5)])  # greedy, and sampled
def test_cached_and_uncached_generation_agree_up_to_and_past_the_window(golden, top_k, temperature):
    """One rule, nanoGPT's: each step sees the last block_size tokens. The cache only saves
    work while the context fits; past it both paths give the crop loop's tokens, written out here."""
    model = load_gpt2(TINY)
    block_size = model.config.block_size  # 32
    prompt = golden["ids"][:5]
    n = 3 * block_size  # well past the window

    def tokens(cache):
        rng = np.random.default_rng(7)
        return list(model.stream(prompt, n, temperature, top_k, rng, cache=cache))

    rng, ids = np.random.default_rng(7), [int(i) for i in prompt]
    for _ in range(n):  # nanoGPT's loop: crop to block_size, forward, draw
        logits, _ = model.forward(np.asarray(ids[-block_size:])[None, :])
        ids.append(sample_next(logits[0, -1], temperature, top_k, rng))
    assert tokens(cache=True) == tokens(cache=False) == ids[prompt.size:]


def test_the_heads_copy_of_wte_never_outlives_a_change_of_wte(golden):
    """A loaded GPT-2 keeps wteᵀ (C, V) for its head (speed); backward and load_params, which
    come before wte changes, drop it, so the logits follow the new wte."""
    model = load_gpt2(TINY)
    ids = golden["ids"][None, :]
    np.testing.assert_allclose(model.forward(ids)[0][0], golden["logits"], atol=TOL)  # made the copy
    model.forward(ids[:, :-1], ids[:, 1:])
    model.backward()
    model.params["wte"][...] *= 2  # what an optimiser step would do after backward
    doubled = {name: view.copy() for name, view in model.params.items()}
    logits = model.forward(ids)[0]
    np.testing.assert_allclose(logits[:, -1:], model.forward(ids, last_only=True)[0], atol=1e-6)
    model.forward(ids)  # a fresh copy of the doubled wte
    model.load_params({**doubled, "wte": doubled["wte"] / 2})
    np.testing.assert_allclose(model.forward(ids)[0][0], golden["logits"], atol=TOL)


def test_the_config_gives_gpt2_sizes_and_its_layer_norm_epsilon():
    cfg = read_config(TINY)
    raw = json.loads((TINY / "config.json").read_text())
    assert (cfg.vocab_size, cfg.block_size, cfg.n_layer, cfg.n_head, cfg.n_embd) == (
        raw["vocab_size"], raw["n_positions"], raw["n_layer"], raw["n_head"], raw["n_embd"])
    assert cfg.ln_eps == raw["layer_norm_epsilon"] == 0.01
    model = load_gpt2(TINY)
    assert model.h[0].ln_1.eps == model.ln_f.eps == 0.01


def test_the_name_table_covers_every_parameter_of_the_model_with_its_shape():
    cfg = GPTConfig(vocab_size=50257, block_size=1024, n_layer=2, n_head=12, n_embd=768)
    table = gpt2_tensors(cfg)
    model = GPT(cfg, init=False)
    assert {k: shape for k, (_, shape) in table.items()} == {k: v.shape for k, v in model.params.items()}
    assert table["h1.attn.c_attn.w"] == ("h.1.attn.c_attn.weight", (768, 2304))  # Conv1D: (in, out)


def test_hub_style_names_without_prefix_and_with_mask_buffers_load_the_same(tmp_path, golden):
    """The hub's gpt2 file has no ``transformer.`` prefix, carries h.N.attn.bias masks, and may
    hold the tied lm_head.weight; save_pretrained writes the prefix and none of those."""
    tensors = load_file(TINY / "model.safetensors")
    assert all(k.startswith("transformer.") for k in tensors)
    hub = {k.removeprefix("transformer."): v for k, v in tensors.items()}
    n_pos = golden["ids"].size
    for i in range(2):
        hub[f"h.{i}.attn.bias"] = np.tril(np.ones((n_pos, n_pos), np.float32))[None, None]
        hub[f"h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    hub["lm_head.weight"] = hub["wte.weight"]
    folder = tmp_path / "hub"
    folder.mkdir()
    shutil.copy(TINY / "config.json", folder)
    save_file({k: np.ascontiguousarray(v) for k, v in hub.items()}, folder / "model.safetensors")
    logits, _ = load_gpt2(folder).forward(golden["ids"][None, :])
    np.testing.assert_allclose(logits[0], golden["logits"], atol=TOL)


def test_float16_weights_are_read_as_float32(tmp_path, golden):
    folder = copy_tiny(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    save_file({k: v.astype(np.float16) for k, v in tensors.items()}, folder / "model.safetensors",
              metadata={"format": "pt"})
    model = load_gpt2(folder)
    assert model.params["wte"].dtype == np.float32
    logits, _ = model.forward(golden["ids"][None, :])
    np.testing.assert_allclose(logits[0], golden["logits"], atol=0.1)  # float16 rounding only


# -- bad folders: one line naming the problem -----------------------------------------------


def edit_config(folder, **changes):
    path = folder / "config.json"
    cfg = json.loads(path.read_text())
    cfg.update(changes)
    path.write_text(json.dumps(cfg))


@pytest.mark.parametrize("changes, message", [
    ({"model_type": "llama"}, "'llama' model; kqv runs the GPT-2 architecture only"),
    ({"activation_function": "relu"}, "activation_function 'relu' is not GPT-2's tanh GELU"),
    ({"n_inner": 7}, "n_inner 7 is not 4·n_embd = 64"),
    ({"tie_word_embeddings": False}, "tie_word_embeddings = false; .* with tie_word_embeddings = true only"),
    ({"scale_attn_weights": None}, "scale_attn_weights = null; .* with scale_attn_weights = true only"),
    ({"add_cross_attention": "yes"}, 'add_cross_attention = "yes"; .* = false only'),
    ({"n_head": 3}, "n_embd=16 is not divisible by n_head=3"),
])
def test_a_config_that_is_not_gpt2_is_refused_in_one_line(tmp_path, changes, message):
    folder = copy_tiny(tmp_path)
    edit_config(folder, **changes)
    with pytest.raises(KqvError, match=message):
        load_gpt2(folder)


def test_reorder_and_upcast_attn_is_accepted_as_it_changes_only_half_precision_rounding(tmp_path, golden):
    folder = copy_tiny(tmp_path)
    edit_config(folder, reorder_and_upcast_attn=True)
    logits, _ = load_gpt2(folder).forward(golden["ids"][None, :])
    np.testing.assert_allclose(logits[0], golden["logits"], atol=TOL)
    edit_config(folder, scale_attn_by_inverse_layer_idx=True)  # another function: still refused
    with pytest.raises(KqvError, match="scale_attn_by_inverse_layer_idx = true; .* = false only"):
        load_gpt2(folder)


def test_a_missing_tensor_is_named(tmp_path):
    folder = copy_tiny(tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["transformer.h.1.mlp.c_fc.bias"]
    save_file(tensors, folder / "model.safetensors")
    named = r"lacks the tensor h\.1\.mlp\.c_fc\.bias \(h1\.mlp\.c_fc\.b \(64,\)\)"
    with pytest.raises(KqvError, match=named):
        load_gpt2(folder)


def test_a_wrong_shape_is_named(tmp_path):
    folder = copy_tiny(tmp_path)
    edit_config(folder, n_positions=64)  # wpe in the file has 32 rows
    with pytest.raises(KqvError, match=r"tensor transformer\.wpe\.weight is \(32, 16\), config.json makes "
                                       r"it \(64, 16\)"):
        load_gpt2(folder)


def test_missing_files_and_a_damaged_weights_file_are_one_line(tmp_path):
    with pytest.raises(KqvError, match="no config.json in"):
        load_gpt2(tmp_path)
    folder = copy_tiny(tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(KqvError, match="pytorch_model.bin, a pickle kqv does not open"):
        load_gpt2(folder)
    (folder / "model.safetensors").write_bytes(b"not safetensors at all")
    with pytest.raises(KqvError, match="not a readable safetensors file"):
        load_gpt2(folder)


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300])  # 1e300 (float64) is inf in float32
def test_weights_with_nan_or_inf_are_refused_at_load_naming_the_tensor(tmp_path, bad):
    folder = copy_tiny(tmp_path)
    tensors = {k: v.astype(np.float64) for k, v in load_file(folder / "model.safetensors").items()}
    tensors["transformer.h.1.mlp.c_fc.weight"][3, 5] = bad
    save_file(tensors, folder / "model.safetensors")
    with pytest.raises(KqvError, match=r"tensor transformer\.h\.1\.mlp\.c_fc\.weight holds NaN or infinite"):
        load_gpt2(folder)


def test_a_model_too_big_for_the_machine_is_refused_from_its_config_before_any_allocation(tmp_path,
                                                                                        monkeypatch):
    folder = copy_tiny(tmp_path)
    edit_config(folder, n_layer=1_000_000_000)  # allocated until it failed, or the machine did
    with pytest.raises(KqvError, match=r"GPT-2 in .* \(n_layer 1000000000, n_embd 16, .*\) would need about "
                                       r".* bigger model than this machine can hold"):
        load_gpt2(folder)
    edit_config(folder, n_layer=2)
    monkeypatch.setattr("engine.runtime.memory.available_memory", lambda: 100_000)  # a tiny machine
    with pytest.raises(KqvError, match=r"would need about .* KB \(.*parameters.*\) of memory, but 100.0 KB"):
        load_gpt2(folder)


def test_the_estimate_counts_what_a_loaded_gpt2_holds():
    """GPT-2 small: 124,439,808 float32 parameters, wteᵀ again for the head, a 1024-position
    KV cache of 12 layers; a forward pass over 64 positions, not over all 1024."""
    from engine.hf.gpt2 import gpt2_memory

    parts = gpt2_memory(GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768)).parts
    assert parts["parameters"] == 124_439_808 * 4
    assert parts["head copy"] == parts["reading"] == 50257 * 768 * 4
    assert parts["KV cache"] == 2 * 12 * 1024 * 768 * 4
    assert 50e6 < parts["activations"] < 200e6


def test_a_deeply_nested_or_huge_config_is_one_line(tmp_path):
    folder = copy_tiny(tmp_path)
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(KqvError, match="nested too deeply"):
        load_gpt2(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "pad": "x" * 2_000_000}))
    with pytest.raises(KqvError, match="2,000,.* bytes; a GPT-2 config.json is a few hundred"):
        load_gpt2(folder)


def test_a_tokenizer_whose_ids_pass_the_models_rows_is_refused_though_it_has_few_tokens(tmp_path):
    from engine.hf.hub import load_pretrained

    folder = copy_tiny(tmp_path)
    tok = json.loads((folder / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    assert len(vocab) <= 320  # fewer tokens than rows: the count alone passed
    vocab[next(iter(vocab))] = 5000
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(KqvError, match="ids up to 5000 but the model only 320 rows of wte"):
        load_pretrained(str(folder))
    assert load_pretrained(str(TINY))[1].rows_needed <= 320


def test_a_tokenizer_json_of_gigabytes_is_refused_before_it_is_read(tmp_path):
    folder = copy_tiny(tmp_path)
    with open(folder / "tokenizer.json", "r+b") as f:
        f.truncate(10 * 2**30)  # sparse: 10 GB that take no disk
    with pytest.raises(KqvError, match="tokenizer.json is 10,737,418,240 bytes; the largest tokenizers"):
        HFTokenizer.from_file(folder / "tokenizer.json")


# -- the tokenizer ------------------------------------------------------------------------


def test_the_bpe_tokenizer_gives_transformers_ids_and_pieces(golden):
    tok = HFTokenizer.from_file(TINY / "tokenizer.json")
    ids = tok.encode(str(golden["prompt"]))
    np.testing.assert_array_equal(ids, golden["ids"])
    assert ids[0] == tok.end_of_text
    pieces = tok.pieces(ids)
    assert pieces[:3] == ["<|endoftext|>", "The", " pizza"] and " it" in pieces and " oven" in pieces
    assert tok.decode(ids) == str(golden["prompt"])


# -- export -------------------------------------------------------------------------------


def char_checkpoint(tmp_path, text="the pizza came out of the oven\n") -> tuple[Path, GPT, CharVocab]:
    vocab = CharVocab.from_text(text)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=2, n_head=2, n_embd=8), seed=4)
    path = tmp_path / "char.npz"
    save_checkpoint(path, dict(model.params), {"kind": "gpt", "model": model.config.to_dict(),
                                               "vocab": vocab.chars})
    return path, model, vocab


def test_an_exported_checkpoint_loads_back_with_the_same_logits_and_tokens(tmp_path):
    ckpt, model, vocab = char_checkpoint(tmp_path)
    out = export_checkpoint(ckpt, tmp_path / "hf")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json",
                                                       "tokenizer_config.json"]
    back = load_gpt2(out)
    ids = vocab.encode("the oven")
    np.testing.assert_array_equal(back.forward(ids[None, :])[0], model.forward(ids[None, :])[0])
    tok = HFTokenizer.from_file(out / "tokenizer.json")
    np.testing.assert_array_equal(tok.encode("the oven\n"), vocab.encode("the oven\n"))
    assert tok.decode(tok.encode("the oven\n")) == "the oven\n"
    with pytest.raises(KqvError, match="has no token for 'Z', 'é'; use only characters of the model's"):
        tok.encode("the Zé")  # kqv refuses what its model never saw...
    # ...while transformers' tokenizer reads them as the space, its unknown token, and decodes
    # the space back (no special token is named, so skip_special_tokens keeps it)
    assert tok.tokenizer.encode("the Zé").ids == [int(i) for i in vocab.encode("the   ")]
    assert tok.tokenizer.decode(vocab.encode("the oven").tolist(), skip_special_tokens=True) == "the oven"
    assert "pad_token" not in json.loads((out / "tokenizer_config.json").read_text())


def test_without_a_space_the_stand_in_is_the_vocabularys_first_character():
    from engine.hf.tokenizer import char_tokenizer, stand_in

    vocab = CharVocab.from_text("abc\n")
    assert stand_in(vocab) == vocab.chars[0] == "\n"
    assert char_tokenizer(vocab).encode("aZ").ids == [vocab.chars.index("a"), 0]


def test_a_no_bias_model_is_exported_with_zero_biases(tmp_path):
    vocab = CharVocab.from_text("abc")
    model = GPT(GPTConfig(vocab_size=3, block_size=4, n_layer=1, n_head=1, n_embd=4, bias=False), seed=1)
    ckpt = tmp_path / "nb.npz"
    save_checkpoint(ckpt, dict(model.params), {"kind": "gpt", "model": model.config.to_dict(),
                                               "vocab": vocab.chars})
    out = export_checkpoint(ckpt, tmp_path / "hf")
    tensors = load_file(out / "model.safetensors")
    assert not tensors["transformer.h.0.attn.c_attn.bias"].any()
    ids = np.array([[0, 1, 2]])
    np.testing.assert_allclose(load_gpt2(out).forward(ids)[0], model.forward(ids)[0], atol=1e-6)


def test_export_refuses_a_digits_checkpoint_a_full_folder_and_a_what_if_variant(tmp_path):
    digits = tmp_path / "digits.npz"
    save_checkpoint(digits, {"w": np.zeros(2)}, {"kind": "digits"})
    with pytest.raises(KqvError, match="is a digits checkpoint: only a gpt checkpoint"):
        export_checkpoint(digits, tmp_path / "a")
    ckpt, _, _ = char_checkpoint(tmp_path)
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    with pytest.raises(KqvError, match="exists and is not empty; .* --force"):
        export_checkpoint(ckpt, full)
    export_checkpoint(ckpt, full, force=True)
    assert (full / "notes.txt").read_text() == "mine" and (full / "model.safetensors").is_file()
    model, vocab, _ = load_gpt(ckpt)
    flipped = tmp_path / "flipped.npz"
    save_checkpoint(flipped, dict(model.params), {"kind": "gpt", "vocab": vocab.chars,
                                                  "model": {**model.config.to_dict(), "mask": "flipped"}})
    with pytest.raises(KqvError, match="what-if variant \\(mask='flipped'\\)"):
        export_checkpoint(flipped, tmp_path / "b")
