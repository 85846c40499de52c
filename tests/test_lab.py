"""The what-if lab: every GPT variant gradient-checked, every experiment run end to end on a
tiny budget, verdicts that follow the numbers, the result cache, and ``kqv lab`` on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_gpt_layers import numerical_grad, rel_err
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.data.synthetic_digits import load_synthetic
from engine.data.text import TextData
from engine.errors import KqvError
from engine.gpt.model import GPT, GPTConfig
from kqv_cli.cli import app
from kqv_cli.lab import (
    EXPERIMENTS,
    METRICS,
    Point,
    VariantDone,
    VariantResult,
    get_experiment,
    run_experiment,
    verdicts,
)
from kqv_cli.lab import runner as lab_runner
from kqv_cli.lab.cache import lab_cache_dir

WORDS = "the cat sat on a mat and a dog ran to the red door while we sang of kings".split()
GPT_EXPERIMENTS = [e for e in EXPERIMENTS if e.kind == "gpt"]
DIGIT_EXPERIMENTS = [e for e in EXPERIMENTS if e.kind == "digits"]


def tiny_text(n_chars: int = 12_000, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    out, size = [], 0
    while size < n_chars:
        line = " ".join(rng.choice(WORDS, rng.integers(3, 9))) + ".\n"
        out.append(line)
        size += len(line)
    return "".join(out)


@pytest.fixture
def small_runs(monkeypatch):
    """Measure on fewer windows and shorter samples: the same code, a fraction of the time."""
    monkeypatch.setattr(lab_runner, "SAMPLE_CHARS", 24)
    monkeypatch.setattr(lab_runner, "PROBE_WINDOWS", 16)
    monkeypatch.setitem(lab_runner.GPT_TRAIN, "eval_iters", 2)


@pytest.fixture(scope="module")
def text_data():
    return TextData.from_text(tiny_text(), 32, "tiny test text")


@pytest.fixture(scope="module")
def digits():
    return load_synthetic(seed=0, n_train=400, n_validation=200, n_test=0)


# -- every variant is the one model with a switch, and its gradient is right ---------------


def variant_switches():
    """Each distinct set of GPT switches the lab uses (the sizes left out: tiny dims here)."""
    seen, out = set(), []
    for e in GPT_EXPERIMENTS:
        for v in e.variants:
            sw = {k: val for k, val in {**e.base, **v.changes}.items() if k not in ("n_layer", "block_size",
                                                                                   "n_embd")}
            key = json.dumps(sw, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(pytest.param(sw, id=f"{e.name}:{v.label}"))
    return out


@pytest.mark.parametrize("switches", variant_switches())
def test_every_gpt_variant_has_a_correct_gradient(switches):
    cfg = GPTConfig(vocab_size=5, block_size=4, n_layer=1, n_embd=8, **{"n_head": 2, **switches})
    model = GPT(cfg, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    model.flat_params[...] = rng.standard_normal(model.flat_params.size) * 0.3
    idx, targets = rng.integers(0, 5, (2, 4)), rng.integers(0, 5, (2, 4))
    model.forward(idx, targets)
    model.backward()
    numeric = numerical_grad(lambda: model.forward(idx, targets)[1], model.flat_params)
    assert rel_err(model.flat_grads, numeric) < 1e-5


def test_the_flipped_mask_lets_a_position_see_the_next_character():
    """What the mask experiment is about: under "flipped", logits at t change with the token at t+1."""
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 11, (1, 8))
    for mask, sees_future in (("causal", False), ("flipped", True), ("none", True)):
        model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, mask=mask), seed=3)
        base, _ = model.forward(idx)
        changed = idx.copy()
        changed[0, 4] = (changed[0, 4] + 1) % 11
        logits, _ = model.forward(changed)
        assert (not np.allclose(logits[0, 3], base[0, 3])) == sees_future, mask


# -- each experiment end to end --------------------------------------------------------------


@pytest.mark.parametrize("exp", GPT_EXPERIMENTS, ids=lambda e: e.name)
def test_gpt_experiment_runs_end_to_end(exp, text_data, small_runs):
    events = []
    result = run_experiment(exp, text_data, budget=3, seed=1, on_event=events.append)
    assert [v.label for v in result.variants] == [v.label for v in exp.variants]
    for v in result.variants:
        assert v.config["iters"] == 3 and len(v.curve) == 3 and not v.cached
        for key in exp.columns:
            assert np.isfinite(v.metrics[key]), (v.label, key)
        assert 0 <= v.metrics["entropy"] <= v.metrics["entropy_uniform"] + 1e-4  # float32 rounding
        assert len(v.sample) == 24
    assert {e.label for e in events if isinstance(e, Point)} == {v.label for v in exp.variants}
    assert sum(isinstance(e, VariantDone) for e in events) == len(exp.variants)
    check_verdict_quotes_the_numbers(result)


@pytest.mark.parametrize("exp", DIGIT_EXPERIMENTS, ids=lambda e: e.name)
def test_digit_experiment_runs_end_to_end(exp, digits):
    result = run_experiment(exp, digits, budget=1, seed=0)
    for v in result.variants:
        assert v.config["epochs"] == 1
        assert v.curve[0][0] == 0.0 and v.curve[-1][0] == pytest.approx(1.0)
        if v.diverged is None:
            assert 0.0 <= v.metrics["accuracy"] <= 1.0
    check_verdict_quotes_the_numbers(result)


def check_verdict_quotes_the_numbers(result):
    """Every number the verdict cites for a variant is that variant's measured number."""
    text = result.verdict
    assert text
    exp = result.experiment
    key = {"gpt": "val_loss", "digits": "accuracy"}[exp.kind]
    if exp.name in ("flipped-mask",):
        key = "train_loss"
    if exp.name == "no-scale":
        key = "entropy"
    for v in result.variants:
        value = v.metrics[key]
        if value is None:
            continue
        shown = {"val_loss": f"{value:.3f}", "train_loss": f"{value:.2f}", "entropy": f"{value:.2f}",
                 "accuracy": f"{value:.1%}"}[key]
        assert shown in text, (v.label, shown, text)


