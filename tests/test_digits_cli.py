"""`kqv train digits`, `kqv eval digits` and `kqv trace digits` through typer's runner."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import MNIST_DIR, needs_mnist
from engine.files.checkpoint import save_checkpoint
from kqv_cli.cli import app

runner = CliRunner()

FAST = ["--synthetic", "--limit", "2000", "--epochs", "2", "--batch-size", "20"]


def invoke(*args):
    return runner.invoke(app, list(args))


def test_version_and_help():
    assert invoke("--version").output.startswith("kqv ")
    for group in ("train", "eval", "trace"):
        result = invoke(group, "digits", "--help")
        assert result.exit_code == 0 and "digits" in result.output


def test_train_json_reports_every_epoch_and_saves(tmp_path):
    out = tmp_path / "net.npz"
    result = invoke("train", "digits", *FAST, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2]
    assert summary["sizes"] == [784, 30, 10]
    assert "synthetic" in summary["data"]
    assert 0.3 < summary["test_accuracy"] <= 1.0  # learned well beyond chance (0.1)
    assert set(summary["epochs"][0]) == {"epoch", "eta", "seconds", "train_cost", "validation_accuracy",
                                         "test_accuracy"}
    ev = invoke("eval", "digits", str(out), "--synthetic", "--json")
    assert ev.exit_code == 0, ev.output
    report = json.loads(ev.output)
    assert report["test_accuracy"] == pytest.approx(summary["test_accuracy"])
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == report["total"]


def test_train_prints_epochs_and_chart():
    result = invoke("train", "digits", *FAST)
    assert result.exit_code == 0, result.output
    assert "epoch   1" in result.output and "epoch   2" in result.output
    assert "synthetic digits" in result.output
    assert "accuracy per epoch" in result.output
    assert "/ 10,000 (" in result.output
    assert "No checkpoint written (no --out given)" in result.output  # issue 24: it says so


def test_eval_prints_confusion_matrix(tmp_path):
    out = tmp_path / "net.npz"
    assert invoke("train", "digits", *FAST, "--out", str(out), "--json").exit_code == 0
    result = invoke("eval", "digits", str(out), "--synthetic")
    assert result.exit_code == 0, result.output
    assert "confusion matrix" in result.output and "Test accuracy" in result.output


def test_eval_says_when_an_old_checkpoint_meant_log_likelihood(tmp_path):
    from engine.digits.network import Network

    net = Network([784, 30, 10], cost="log-likelihood", seed=0)
    old_meta = {**{k: v for k, v in net.meta().items() if k != "output"}, "cost": "cross-entropy"}
    save_checkpoint(tmp_path / "old.npz", net.to_arrays(), old_meta)
    result = invoke("eval", "digits", str(tmp_path / "old.npz"), "--synthetic")
    assert result.exit_code == 0, result.output
    assert "log-likelihood cost" in result.output
    assert "saved by an older kqv as 'cross-entropy'" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "784,30"], "the last 10"),
        (["--sizes", "100,30,10"], "the first layer must be 784"),
        (["--sizes", "784,x,10"], "whole numbers"),
        (["--sizes", "784,0,10"], "positive"),
        (["--epochs", "0"], "must all be positive"),
        (["--batch-size", "-1"], "must all be positive"),
        (["--eta", "0"], "must all be positive"),
        (["--cost", "hinge"], "cost must be one of"),
        (["--activation", "tanh"], "activation must be one of"),
        (["--limit", "0"], "--limit"),
        (["--out", "/nonexistent-dir/net.npz"], "does not exist"),
        (["--out", "net.txt"], ".npz"),
        (["--data", "/nonexistent-mnist"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, message):
    source = [] if "--data" in args else ["--synthetic"]
    result = invoke("train", "digits", *source, "--epochs", "1", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_eval_refuses_foreign_and_missing_checkpoints(tmp_path):
    save_checkpoint(tmp_path / "gpt.npz", {"wte": np.zeros((3, 2))}, {"kind": "gpt"})
    result = invoke("eval", "digits", str(tmp_path / "gpt.npz"), "--synthetic")
    assert result.exit_code == 2 and "not a digits one" in result.output
    result = invoke("eval", "digits", str(tmp_path / "none.npz"), "--synthetic")
    assert result.exit_code == 2 and "no checkpoint" in result.output
    save_checkpoint(tmp_path / "small.npz", {"w2": np.zeros((2, 4)), "b2": np.zeros((2, 1))},
                    {"kind": "digits", "sizes": [4, 2]})
    result = invoke("eval", "digits", str(tmp_path / "small.npz"), "--synthetic")
    assert result.exit_code == 2 and "does not fit the digits" in result.output


def test_offline_without_mnist_names_the_ways_out(monkeypatch):
    import engine.data.mnist

    monkeypatch.setattr(engine.data.mnist, "MNIST_MIRRORS", ["http://127.0.0.1:9/"])
    result = invoke("train", "digits", "--epochs", "1", "--json")
    assert result.exit_code == 2
    for way in ("kqv data mnist", "--data", "--synthetic"):
        assert way in result.output


def test_trace_shows_every_variable_with_its_shape():
    result = invoke("trace", "digits", "--sizes", "784,30,10", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    for name, shape in [("z2", "(30, 10)"), ("delta3", "(10, 10)"), ("nabla_w2", "(30, 784)"),
                        ("b2", "(30, 1)")]:
        line = next(ln for ln in result.output.splitlines() if f" {name} " in f" {ln} ")
        assert shape in line, line
    assert "(n2, m)" in result.output and "update" in result.output


def test_trace_says_synthetic_digits_where_no_mnist_is_found():
    result = invoke("trace", "digits", "--batch-size", "3")
    assert result.exit_code == 0, result.output
    first = " ".join(result.output.split())  # the console wraps the first line
    assert "on 3 synthetic digits (no MNIST found: `kqv data mnist` fetches it, --data DIR names it)" in first


@needs_mnist
@pytest.mark.parametrize("how", ["--data", "KQV_DATA_DIR"])
def test_trace_uses_mnist_where_found_and_says_so(how):
    args = ["--data", str(MNIST_DIR)] if how == "--data" else []
    env = {"KQV_DATA_DIR": str(MNIST_DIR)} if how == "KQV_DATA_DIR" else {}
    result = runner.invoke(app, ["trace", "digits", "--batch-size", "3", *args], env=env)
    assert result.exit_code == 0, result.output
    first = " ".join(result.output.split())
    assert f"on 3 training images of MNIST ({MNIST_DIR})" in first and "synthetic" not in first
    forced = runner.invoke(app, ["trace", "digits", "--batch-size", "3", "--synthetic", *args], env=env)
    assert forced.exit_code == 0 and "on 3 synthetic digits;" in " ".join(forced.output.split())


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data", "/nonexistent-mnist"], "does not exist"),
        (["--data", "{tmp}"], "lacks train-images-idx3-ubyte"),
        (["--data", "{tmp}", "--sizes", "4,3,2"], "does not fit the digits"),
    ],
)
def test_trace_data_errors_are_one_line_and_exit_2(tmp_path, args, message):
    result = invoke("trace", "digits", *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_trace_with_other_sizes_uses_random_input():
    result = invoke("trace", "digits", "--sizes", "4,3,2", "--batch-size", "5", "--values")
    assert result.exit_code == 0, result.output
    assert "random inputs" in result.output and "(3, 5)" in result.output


@needs_mnist
@pytest.mark.slow
def test_real_mnist_short_run_beats_90_percent():
    result = invoke("train", "digits", "--data", str(MNIST_DIR), "--limit", "10000",
                    "--epochs", "2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["data"].startswith("MNIST")
    assert summary["test_accuracy"] > 0.90


@pytest.mark.slow
def test_ctrl_c_stops_after_the_mini_batch_and_keeps_the_checkpoint(tmp_path):
    """A real SIGINT to a real process: exit 130, one line saying where the checkpoint is."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "net.npz"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kqv_cli", "train", "digits", "--synthetic", "--limit", "5000",
         "--epochs", "200", "--batch-size", "10", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    for line in proc.stdout:  # wait for the first finished epoch, then interrupt the second
        if line.startswith("epoch   1"):
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert "interrupted (Ctrl-C)" in stderr and str(out) in stderr
    from engine.digits.network import load_network

    net, meta = load_network(out)
    assert net.sizes == [784, 30, 10] and meta["epochs_done"] >= 1


