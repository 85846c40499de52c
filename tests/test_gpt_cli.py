"""`kqv train gpt`, `kqv sample` and `kqv trace gpt` through typer's runner."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.files.checkpoint import save_checkpoint
from kqv_cli.cli import app

runner = CliRunner()

TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 30)
SMALL = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
         "--eval-interval", "5", "--eval-iters", "2", "--threads", "1"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture
def trained(tmp_path, text):
    out = tmp_path / "g.npz"
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "10", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def test_train_json_and_checkpoint(trained):
    out, report = trained
    assert out.is_file()
    assert {"iters", "train_loss", "val_loss", "ms_per_iter", "params", "evals"} <= set(report)
    assert report["iters"] == 10 and [e["iter"] for e in report["evals"]] == [0, 5, 10]
    assert report["val_loss"] == report["evals"][-1]["val_loss"]


def test_train_prints_progress_evals_and_a_chart(tmp_path, text):
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "10", "--out", tmp_path / "g.npz")
    assert result.exit_code == 0, result.output
    assert "iter    10  train" in result.output and "val" in result.output
    assert "loss per iteration" in result.output  # the plotext chart
    assert "kqv sample" in result.output


def test_resume_continues_from_the_checkpoint(trained, text):
    out, _ = trained
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "15", "--resume", out,
                    "--out", out, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["iters"] == 15 and [e["iter"] for e in report["evals"]] == [0, 5, 10, 15]


def test_sample_streams_reproducibly(trained):
    out, _ = trained
    a = invoke("sample", out, "--prompt", "the ", "--tokens", "40", "--seed", "3")
    b = invoke("sample", out, "--prompt", "the ", "--tokens", "40", "--seed", "3")
    assert a.exit_code == 0, a.output
    assert a.output == b.output and a.output.startswith("the ") and len(a.output) == 4 + 40 + 1


@pytest.mark.parametrize(
    "args, words",
    [
        (["--prompt", "ROMEO:"], "'E', 'M', 'O', 'R'"),
        (["--prompt", ""], "--prompt is empty"),
        (["--temperature", "0"], "temperature must be above 0"),
        (["--top-k", "0"], "top-k must be at least 1"),
        (["--tokens", "0"], "--tokens must be a positive"),
    ],
)
def test_sample_bad_input(trained, args, words):
    out, _ = trained
    result = invoke("sample", out, *args)
    assert result.exit_code == 2, result.output
    assert words in result.output and len(result.output.strip().splitlines()) == 1


def test_sample_and_resume_refuse_foreign_checkpoints(tmp_path, text, trained):
    digits = tmp_path / "digits.npz"
    save_checkpoint(digits, {"w2": np.zeros((2, 4))}, {"kind": "digits", "sizes": [4, 2]})
    for args in (["sample", digits], ["train", "gpt", "--text", text, *SMALL, "--resume", digits]):
        result = invoke(*args)
        assert result.exit_code == 2 and "not a gpt one" in result.output
        assert len(result.output.strip().splitlines()) == 1
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    out, _ = trained
    result = invoke("train", "gpt", "--text", other, *SMALL, "--resume", out, "--out", tmp_path / "x.npz")
    assert result.exit_code == 2 and "another vocabulary" in result.output
    result = invoke("sample", tmp_path / "missing.npz")
    assert result.exit_code == 2 and "no checkpoint" in result.output


def test_a_missing_resume_with_force_over_an_existing_out_is_one_line(tmp_path, text, trained):
    out, _ = trained  # --out names a file that exists; --resume names one that does not
    before = out.read_bytes()
    result = invoke("train", "gpt", "--text", text, *SMALL, "--resume", tmp_path / "nope.npz",
                    "--out", out, "--force")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no checkpoint at" in errors[0]
    assert out.read_bytes() == before  # nothing trained, nothing replaced


def test_sample_refuses_a_checkpoint_whose_vocabulary_does_not_fit_its_weights(tmp_path, trained):
    from engine.files.checkpoint import load_checkpoint

    out, _ = trained
    arrays, meta = load_checkpoint(out, "gpt")
    meta["vocab"] = meta["vocab"] + "XYZ"  # three more characters than wte has rows
    meta["model"]["vocab_size"] += 3
    meta.pop("format_version")
    bad = tmp_path / "bad.npz"
    save_checkpoint(bad, arrays, meta)
    result = invoke("sample", bad)
    assert result.exit_code == 2 and "wte" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_sample_default_prompt(trained):
    out, _ = trained
    result = invoke("sample", out, "--tokens", "5", "--seed", "1")
    assert result.exit_code == 0 and result.output.startswith("\n")


@pytest.mark.parametrize(
    "content, args, words",
    [
        (b"", [], "is empty"),
        (b"caf\xe9 au lait " * 20, [], "not UTF-8"),
        (b"short text, forty characters long, no more", [], "too short for block_size=16"),
        (TEXT.encode(), ["--n-embd", "30", "--n-head", "4"], "not divisible by n_head"),
        (TEXT.encode(), ["--n-layer", "0"], "n_layer must be a positive"),
        (TEXT.encode(), ["--block-size", "0"], "--block-size must be a positive"),
        (TEXT.encode(), ["--batch-size", "-1"], "batch-size must be a positive"),
        (TEXT.encode(), ["--max-iters", "0"], "max-iters must be a positive"),
        (TEXT.encode(), ["--out", "model.txt"], ".npz"),
        (TEXT.encode(), ["--threads", "many"], "--threads takes auto"),
        (TEXT.encode(), ["--min-lr", "0.01"], "min-lr must be between 0 and lr (0.002)"),
        (TEXT.encode(), ["--min-lr", "-1e-4"], "min-lr must be between 0 and lr"),
        (TEXT.encode(), ["--warmup-iters", "-5"], "warmup-iters must be 0 or more"),
        (TEXT.encode(), ["--threads", "3"], "--threads takes auto, 1 or 2"),
    ],
)
def test_train_bad_input_is_one_line_and_exit_2(tmp_path, content, args, words):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    result = invoke("train", "gpt", "--text", path, *SMALL, "--out", tmp_path / "g.npz", *args)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_a_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path, text):
    out = tmp_path / "g.npz"
    good = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "5", "--out", out, "--json")
    assert good.exit_code == 0
    before = out.read_bytes()
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "30", "--lr", "1e30",
                    "--out", out, "--force", "--json")
    assert result.exit_code == 2, result.output
    assert "loss became nan" in result.output and "try a lower --lr" in result.output
    assert f"{out} was left as it was" in result.output
    note, error = result.stderr.strip().splitlines()  # the --force note before training, the error
    assert note.startswith("note: --force") and error.startswith("error:")
    assert out.read_bytes() == before  # the diverged weights never overwrote it


def test_missing_text_file(tmp_path):
    result = invoke("train", "gpt", "--text", tmp_path / "nope.txt", *SMALL)
    assert result.exit_code == 2 and "no text file" in result.output


def test_offline_without_shakespeare_names_the_ways_out(monkeypatch, tmp_path):
    import engine.data.shakespeare

    monkeypatch.setattr(engine.data.shakespeare, "SHAKESPEARE_URLS", ["http://127.0.0.1:9/input.txt"])
    result = invoke("train", "gpt", *SMALL, "--out", tmp_path / "g.npz", "--json")
    assert result.exit_code == 2, result.output
    assert "--text" in result.output and "kqv data shakespeare" in result.output


def test_trace_prints_every_variable_with_matching_shapes(text):
    args = ["trace", "gpt", "--text", str(text), "--block-size", "8", "--batch-size", "3",
            "--n-layer", "1", "--n-head", "2", "--n-embd", "16"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for line in ["h0.att_scores  (3, 2, 8, 8)", "h0.q  (3, 2, 8, 8)", "logits  (3, 8, "]:
        name, shape = line.split("  ")
        assert any(name in row and shape in row for row in result.output.splitlines()), line
    assert "(B, nh, T, T)" in result.output and "dlogits" in result.output
    for formula in ("wte[idx]", "−log p[target]", "Σ_b dx[b]"):  # brackets are not read as markup
        assert formula in result.output, formula
    bad = invoke("trace", "gpt", "--text", text, "--n-embd", "10", "--n-head", "3")
    assert bad.exit_code == 2 and "not divisible" in bad.output


def test_the_schedule_flags_reach_the_run_and_its_checkpoint(tmp_path, text):
    from engine.files.checkpoint import load_checkpoint

    out = tmp_path / "g.npz"
    args = ("train", "gpt", "--text", text, *SMALL, "--max-iters", "4", "--out", out, "--json")
    plain = json.loads(invoke(*args).output)
    _, meta = load_checkpoint(out, "gpt")
    assert (meta["train"]["lr"], meta["train"]["min_lr"]) == (2e-3, 2e-4)  # the default: lr/10
    no_warmup = json.loads(invoke(*args, "--warmup-iters", "0", "--min-lr", "2e-4", "--force").stdout)
    _, meta = load_checkpoint(out, "gpt")
    assert meta["train"]["warmup_iters"] == 0 and meta["train"]["min_lr"] == 2e-4
    # same seed, same first batch: the first loss is equal, then a full-size first step
    # (no warm-up) moves the weights further than lr/101 does, so the losses part ways
    assert plain["evals"][0] == no_warmup["evals"][0]
    assert plain["train_loss"] != no_warmup["train_loss"]


def test_resume_says_which_typed_flags_the_checkpoint_overrides(trained, text):
    out, _ = trained
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "12", "--resume", out,
                    "--out", out, "--json", "--lr", "0.01", "--n-embd", "32", "--seed", "7", "--no-bias")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["iters"] == 12  # the model it resumed is the saved one
    note = result.stderr.strip()
    assert len(note.splitlines()) == 1 and f"{out} keeps the settings it was trained with" in note
    for flag in ("--lr 0.01 (saved: --lr 0.002)", "--n-embd 32 (saved: --n-embd 16)",
                 "--seed 7 (saved: --seed 1337)", "--no-bias (saved: --bias)"):
        assert flag in note
    assert "--block-size" not in note  # typed, but the same as the checkpoint's


def test_an_existing_checkpoint_is_never_replaced_without_force(trained, text):
    out, _ = trained
    before = out.read_bytes()
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "3", "--out", out)
    assert result.exit_code == 2 and "already exists" in result.output and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert out.read_bytes() == before
    forced = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "3", "--out", out, "--force")
    assert forced.exit_code == 0 and "will be replaced" in forced.stderr and out.read_bytes() != before


def test_out_naming_a_folder_is_refused_before_training(tmp_path, text):
    folder = tmp_path / "models.npz"
    folder.mkdir()
    result = invoke("train", "gpt", "--text", text, *SMALL, "--max-iters", "3", "--out", folder)
    assert result.exit_code == 2 and "is a folder" in result.output and "iter" not in result.output


def test_a_nan_after_resuming_into_another_file_names_only_files_that_exist(trained, text):
    from engine.data.text import TextData
    from engine.errors import TrainingDiverged
    from engine.gpt.train import GPTTrainer, TrainConfig

    source, _ = trained
    other = source.with_name("other.npz")
    data = TextData.from_file(text, 16)
    trainer = GPTTrainer(data, None, TrainConfig(max_iters=30), out=other, resume=source)
    with pytest.raises(TrainingDiverged) as diverged:
        trainer._diverged(float("nan"))
    named = [w.strip(";,()") for w in str(diverged.value).split() if w.strip(";,()").endswith(".npz")]
    assert all(Path(p).exists() for p in named), str(diverged.value)


def test_a_tiny_temperature_is_greedy_not_nan():
    from engine.gpt.sampling import sample_next

    logits = np.array([1.0, 3.0, 2.0, -5.0], dtype=np.float32)
    rng = np.random.default_rng(0)
    assert {sample_next(logits, 1e-300, None, rng) for _ in range(20)} == {1}
    assert {sample_next(logits, 1e-300, 2, rng) for _ in range(20)} == {1}


def test_the_thread_counts_say_they_count_iterations():
    # issue 24: "(88 on 1 thread, 12 on 2 threads)" did not say 88 of what
    from kqv_cli.messages import threads_used

    assert threads_used({1: 88, 2: 12}) == "88 iterations ran on 1 thread, 12 on 2 threads"
    assert threads_used({2: 1}) == "1 iteration ran on 2 threads"