# -- verdicts follow the numbers -------------------------------------------------------------


def fake(label, iters=600, **metrics):
    config = {"iters": iters, "n_embd": 64, "n_head": 1, "n_layer": 2, "eta": 3.0, "epochs": 3,
              "sizes": [784, 30, 10]}
    return VariantResult(label, config, metrics, seconds=1.0)


def test_compare_words():
    assert verdicts.compare(1.0, 2.0, 0.1) == "lower than"
    assert verdicts.compare(2.0, 1.0, 0.1) == "higher than"
    assert verdicts.compare(1.0, 1.05, 0.1) == "about the same as"


def test_flipped_mask_verdict_says_what_the_numbers_say():
    common = {"entropy": 1.0, "entropy_uniform": 2.0}
    cheat = {"causal": fake("causal", train_loss=2.1, val_loss=2.1, next_loss=2.1, words=5.2, **common),
             "flipped": fake("flipped", train_loss=0.1, val_loss=0.1, next_loss=3.5, words=0.3, **common),
             "none": fake("none", train_loss=0.2, val_loss=0.2, next_loss=2.9, words=1.0, **common)}
    text = get_experiment("flipped-mask").verdict(cheat)
    assert "collapses" in text and "the flipped model's 3.50 (higher than the causal model's 2.10)" in text
    assert "hold 0.3 and 1.0 real words per 100 characters, against 5.2" in text
    honest = {k: fake(k, train_loss=2.5, val_loss=2.5, next_loss=2.5, words=0.3, **common) for k in cheat}
    text = get_experiment("flipped-mask").verdict(honest)
    assert "the loss collapses" not in text and "has learned to copy the next character yet" in text


@pytest.mark.parametrize("worse", [True, False])
def test_squared_dot_verdict_direction(worse):
    r = {"standard": fake("standard", train_loss=2.0, val_loss=2.0),
         "squared": fake("squared", train_loss=2.0, val_loss=2.3 if worse else 2.01)}
    text = get_experiment("squared-dot").verdict(r)
    assert ("higher than the standard 2.000" in text) == worse
    assert ("about the same as the standard" in text) == (not worse)


def test_no_scale_verdict_reads_the_entropy():
    r = {"scaled": fake("scaled", entropy=1.8, entropy_uniform=2.5, val_loss=2.2),
         "unscaled": fake("unscaled", entropy=0.6, entropy_uniform=2.5, val_loss=2.2)}
    text = get_experiment("no-scale").verdict(r)
    assert "0.60 nats without the scale and 1.80 with it" in text and "one-hot" in text
    r["unscaled"].metrics["entropy"] = 1.8
    assert "one-hot" not in get_experiment("no-scale").verdict(r)


def test_learning_rate_verdict_recognises_saturation():
    r = {"η = 0.1": fake("η = 0.1", first_tenth=0.45, accuracy=0.92, train_cost=0.08),
         "η = 3.0": fake("η = 3.0", first_tenth=0.82, accuracy=0.956, train_cost=0.04),
         "η = 100": fake("η = 100", first_tenth=0.09, accuracy=0.099, train_cost=0.5)}
    text = get_experiment("learning-rate").verdict(r)
    assert "stuck at 0.500" in text and "about chance" in text and "still climbing" in text