def test_a_diverging_run_stops_with_the_likely_cause_and_writes_no_diverged_weights(tmp_path):
    result = invoke("train", "digits", "--synthetic", "--limit", "500", "--epochs", "2",
                    "--activation", "relu", "--cost", "cross-entropy", "--eta", "1e20",
                    "--out", str(tmp_path / "bad.npz"))
    assert result.exit_code == 2, result.output
    assert "nan" in result.output and "--eta" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "bad.npz").exists()  # the diverged epoch was never saved


def test_out_naming_a_folder_or_an_earlier_checkpoint_is_refused_before_training(tmp_path):
    folder = tmp_path / "d.npz"
    folder.mkdir()
    result = runner.invoke(app, ["train", "digits", "--synthetic", "--limit", "50", "--out", str(folder)])
    assert result.exit_code == 2 and "is a folder" in result.output and "epoch" not in result.output
    earlier = tmp_path / "earlier.npz"
    earlier.write_bytes(b"someone's work")
    result = runner.invoke(app, ["train", "digits", "--synthetic", "--limit", "50", "--out", str(earlier)])
    assert result.exit_code == 2 and "--force" in result.output and earlier.read_bytes() == b"someone's work"


@pytest.mark.parametrize("columns", [80, 120])
def test_trace_values_never_cut_a_number(columns):
    """At 80 columns the values once printed w2's max as 0.1 (0.141 cut short): every min, mean
    and max must appear whole, at any width."""
    from engine.digits.network import Network
    from engine.trace import Tracer

    result = runner.invoke(app, ["trace", "digits", "--sizes", "784,30,10", "--batch-size", "10",
                                 "--values"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    heading, *table = result.output.splitlines()  # piped, the heading is one line (issue 24)
    assert max(len(line) for line in table) <= columns and "One training step" in heading
    assert "0.141" in result.output  # what the command's own run records (seed 0) ...
    net = Network([784, 30, 10], seed=0)
    tracer = Tracer(dims={"n1": 784, "n2": 30, "n3": 10, "m": 10})
    net.backprop_batch(np.zeros((784, 10)), np.zeros((10, 10)), tracer)
    for r in tracer.records:  # ... and the parameters' ranges, fixed by the seed
        if r.name in ("w2", "w3"):
            for x in (r.value.min(), r.value.max()):
                assert f"{x:.3g}" in result.output, (r.name, f"{x:.3g}")
