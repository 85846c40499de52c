"""`kqv train translate`, `kqv translate` and `kqv trace translate` through typer's runner, on a
tiny pairs file and a tiny model (each run takes a second or two)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.data.pairs import load_pairs
from engine.files.checkpoint import save_checkpoint
from engine.translation.batches import epoch_batches
from engine.translation.train import TranslateTrainConfig, TranslateTrainer
from kqv_cli.cli import app

runner = CliRunner()

ANIMALS = [("cat", "chat"), ("dog", "chien"), ("horse", "cheval"), ("bird", "oiseau"), ("fish", "poisson")]
COLOURS = [("black", "noir"), ("white", "blanc"), ("big", "grand"), ("small", "petit")]
PAIRS = "".join(f"The {a} is {c}.\tLe {b} est {d}.\n" for a, b in ANIMALS for c, d in COLOURS)
PAIRS += "".join(f"I see the {a}.\tJe vois le {b}.\n" for a, b in ANIMALS) + "Run!\tCours !\nRun!\tCourez !\n"
TINY = ["--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4", "--vocab-size", "300",
        "--eval-interval", "5", "--warmup-iters", "5", "--bleu-sentences", "2", "--beam", "2"]


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def one_line_exit_2(result, *words):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for w in words:
        assert w in result.output, result.output


@pytest.fixture
def pairs(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS, encoding="utf-8")
    return path


@pytest.fixture
def trained(tmp_path, pairs):
    out = tmp_path / "t.npz"
    result = invoke("train", "translate", "--pairs", pairs, *TINY, "--max-iters", "10", "--out", out,
                    "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_train_json_has_bleu_greedy_and_beam(trained):
    out, report = trained
    assert out.is_file() and report["iters"] == 10
    assert [e["iter"] for e in report["evals"]] == [5, 10]
    bleu = report["bleu"]
    assert {"greedy", "beam2", "sentences", "references"} <= set(bleu)
    assert bleu["sentences"] == 1  # 5% of 27 sources
    assert 0 <= bleu["greedy"] <= 100 and 0 <= bleu["beam2"] <= 100
    assert report["examples"][0]["references"]


def test_train_prints_progress_bleu_and_the_next_command(tmp_path, pairs):
    result = invoke("train", "translate", "--pairs", pairs, *TINY, "--max-iters", "10",
                    "--out", tmp_path / "t.npz")
    assert result.exit_code == 0, result.output
    assert "iter    10  train" in result.output and "test BLEU" in result.output
    assert "kqv translate" in result.output


def test_resume_draws_the_batches_of_the_uninterrupted_run(tmp_path, pairs):
    splits = load_pairs(pairs)
    sizes = {"n_embd": 16, "n_head": 2, "n_layer": 1, "n_dec_layer": 1, "d_ff": 64, "dropout": 0.1}

    def config(n):
        return TranslateTrainConfig(batch_size=4, max_iters=n, eval_interval=3, vocab_size=300,
                                    warmup_iters=5, bleu_sentences=0)

    whole = TranslateTrainer(splits, sizes, config(8), out=tmp_path / "a.npz")
    whole.run()
    first = TranslateTrainer(splits, sizes, config(5), out=tmp_path / "b.npz")
    first.run()
    second = TranslateTrainer(splits, sizes, config(8), out=tmp_path / "b.npz", resume=tmp_path / "b.npz")
    assert second.iter == 5
    second.run()
    np.testing.assert_allclose(second.losses, whole.losses, rtol=1e-6)
    np.testing.assert_array_equal(second.model.flat_params, whole.model.flat_params)


def test_batches_group_similar_lengths_and_cover_the_epoch():
    rng = np.random.default_rng(0)
    lens = rng.integers(2, 30, size=1000)
    batches = epoch_batches(lens, lens, 10, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([lens[b].max() - lens[b].min() for b in batches])
    assert spread < 2  # random batches of 10 would spread over ~20 pieces


@pytest.mark.parametrize("args, words", [
    (["--beam", "0"], ["--beam", "from 1"]),
    (["--beam", "10000"], ["--beam"]),
    (["--n-head", "3"], ["multiple of --n-head"]),
    (["--norm", "middle"], ["--norm"]),
    (["--activation", "tanh"], ["--activation"]),
    (["--batch-size", "0"], ["batch-size"]),
    (["--lr", "-1"], ["lr"]),
    (["--vocab-size", "10"], ["vocab-size"]),
])
def test_train_bad_flags_are_one_line(tmp_path, pairs, args, words):
    result = invoke("train", "translate", "--pairs", pairs, *TINY, *args, "--out", tmp_path / "t.npz")
    one_line_exit_2(result, *words)
    assert not (tmp_path / "t.npz").exists()


@pytest.mark.parametrize("content, words", [
    ("Go.\tVa !\nno tab\n", ["line 2 has no tab"]),
    ("Go.\t\nHi.\tSalut\n", ["line 1 has an empty target side"]),
    (b"Go.\tVa !\n\xff\tx\n", ["line 2 is not valid UTF-8"]),
    ("Go.\tVa !\n", ["1 pair"]),
])
def test_train_bad_pairs_files_are_one_line(tmp_path, content, words):
    path = tmp_path / "bad.txt"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    one_line_exit_2(invoke("train", "translate", "--pairs", path, *TINY, "--out", tmp_path / "t.npz"), *words)


def test_a_sentence_longer_than_the_positions_is_left_out_with_a_note(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(PAIRS + " ".join(["word"] * 200) + ".\tmot.\n", encoding="utf-8")
    result = invoke("train", "translate", "--pairs", path, *TINY, "--max-iters", "2", "--bleu-sentences", "0",
                    "--out", tmp_path / "t.npz")
    assert result.exit_code == 0, result.output
    assert "1 training pair is longer than the model's 128 positions" in result.output


def test_existing_out_is_not_replaced_without_force(trained, pairs):
    out, _ = trained
    one_line_exit_2(invoke("train", "translate", "--pairs", pairs, *TINY, "--out", out), "--force")


# -- kqv translate ----------------------------------------------------------------------------------


def test_translate_one_line_per_sentence_args_and_stdin(trained):
    out, _ = trained
    result = invoke("translate", out, "The cat is black.", "I see the dog.", "--beam", "1")
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2
    piped = invoke("translate", out, "--beam", "1", input="The cat is black.\n\nI see the dog.\n")
    assert piped.exit_code == 0 and piped.output == result.output


def test_translate_shows_the_cross_attention(trained):
    out, _ = trained
    result = invoke("translate", out, "The cat is black.", "--show-attention", "--head", "1")
    assert result.exit_code == 0, result.output
    assert "cross-attention" in result.output and "head 1" in result.output and "▁is" in result.output
    rows = [line for line in result.output.splitlines() if line.startswith("</s>")]
    assert len(rows) == 1  # the last row: the end mark


def test_cross_attention_rows_are_probabilities(trained):
    from engine.translation.checkpoint import load_translator
    from kqv_cli.cross_attention_table import cross_attention

    model, vocab, _ = load_translator(trained[0])
    src = vocab.encode("The cat is black.") + [model.config.eos_id]
    out = vocab.encode("Le chat")
    att = cross_attention(model, src, out)
    assert att.shape == (model.config.n_head, len(out) + 1, len(src))
    np.testing.assert_allclose(att.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("args, words", [
    (["hello", "--beam", "0"], ["--beam", "from 1"]),
    (["hello", "--beam", "10000"], ["--beam"]),
    (["  "], ["sentence 1 is empty"]),
    (["hello", "--head", "7", "--show-attention"], ["--head"]),
    ([" ".join(["word"] * 200)], ["pieces long", "at most 127"]),
])
def test_translate_bad_input_is_one_line(trained, args, words):
    one_line_exit_2(invoke("translate", trained[0], *args), *words)


def test_translate_truncates_when_asked(trained):
    result = invoke("translate", trained[0], " ".join(["word"] * 200), "--truncate", "--beam", "1")
    assert result.exit_code == 0 and "was cut" in result.output


def test_foreign_checkpoints_are_refused_both_ways(tmp_path, trained):
    gpt = tmp_path / "g.npz"
    save_checkpoint(gpt, {"wte": np.zeros((3, 4), np.float32)}, {"kind": "gpt"})
    one_line_exit_2(invoke("translate", gpt, "hello"), "gpt checkpoint, not a translate one")
    digits = tmp_path / "d.npz"
    save_checkpoint(digits, {"w": np.zeros((3, 4), np.float32)}, {"kind": "digits"})
    one_line_exit_2(invoke("translate", digits, "hello"), "digits checkpoint")
    one_line_exit_2(invoke("sample", trained[0]),
                    "translate checkpoint, not a gpt one (kqv translate reads it)")
    one_line_exit_2(invoke("translate", tmp_path / "none.npz", "hello"), "no checkpoint")


# -- kqv trace translate ---------------------------------------------------------------------------


def test_trace_prints_encoder_decoder_cross_attention_loss_and_backward():
    result = runner.invoke(app, ["trace", "translate"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    out = result.output
    for name in ("memory", "cross.att", "tgt_out", "dmemory", "enc.dx"):
        assert name in out, name
    cross = next(line for line in out.splitlines() if line.split()[:1] == ["dec.h0.cross.att"])
    assert "(B, nh, T, S)" in cross


def test_trace_shapes_match_their_symbols():
    from engine.trace import Tracer
    from kqv_cli.commands import translate as cmd

    seen = {}

    def keep(tracer, console, values, fold):
        seen["tracer"] = tracer

    import kqv_cli.commands.translate as module
    original = module.print_trace
    module.print_trace = keep
    try:
        assert runner.invoke(app, ["trace", "translate", "--batch-size", "3"]).exit_code == 0
    finally:
        module.print_trace = original
    tracer: Tracer = seen["tracer"]
    assert tracer.mismatches() == []
    att = tracer[[n for n in tracer.names() if n.endswith("cross.att")][0]]
    B, S, T = tracer.dims["B"], tracer.dims["S"], tracer.dims["T"]
    assert att.shape == (B, cmd.sizes(32, 4, 1, 0, "post", "relu")["n_head"], T, S) and S != T


def test_the_warm_up_schedule_rises_then_falls_as_the_paper_says():
    from engine.optim import noam_lr

    C, warmup = 256, 400
    peak = noam_lr(warmup, C, warmup)
    assert peak == pytest.approx((C * warmup) ** -0.5)
    assert noam_lr(warmup // 2, C, warmup) == pytest.approx(peak / 2)  # linear before the peak
    assert noam_lr(4 * warmup, C, warmup) == pytest.approx(peak / 2)  # 1/√step after it
    assert noam_lr(warmup, C, warmup, scale=2.0) == pytest.approx(2 * peak)


def test_bleu_counts_any_reference():
    from engine.translation.evaluate import corpus_bleu

    refs = [["Cours !", "Courez !"], ["Je suis ici depuis trois jours ."]]
    assert corpus_bleu(["Courez !", "Je suis ici depuis trois jours ."], refs) == 100.0
    assert corpus_bleu(["Marchez !", "Il pleut ."], refs) < 20


def test_a_stop_request_saves_a_checkpoint_that_resumes(tmp_path, pairs):
    splits = load_pairs(pairs)
    sizes = {"n_embd": 16, "n_head": 2, "n_layer": 1, "n_dec_layer": 1, "d_ff": 64, "dropout": 0.0}
    tc = TranslateTrainConfig(batch_size=4, max_iters=50, eval_interval=100, vocab_size=300, warmup_iters=5)
    trainer = TranslateTrainer(splits, sizes, tc, out=tmp_path / "s.npz")
    calls = iter(range(100))
    result = trainer.run(should_stop=lambda: next(calls) >= 3)  # Ctrl-C after 3 iterations
    assert result.stopped and result.iters == 3 and result.bleu == {}
    again = TranslateTrainer(splits, sizes, tc, out=tmp_path / "s.npz", resume=tmp_path / "s.npz")
    assert again.iter == 3 and again.losses == trainer.losses


def test_resume_continues_and_names_the_typed_flags_it_ignores(trained, pairs):
    out, _ = trained
    args = [a if a != "16" else "32" for a in TINY]  # --n-embd 32 typed: the checkpoint's 16 wins
    result = invoke("train", "translate", "--pairs", pairs, *args, "--max-iters", "12", "--resume", out,
                    "--out", out, "--json")
    assert result.exit_code == 0, result.output
    assert "ignored: --n-embd 32 (saved: --n-embd 16)" in result.output
    report = json.loads(result.stdout)
    assert report["iters"] == 12
    again = invoke("train", "translate", "--pairs", pairs, *TINY, "--max-iters", "12", "--resume", out,
                   "--out", out)
    one_line_exit_2(again, "already at iteration 12")
