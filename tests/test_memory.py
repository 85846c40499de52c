"""Memory: one estimate, checked before anything is allocated, whatever the sizes came from.

Flags, a crafted checkpoint, an ``.npy`` header, a gzip that expands past its IDX header: each
is refused in one line, and the peak memory measured while refusing (tracemalloc sees numpy's
allocations) stays small, so the refusal really came before the allocation.
"""

import gzip
import json
import tracemalloc
import zipfile

import numpy as np
import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.errors import KqvError
from engine.files.checkpoint import load_checkpoint, save_checkpoint
from engine.gpt.model import GPTConfig
from engine.runtime.memory import MemoryEstimate, check_fits, gpt_memory
from kqv_cli.cli import app

runner = CliRunner()
TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 30)
SMALL = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
         "--eval-interval", "5", "--eval-iters", "2", "--threads", "1"]
PEAK_LIMIT = 64 * 2**20  # refusing must cost far less than what was asked for


def refused_cheaply(args, *words):
    """Run the CLI under tracemalloc; it must refuse in one line without allocating much."""
    tracemalloc.start()
    try:
        result = runner.invoke(app, [str(a) for a in args])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and all(w in lines[0] for w in words), result.output
    assert peak < PEAK_LIMIT, f"{peak / 2**20:.0f} MB allocated before refusing"
    return lines[0]


