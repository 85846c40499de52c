"""The translation what-ifs: each experiment end to end on the built-in pairs at a tiny budget,
the verdicts built from the numbers, the variants that differ by their beam alone sharing one
training, and the lab's data choice (the shared pairs' short sentences, else the built-in set)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from kqv_cli.lab import EXPERIMENTS, Point, VariantResult, get_experiment, run_experiment, translation_runner
from kqv_cli.lab.pairs import MAX_WORDS, builtin_lab_pairs, builtin_pairs, lab_pairs

TX_EXPERIMENTS = [e for e in EXPERIMENTS if e.kind == "translation"]


@pytest.fixture(scope="module")
def pairs():
    return builtin_lab_pairs()


@pytest.fixture
def few_tested(monkeypatch, pairs):
    """Test on 12 sentences instead of 68: the same code, a fraction of the decoding time."""
    monkeypatch.setattr(pairs.splits, "test", pairs.splits.test[:12])
    return pairs


def test_the_built_in_pairs_need_word_order():
    english = dict(builtin_pairs())
    assert english["The dog likes the cat."] == "Le chien aime le chat."
    assert english["The cat likes the dog."] == "Le chat aime le chien."
    assert english["I love the apple."] == "J'adore la pomme."
    assert english["We call the car."] == "Nous appelons la voiture."
    assert len(english) == len(builtin_pairs())  # no English sentence twice


def test_without_the_shared_pairs_the_lab_says_it_uses_the_built_in_ones(monkeypatch, tmp_path):
    monkeypatch.setenv("KQV_DATA_DIR", str(tmp_path))
    data = lab_pairs()
    assert data.source.startswith("the built-in pairs") and "kqv data eng-fra" in data.source
    f = tmp_path / "pairs.txt"
    f.write_text("".join(f"{a}\t{b}\n" for a, b in builtin_pairs()[:300])
                 + "A sentence of far too many words for the lab.\tUne phrase.\n", encoding="utf-8")
    short = lab_pairs(f)
    assert short.source.startswith("pairs.txt") and short.splits.train
    assert all(len(s.split()) <= MAX_WORDS for split in ("train", "val", "test")
               for s, _ in getattr(short.splits, split))


@pytest.mark.parametrize("exp", TX_EXPERIMENTS, ids=lambda e: e.name)
@pytest.mark.slow
def test_translation_experiment_runs_end_to_end(exp, few_tested):
    events = []
    result = run_experiment(exp, few_tested, budget=6, seed=0, on_event=events.append)
    assert [v.label for v in result.variants] == [v.label for v in exp.variants]
    assert result.data == few_tested.source
    for v in result.variants:
        assert v.config["iters"] == 6 and len(v.curve) == 6 and not v.cached
        if v.diverged is None:
            for key in exp.columns:
                assert np.isfinite(v.metrics[key]), (v.label, key)
            assert 0 <= v.metrics["bleu"] <= 100 and 0 < v.metrics["distinct"] <= 1
            assert len(v.sample.split("\n")) == translation_runner.EXAMPLES and " → " in v.sample
    assert {e.label for e in events if isinstance(e, Point)} == {v.label for v in exp.variants}
    text = result.verdict
    for v in result.variants:
        if v.metrics["val_loss"] is not None:
            assert f"{v.metrics['val_loss']:.2f}" in text, (v.label, text)


def test_variants_that_differ_by_their_beam_share_one_training(few_tested):
    result = run_experiment(get_experiment("tx-beam"), few_tested, budget=5, seed=0)
    greedy, beam = result.variants
    assert greedy.curve == beam.curve and greedy.metrics["val_loss"] == beam.metrics["val_loss"]
    assert (greedy.config["beam"], beam.config["beam"]) == (1, 4)
    assert greedy.metrics["ms_per_iter"] == beam.metrics["ms_per_iter"]


@pytest.mark.slow
def test_without_cross_attention_every_sentence_gets_the_same_translation(few_tested):
    result = run_experiment(get_experiment("tx-no-cross"), few_tested, budget=40, seed=0)
    none = result.by_label["no cross-attention"]
    assert none.metrics["distinct"] == pytest.approx(1 / 12)
    assert len({line.split(" → ")[1].split("   (reference")[0] for line in none.sample.split("\n")}) == 1
    assert "1 distinct" not in result.verdict and "8.3% of the test sentences without it" in result.verdict


def fake(label, **metrics):
    base = {"train_loss": 2.0, "val_loss": 2.0, "perplexity": 7.4, "bleu": 10.0, "distinct": 0.9,
            "unigram_loss": 4.0, "ms_per_iter": 30.0, "ms_per_sentence": 5.0}
    return VariantResult(label, {"iters": 800}, {**base, **metrics}, sample="Go. → Va !")


def test_norm_warmup_names_the_variant_that_did_not_train():
    exp = get_experiment("tx-norm-warmup")
    r = {"post-LN": fake("post-LN", val_loss=2.6),
         "post-LN, no warm-up": fake("post-LN, no warm-up", val_loss=3.9),
         "pre-LN": fake("pre-LN", val_loss=2.7),
         "pre-LN, no warm-up": fake("pre-LN, no warm-up", val_loss=3.1)}
    text = exp.verdict(r)
    assert "post-LN, no warm-up did not train" in text and "only post-LN failed" in text
    assert "pre-LN, no warm-up did not train" not in text
    r["pre-LN, no warm-up"] = fake("pre-LN, no warm-up", val_loss=3.9)
    text = exp.verdict(r)
    assert "pre-LN, no warm-up did not train" in text and "only post-LN failed" not in text


def test_smoothing_verdict_follows_the_numbers():
    exp = get_experiment("tx-smoothing")
    paper = exp.verdict({"ε = 0.1": fake("ε = 0.1", perplexity=9.0, bleu=12.0),
                         "ε = 0": fake("ε = 0", perplexity=8.0, bleu=10.0)})
    assert "That is the paper's finding" in paper
    other = exp.verdict({"ε = 0.1": fake("ε = 0.1", perplexity=8.0, bleu=10.0),
                         "ε = 0": fake("ε = 0", perplexity=8.0, bleu=10.2)})
    assert "paper's finding" not in other and "does not show the higher perplexity" in other


def test_cli_runs_a_translation_experiment_on_given_pairs(tmp_path, monkeypatch):
    monkeypatch.setattr(translation_runner, "EXAMPLES", 2)
    f = tmp_path / "pairs.txt"
    f.write_text("".join(f"{a}\t{b}\n" for a, b in builtin_pairs()[:120]), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["lab", "run", "tx-smoothing", "--iters", "3", "--json", "--pairs", str(f)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["budget_unit"] == "iterations" and doc["data"].startswith("pairs.txt")
    assert [v["label"] for v in doc["variants"]] == ["ε = 0.1", "ε = 0"]
    shown = runner.invoke(app, ["lab", "run", "tx-smoothing", "--iters", "3", "--pairs", str(f)])
    assert shown.exit_code == 0 and "ε = 0 translates:" in shown.output and "cached" in shown.output
    builtin = runner.invoke(app, ["lab", "run", "tx-smoothing", "--iters", "2", "--json",
                                  "--pairs", "builtin"])
    assert json.loads(builtin.stdout)["data"].startswith("the built-in pairs")
    # tx-no-positions asks a question the built-in pairs answer: they are its default
    order = runner.invoke(app, ["lab", "run", "tx-no-positions", "--iters", "2", "--json"])
    assert json.loads(order.stdout)["data"] == builtin_lab_pairs().source
    listed = runner.invoke(app, ["lab"])
    assert "Translation Transformer" in listed.output and "tx-no-cross" in listed.output


def test_examples_show_the_first_sentences_then_the_mistakes_with_a_reference():
    sources = [f"s{i}" for i in range(8)]
    refs = [[f"r{i}"] for i in range(8)]
    hyps = ["r0", "x1", "r2", "r3", "x4", "r5", "x6", "x7"]
    lines = translation_runner.examples(sources, hyps, refs, k=4).split("\n")
    assert lines == ["s0 → r0", "s1 → x1   (reference: r1)", "s4 → x4   (reference: r4)",
                     "s6 → x6   (reference: r6)"]
    assert translation_runner.examples(sources[:3], ["r0", "r1", "r2"], refs[:3], k=4).count("\n") == 2