def test_a_diverged_variant_is_named_not_compared():
    r = {"standard": fake("standard", train_loss=2.0, val_loss=2.0),
         "squared": VariantResult("squared", {"iters": 5}, {"train_loss": None, "val_loss": None},
                                  diverged="the loss became nan at iteration 3")}
    text = get_experiment("squared-dot").verdict(r)
    assert "squared diverged (the loss became nan at iteration 3)" in text


def test_every_column_has_a_header():
    for e in EXPERIMENTS:
        assert set(e.columns) <= set(METRICS), e.name
        assert len({v.label for v in e.variants}) == len(e.variants)


# -- the cache ------------------------------------------------------------------------------


def test_cache_hit_miss_and_fresh(digits):
    exp = get_experiment("hidden-neurons")
    first = run_experiment(exp, digits, budget=1)
    assert not any(v.cached for v in first.variants)
    files = sorted(lab_cache_dir().glob("*.json"))
    assert len(files) == 2 and not list(lab_cache_dir().glob(".*"))  # no temporary files left
    events = []
    again = run_experiment(exp, digits, budget=1, on_event=events.append)
    assert all(v.cached for v in again.variants)
    assert [v.metrics for v in again.variants] == [v.metrics for v in first.variants]
    assert again.verdict.split(" parameters")[0] == first.verdict.split(" parameters")[0]
    assert sum(isinstance(e, Point) for e in events) == sum(len(v.curve) for v in first.variants)
    # another seed or budget is another key: a miss
    assert not any(v.cached for v in run_experiment(exp, digits, budget=1, seed=5).variants)
    # --fresh retrains though the cache has it
    assert not any(v.cached for v in run_experiment(exp, digits, budget=1, fresh=True).variants)


def test_a_shared_baseline_is_trained_once(digits):
    """relu's sigmoid and hidden-neurons' 30 hidden are the same run: the second is a hit."""
    run_experiment(get_experiment("hidden-neurons"), digits, budget=1)
    result = run_experiment(get_experiment("relu"), digits, budget=1)
    assert [v.cached for v in result.variants] == [True, False, False]
    assert result.variants[0].label == "sigmoid"


def test_a_corrupt_cache_file_is_a_miss(digits):
    exp = get_experiment("hidden-neurons")
    run_experiment(exp, digits, budget=1)
    for f in lab_cache_dir().glob("*.json"):
        f.write_text("{not json")
    result = run_experiment(exp, digits, budget=1)
    assert not any(v.cached for v in result.variants)
    assert all(json.loads(f.read_text())["version"] for f in lab_cache_dir().glob("*.json"))


def test_a_stopped_run_caches_only_what_finished(digits):
    exp = get_experiment("learning-rate")
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 60  # partway through the second variant

    result = run_experiment(exp, digits, budget=1, should_stop=stop)
    assert result.stopped and len(result.variants) == 1 and result.verdict == ""
    assert len(list(lab_cache_dir().glob("*.json"))) == 1


def test_bad_inputs_are_one_line_errors(text_data, digits):
    with pytest.raises(KqvError, match="known: squared-dot, no-scale"):
        get_experiment("nope")
    with pytest.raises(KqvError, match="needs a text"):
        run_experiment(get_experiment("heads"), digits, budget=1)
    with pytest.raises(KqvError, match="needs \\(train, validation, test\\)"):
        run_experiment(get_experiment("relu"), text_data, budget=1)
    with pytest.raises(KqvError, match="at least 1 iterations"):
        run_experiment(get_experiment("heads"), text_data, budget=0)


# -- the CLI --------------------------------------------------------------------------------


runner = CliRunner()


def test_cli_lists_every_experiment():
    result = runner.invoke(app, ["lab"])
    assert result.exit_code == 0, result.output
    for e in EXPERIMENTS:
        assert e.name in result.output