@pytest.fixture
def text(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_check_fits_names_the_estimate_the_limit_and_the_remedy():
    estimate = MemoryEstimate({"activations": 3_000_000_000, "parameters": 1_000_000})
    with pytest.raises(KqvError) as refused:
        check_fits(estimate, "this GPT", "lower --batch-size", available=2_000_000_000)
    message = str(refused.value)
    assert "about 3.0 GB" in message and "activations 3.0 GB" in message and "2.0 GB" in message
    assert message.endswith("lower --batch-size")
    check_fits(estimate, "this GPT", "lower --batch-size", available=4_000_000_000)  # fits: no error


@pytest.mark.parametrize("flags", [
    ["--batch-size", "10000000"], ["--n-embd", "20000", "--n-head", "2"],
    ["--n-embd", "100000", "--n-head", "2"],
    ["--n-layer", "100000"], ["--n-layer", "3000", "--n-embd", "2048", "--n-head", "2"],
    ["--batch-size", "100000", "--block-size", "64"],
], ids=lambda f: " ".join(f))
def test_gpt_sizes_that_cannot_fit_are_refused_before_training(text, tmp_path, flags):
    line = refused_cheaply(["train", "gpt", "--text", text, *SMALL, *flags, "--out", tmp_path / "g.npz"],
                           "would need", "available")
    assert "--" in line.split("available")[-1]  # names the flag to change
    assert not (tmp_path / "g.npz").exists()


@pytest.mark.parametrize("args", [
    ["train", "digits", "--synthetic", "--sizes", "784,100000000,10"],
    ["train", "digits", "--synthetic", "--sizes", "784,60000,60000,10"],
    ["trace", "digits", "--sizes", "784,100000000,10"],
    ["trace", "digits", "--batch-size", "100000000"],
    ["trace", "gpt", "--n-embd", "20000", "--n-head", "2", "--n-layer", "1"],
    ["trace", "gpt", "--batch-size", "1000000", "--block-size", "8"],
], ids=lambda a: " ".join(a))
def test_other_commands_refuse_sizes_the_same_way(args):
    refused_cheaply(args, "would need", "available")


@pytest.mark.slow
def test_a_batch_bigger_than_the_data_trains_on_the_data():
    result = runner.invoke(app, ["train", "digits", "--synthetic", "--limit", "200", "--epochs", "1",
                                 "--batch-size", "10000000", "--json"])
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_the_gpt_estimate_covers_what_a_training_step_really_allocates(text):
    from engine.data.text import TextData
    from engine.gpt.train import GPTTrainer, TrainConfig

    data = TextData.from_file(text, 32)
    cfg = GPTConfig(vocab_size=data.vocab.size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    tc = TrainConfig(batch_size=8, max_iters=2, eval_interval=100, eval_iters=1, threads=1)
    tracemalloc.start()
    try:
        trainer = GPTTrainer(data, cfg, tc)
        trainer.step(threads=1)
        trainer.step(threads=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = gpt_memory(cfg, 8, training=True).total
    assert peak <= estimate <= 20 * peak, (peak, estimate)


# -- crafted checkpoints ------------------------------------------------------------------


@pytest.fixture
def gpt_checkpoint(tmp_path, text):
    out = tmp_path / "g.npz"
    result = runner.invoke(app, ["train", "gpt", "--text", str(text), *SMALL, "--max-iters", "3",
                                 "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out


def rewrite(path, tmp_path, change_meta=None, change_arrays=None, name="crafted.npz", kind="gpt"):
    arrays, meta = load_checkpoint(path, kind)
    meta.pop("format_version")
    if change_meta:
        change_meta(meta)
    if change_arrays:
        change_arrays(arrays)
    crafted = tmp_path / name
    save_checkpoint(crafted, arrays, meta)
    return crafted


@pytest.mark.parametrize("change", [
    lambda m: m["model"].update(n_embd=20000, n_head=2),
    lambda m: m["model"].update(n_layer=100000),
    lambda m: m["model"].update(block_size=10**9),
    lambda m: m["model"].update(n_embd="16"),
    lambda m: m["model"].update(n_embd=16.0),
    lambda m: m.update(model=[1, 2]),
    lambda m: m.update(vocab=m["vocab"][:-1]),
    lambda m: m.update(vocab=list(m["vocab"])),
    lambda m: m.update(vocab=m["vocab"][:-1] + m["vocab"][0]),
], ids=["n_embd 20000", "n_layer 1e5", "block_size 1e9", "n_embd str", "n_embd float", "model list",
        "vocab short", "vocab list", "vocab repeated"])
def test_a_crafted_gpt_checkpoint_is_refused_before_its_model_is_built(gpt_checkpoint, tmp_path, change):
    crafted = rewrite(gpt_checkpoint, tmp_path, change_meta=change)
    refused_cheaply(["sample", crafted, "--tokens", "3"], str(crafted))
    refused_cheaply(["train", "gpt", "--text", gpt_checkpoint.with_name("play.txt"), *SMALL,
                     "--resume", crafted, "--out", crafted, "--max-iters", "10"], str(crafted))


@pytest.mark.parametrize(("change", "words"), [
    (lambda m: m.pop("adam_t"), "adam_t"),
    (lambda m: m.update(iter=-1), "iter"),
    (lambda m: m.update(iter="3"), "iter"),
    (lambda m: m.update(iter=2.5), "iter"),
    (lambda m: m.update(evals=[{"iter": 1}]), "evaluations"),
    (lambda m: m.update(evals="none"), "evaluations"),
    (lambda m: m.update(losses=[None]), "losses"),
    (lambda m: m.update(batch_rng={"bit_generator": "PCG64", "state": 5}), "random generator"),
    (lambda m: m.update(dropout_rngs=[]), "random generators"),
    (lambda m: m["train"].update(beta1=float("nan")), "beta1"),
    (lambda m: m.update(train=None), "training settings"),
], ids=["no adam_t", "iter -1", "iter str", "iter float", "evals entry", "evals str", "losses",
        "rng state", "no dropout rngs", "beta nan", "train None"])
def test_a_damaged_resume_state_is_one_line(gpt_checkpoint, tmp_path, change, words):
    crafted = rewrite(gpt_checkpoint, tmp_path, change_meta=change)
    refused_cheaply(["train", "gpt", "--text", gpt_checkpoint.with_name("play.txt"), *SMALL,
                     "--resume", crafted, "--out", crafted, "--max-iters", "10"], words)


@pytest.mark.parametrize(("change", "words"), [
    (lambda a: a.pop("adam.m"), "AdamW"),
    (lambda a: a.update({"adam.v": a["adam.v"][:-1]}), "AdamW"),
    (lambda a: a.update(wte=a["wte"].astype(np.complex64)), "complex64"),
    (lambda a: a.update(wte=np.full_like(a["wte"], np.nan)), "NaN"),
    (lambda a: a.update({"h0.attn.c_attn.w": a["h0.attn.c_attn.w"][:, :-1]}), "parameters"),
    (lambda a: a.update(extra=np.array(["x"])), "<U1"),
], ids=["no adam.m", "short adam.v", "complex", "nan", "short weight", "strings"])
def test_stored_arrays_are_checked_against_the_metadata(gpt_checkpoint, tmp_path, change, words):
    crafted = rewrite(gpt_checkpoint, tmp_path, change_arrays=change)
    refused_cheaply(["train", "gpt", "--text", gpt_checkpoint.with_name("play.txt"), *SMALL,
                     "--resume", crafted, "--out", crafted, "--max-iters", "10"], words)


def crafted_npz(path, meta: dict, members: dict[str, bytes]):
    """An .npz written by hand: the metadata and raw .npy members (headers that may lie)."""
    blob = json.dumps({"format_version": 1, **meta}).encode()
    with zipfile.ZipFile(path, "w") as z:
        with z.open("__meta__.npy", "w") as f:
            np.lib.format.write_array(f, np.frombuffer(blob, dtype=np.uint8))
        for name, raw in members.items():
            z.writestr(f"{name}.npy", raw)
    return path


def npy_header(shape, dtype="<f4") -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    return b"\x93NUMPY\x01\x00" + (len(text) + pad + 1).to_bytes(2, "little") + text + b" " * pad + b"\n"


@pytest.mark.parametrize("shape", [(10**11,), (100000, 100000), (2**62, 4)])
def test_an_npy_header_claiming_huge_arrays_is_refused_from_the_header(tmp_path, shape):
    path = crafted_npz(tmp_path / "huge.npz", {"kind": "digits", "sizes": [784, 30, 10]},
                       {"w2": npy_header(shape) + b"\0" * 64})
    refused_cheaply(["eval", "digits", path, "--synthetic"], "huge.npz")


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    path = crafted_npz(tmp_path / "obj.npz", {"kind": "digits", "sizes": [784, 30, 10]},
                       {"w2": npy_header((1,), "|O") + b"\0" * 8})
    refused_cheaply(["eval", "digits", path, "--synthetic"], "obj.npz")


@pytest.mark.parametrize("sizes", [[784, 3000000, 10], [784, "30", 10], [784, 30.0, 10], [784], "784,30,10",
                                   [784, True, 10], [784, -30, 10], [784, 10**30, 10]],
                         ids=str)
def test_a_digits_checkpoint_with_crafted_sizes_is_refused(tmp_path, sizes):
    from engine.digits.network import Network, save_network

    good = save_network(Network([784, 30, 10], seed=0), tmp_path / "d.npz")
    crafted = rewrite(good, tmp_path, change_meta=lambda m: m.update(sizes=sizes), name="dig.npz",
                      kind="digits")
    refused_cheaply(["eval", "digits", crafted, "--synthetic"], "dig.npz")


def test_nan_weights_in_a_digits_checkpoint_are_refused_not_evaluated(tmp_path):
    from engine.digits.network import Network, save_network

    net = Network([784, 30, 10], seed=0)
    net.weights[0][3, 3] = np.nan
    path = save_network(net, tmp_path / "d.npz")
    refused_cheaply(["eval", "digits", path, "--synthetic"], "NaN")


# -- IDX data -----------------------------------------------------------------------------


def idx_header(count):
    return (0x00000803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (count, 28, 28))


def test_a_gzip_that_expands_past_its_header_is_refused_reading_only_what_the_header_declares(tmp_path):
    from engine.data.idx import read_idx

    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(idx_header(10))
        f.write(b"\0" * (200 * 2**20))  # 200 MB of zeros: 0.2 MB on disk
    tracemalloc.start()
    try:
        with pytest.raises(KqvError, match="bytes after its last element"):
            read_idx(bomb, "images")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20  # the 7,856 bytes the header declares, not 200 MB


@pytest.mark.parametrize("count", [2**31, 10**7])
def test_an_idx_header_declaring_more_than_digits_hold_is_refused_from_the_header(tmp_path, count):
    from engine.data.idx import read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(idx_header(count) + b"\0" * 784)
    with pytest.raises(KqvError, match="would need"):
        read_idx(path, "images")


@pytest.mark.parametrize(("lesson", "dims"), [
    ("attention", {"B": 10**7}), ("attention", {"C": 10**6, "nh": 2}),
    ("backprop", {"n2": 10**9}), ("backprop", {"m": 10**9}),
])
def test_the_lessons_dims_go_through_the_same_estimate(lesson, dims):
    import importlib

    script = importlib.import_module(f"lessons.steps.{lesson}")
    with pytest.raises(KqvError, match="would need"):
        script.full_dims(dims)
    script.full_dims({})  # the defaults fit