def test_cli_run_json_on_a_tiny_budget(tmp_path: Path, small_runs):
    text = tmp_path / "t.txt"
    text.write_text(tiny_text())
    result = runner.invoke(app, ["lab", "run", "heads", "--iters", "2", "--json", "--text", str(text)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["experiment"] == "heads" and doc["budget"] == 2 and doc["budget_unit"] == "iterations"
    assert [v["label"] for v in doc["variants"]] == ["4 heads", "1 head"]
    assert f"{doc['variants'][1]['metrics']['val_loss']:.3f}" in doc["verdict"]
    again = runner.invoke(app, ["lab", "run", "heads", "--iters", "2", "--json", "--text", str(text)])
    assert all(v["cached"] for v in json.loads(again.stdout)["variants"])
    shown = runner.invoke(app, ["lab", "run", "heads", "--iters", "2", "--text", str(text)])
    assert shown.exit_code == 0 and "4 heads writes:" in shown.output and "cached" in shown.output


def test_cli_unknown_experiment_exits_2():
    result = runner.invoke(app, ["lab", "run", "squared"])
    assert result.exit_code == 2
    assert "no experiment called 'squared'" in result.output and "squared-dot" in result.output
    assert "Traceback" not in result.output


def test_cli_bad_budget_exits_2(tmp_path):
    result = runner.invoke(app, ["lab", "run", "heads", "--iters", "0"])
    assert result.exit_code == 2 and "--iters must be a positive" in result.output


def test_every_experiment_is_linked_from_a_lesson():
    from conftest import REPO

    text = "".join(p.read_text() for p in (REPO / "lessons").glob("*.md"))
    for e in EXPERIMENTS:
        assert f"`kqv lab run {e.name}`" in text, e.name


def test_kqv_lab_does_not_import_textual():
    import subprocess
    import sys

    from conftest import REPO

    code = ("import sys\nfrom typer.testing import CliRunner\nimport kqv_cli.main\n"
            "from kqv_cli.cli import app\nassert CliRunner().invoke(app, ['lab']).exit_code == 0\n"
            "assert not [m for m in sys.modules if m.startswith('textual')]\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_cache_file_of_another_shape_is_a_miss(digits):
    exp = get_experiment("hidden-neurons")
    run_experiment(exp, digits, budget=1)
    for f in lab_cache_dir().glob("*.json"):
        f.write_text(json.dumps({"version": 1, "result": {"label": "x", "unknown": 1}}))
    assert not any(v.cached for v in run_experiment(exp, digits, budget=1).variants)


@pytest.mark.parametrize("change", [
    lambda r: r.update(curve=5), lambda r: r.update(metrics={}), lambda r: r.update(metrics=[1]),
    lambda r: r.update(metrics={"accuracy": "high"}), lambda r: r.update(curve=[[1, "a"]]),
    lambda r: r.update(seconds=None), lambda r: r.update(sample=3), lambda r: r.update(diverged=7),
    lambda r: r.update(config="x"), lambda r: r.pop("curve"),
], ids=["curve 5", "empty metrics", "metrics list", "metric str", "curve point str", "seconds None",
        "sample int", "diverged int", "config str", "no curve"])
def test_a_cache_entry_of_wrong_types_is_a_miss_not_a_verdict(digits, change):
    exp = get_experiment("hidden-neurons")
    run_experiment(exp, digits, budget=1)
    for f in lab_cache_dir().glob("*.json"):
        doc = json.loads(f.read_text())
        change(doc["result"])
        f.write_text(json.dumps(doc))
    result = run_experiment(exp, digits, budget=1)
    assert not any(v.cached for v in result.variants)
    assert "no numbers" not in result.verdict


def test_a_diverged_variant_reads_diverged_in_the_tables_printed_as_text():
    """kqv's consoles print strings as they are (kqv_cli.messages): the word is styled Text,
    never a "[red]...[/]" tag that would show up literally."""
    import io

    from kqv_cli.lab.results import LabResult
    from kqv_cli.lab_table import metric_table, result_table
    from kqv_cli.messages import make_console

    variants = [fake("standard", train_loss=2.0, val_loss=2.0),
                VariantResult("squared", {"iters": 5}, {"train_loss": None, "val_loss": None},
                              diverged="the loss became nan at iteration 3")]
    result = LabResult(get_experiment("squared-dot"), 5, 0, "test text", variants)
    for table in (result_table(result, with_time=True), metric_table(result)):
        out = io.StringIO()
        make_console(file=out, width=100).print(table)
        assert "diverged" in out.getvalue() and "[red]" not in out.getvalue()


def test_a_finished_run_on_named_data_is_noted_whole_and_a_stopped_one_is_not(text_data, small_runs):
    from kqv_cli.lab import cache

    exp = get_experiment("heads")
    key = cache.run_key("heads", 2, 0, "tiny")
    assert not cache.is_cached(key)
    run_experiment(exp, text_data, budget=2, should_stop=lambda: True, data_key="tiny")  # stopped at once
    assert not cache.is_cached(key)
    run_experiment(exp, text_data, budget=2, data_key="tiny")
    assert cache.is_cached(key)
    assert not cache.is_cached(cache.run_key("heads", 3, 0, "tiny"))  # another budget
    assert not cache.is_cached(cache.run_key("heads", 2, 0, "other text"))  # other data
    next(lab_cache_dir().glob("gpt-*.json")).write_text("{oops")  # one variant's result unreadable
    assert not cache.is_cached(key)


def test_data_here_names_the_stand_ins_when_nothing_is_here():
    from kqv_cli.lab import cache

    assert cache.data_here(get_experiment("relu")) == "synthetic digits"
    assert cache.data_here(get_experiment("heads")) == "text:None"
    assert cache.data_here(get_experiment("tx-no-cross")) == "built-in pairs"
