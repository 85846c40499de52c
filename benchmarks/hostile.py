"""Replay hostile and careless inputs against the installed ``kqv`` and count what happened.

Each case runs the real command (``kqv`` beside this Python, or ``--kqv PATH``) in its own
process, in a temporary folder with its own state and cache folders, under a memory limit
(``RLIMIT_AS``, ``--memory-gb``) and a time limit, so no case can take the machine down. Before
the battery, a few "user files" are made (a trained GPT checkpoint, a digit-net checkpoint, a
text, quiz progress); after every case their bytes are compared, and a case that changed one
it had no business changing is counted as such.

Each case ends in one of:

    refused    exit 2 and exactly one line on stderr (what bad input must get)
    usage      exit 2 with typer's own several-line "Usage: ..." message (no case expects it
               since kqv_cli/usage_errors.py says parsing errors in one line too)
    ran        exit 0 (for the cases that are fine, or that kqv should take in its stride)
    not passed exit 1 from ``kqv practice check``: the learner's code was graded and failed
    interrupted exit 130 and one line saying so, after a Ctrl-C (SIGINT) the case sent
    traceback  "Traceback" anywhere in the output
    killed     killed by a signal (the out-of-memory killer, the memory limit)
    timeout    still running at the time limit
    other      any other exit code (the line says which)
    changed    a user file changed that the case must leave alone

    python benchmarks/hostile.py            # a table, one line per case
    python benchmarks/hostile.py --json     # the counts and every case, as JSON
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SMALL = ["--block-size", "16", "--batch-size", "4", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
         "--eval-interval", "5", "--eval-iters", "2", "--threads", "1"]
RESUME = ["--resume", "crafted.npz", "--out", "crafted.npz"]
TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 30)
PAIRS = "".join(f"The {a} is {c}.\tLe {b} est {d}.\n" for a, b in
                [("cat", "chat"), ("dog", "chien"), ("horse", "cheval"), ("bird", "oiseau")]
                for c, d in [("black", "noir"), ("white", "blanc"), ("big", "grand"), ("small", "petit")])
TX_SMALL = ["--n-embd", "16", "--n-head", "2", "--n-layer", "1", "--batch-size", "4", "--vocab-size", "300",
            "--eval-interval", "5", "--warmup-iters", "5", "--bleu-sentences", "1"]


@dataclass
class Case:
    name: str
    args: list[str]
    expect: str = "refused"  # refused | usage | ran
    stdin: str | None = None
    stdout: str | None = None  # a path to send stdout to (/dev/full)
    setup: object = None  # fn(folder) run before the case, e.g. to craft a file
    may_change: tuple[str, ...] = ()  # user files this case may rewrite
    as_user: bool = False  # file modes in force even when the battery runs as root (see AS_A_USER)
    closed: tuple[int, ...] = ()  # standard streams the child starts with closed (0, 1, 2)
    says: str | None = None  # text stderr must hold (a bracketed name printed whole)
    stdout_json: bool = False  # stdout must be one JSON object (--json errors)
    check: object = None  # fn(folder) -> a problem (str) or None, run after the case
    interrupt_after: float | None = None  # seconds after which the case gets a Ctrl-C (SIGINT)


@dataclass
class Outcome:
    case: str
    result: str
    expected: str
    code: int | None
    seconds: float
    detail: str = ""
    changed: list[str] = field(default_factory=list)


# -- crafting files ---------------------------------------------------------------------------


def kqv_checkpoint(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """A checkpoint in kqv's format, written by hand (so its metadata may lie)."""
    blob = np.frombuffer(json.dumps({"format_version": 1, **meta}).encode(), dtype=np.uint8)
    np.savez(path, __meta__=blob, **arrays)


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(bytes(data["__meta__"]).decode())
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    meta.pop("format_version")
    return meta, arrays


def npy_header(shape, dtype="<f4") -> bytes:
    text = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    return b"\x93NUMPY\x01\x00" + (len(text) + pad + 1).to_bytes(2, "little") + text + b" " * pad + b"\n"


def crafted(source: str, change_meta=None, change_arrays=None):
    """A setup that copies the user's ``source`` checkpoint to crafted.npz, changed as told."""
    def setup(folder: Path) -> None:
        meta, arrays = read_checkpoint(folder / source)
        if change_meta:
            change_meta(meta)
        if change_arrays:
            change_arrays(arrays)
        kqv_checkpoint(folder / "crafted.npz", meta, arrays)
    return setup


def crafted_gpt(change_meta=None, change_arrays=None):
    return crafted("gpt.npz", change_meta, change_arrays)


def crafted_digits(change_meta=None, change_arrays=None):
    return crafted("digits.npz", change_meta, change_arrays)


def huge_header(folder: Path) -> None:
    meta = {"format_version": 1, "kind": "digits", "sizes": [784, 30, 10]}
    blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with zipfile.ZipFile(folder / "crafted.npz", "w") as z:
        with z.open("__meta__.npy", "w") as f:
            np.lib.format.write_array(f, blob)
        z.writestr("w2.npy", npy_header((10**11,)) + b"\0" * 64)


def gzip_bomb(folder: Path) -> None:
    """An MNIST folder whose training images' header says MNIST's 60,000 images (47 MB) but whose
    stream unpacks to 512 MB (from half a megabyte on disk)."""
    mnist = folder / "bomb"
    mnist.mkdir()
    header = (0x803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (60000, 28, 28))
    with gzip.open(mnist / "train-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(header)
        zeros = b"\0" * 2**20
        for _ in range(512):
            f.write(zeros)
    for name, magic, dims in (("train-labels-idx1-ubyte", 0x801, (60000,)),
                              ("t10k-images-idx3-ubyte", 0x803, (10000, 28, 28)),
                              ("t10k-labels-idx1-ubyte", 0x801, (10000,))):
        head = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in dims)
        with gzip.open(mnist / f"{name}.gz", "wb") as f:
            f.write(head + b"\0" * int(np.prod(dims)))


def write(name: str, text: str):
    def setup(folder: Path) -> None:
        path = folder / "state" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return setup


def file_named(name: str, text: str):
    def setup(folder: Path) -> None:
        (folder / name).write_text(text)
    return setup


def folder_named(name: str):
    def setup(folder: Path) -> None:
        (folder / name).mkdir()
    return setup


TINY_GPT2 = Path(__file__).resolve().parent.parent / "tests" / "data" / "gpt2-tiny"


def gpt2_folder(change=None):
    """A setup that copies the tests' tiny random GPT-2 to hf/, then changes it as told."""
    def setup(folder: Path) -> None:
        shutil.copytree(TINY_GPT2, folder / "hf")
        if change:
            change(folder / "hf")
    return setup


def edit_json(name: str, edit):
    def change(hf: Path) -> None:
        data = json.loads((hf / name).read_text())
        edit(data)
        (hf / name).write_text(json.dumps(data))
    return change


def edit_weights(edit):
    def change(hf: Path) -> None:
        from safetensors.numpy import load_file, save_file

        tensors = load_file(hf / "model.safetensors")
        edit(tensors)
        save_file(tensors, hf / "model.safetensors")
    return change


def lock(name: str):
    """A setup change that takes every permission off hf/NAME (``.``: the folder itself)."""
    def change(hf: Path) -> None:
        (hf / name).chmod(0)
    return change


def sparse_13gb_gpt2(hf: Path) -> None:
    """A consistent GPT-2 of 13 GB: config.json sized for it, and a model.safetensors whose header
    names every tensor at its full size, the file made that long without writing (sparse)."""
    n_layer, C, V, T = 48, 2368, 50257, 1024
    shapes = {"wte.weight": (V, C), "wpe.weight": (T, C), "ln_f.weight": (C,), "ln_f.bias": (C,)}
    for i in range(n_layer):
        block = {"ln_1": (C,), "attn.c_attn": (C, 3 * C), "attn.c_proj": (C, C), "ln_2": (C,),
                 "mlp.c_fc": (C, 4 * C), "mlp.c_proj": (4 * C, C)}
        for part, shape in block.items():
            shapes[f"h.{i}.{part}.weight"], shapes[f"h.{i}.{part}.bias"] = shape, shape[-1:]
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(hf / "model.safetensors", "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        f.truncate(8 + len(text) + offset)  # about 13 GB, none of it on disk
    edit_json("config.json", lambda c: c.update(n_layer=n_layer, n_embd=C, n_head=16, vocab_size=V,
                                                n_positions=T))(hf)


def replace_file(name: str, text: str):
    def change(hf: Path) -> None:
        (hf / name).write_text(text)
    return change


def bytes_named(name: str, data: bytes):
    def setup(folder: Path) -> None:
        (folder / name).write_bytes(data)
    return setup


def translate_cases() -> list[Case]:
    """Issue 20's bad inputs for the encoder-decoder: pairs files, checkpoints, --beam, sentences."""
    train = ["train", "translate", *TX_SMALL, "--max-iters", "2", "--out", "new-tx.npz", "--pairs"]
    long = " ".join(["word"] * 200) + "."
    return [
        Case("pairs: a line with no tab", [*train, "p.txt"],
             setup=file_named("p.txt", "Go.\tVa !\nno tab\n")),
        Case("pairs: an empty side", [*train, "p.txt"], setup=file_named("p.txt", "Go.\tVa !\n\tSalut\n")),
        Case("pairs: invalid UTF-8", [*train, "p.txt"],
             setup=bytes_named("p.txt", b"Go.\tVa !\nHi\t\xff\n")),
        Case("pairs: one pair", [*train, "p.txt"], setup=file_named("p.txt", "Go.\tVa !\n")),
        Case("pairs: a folder", [*train, "d"], setup=folder_named("d")),
        Case("pairs: a 200-word sentence (left out, said so)", [*train, "p.txt"], "ran",
             setup=file_named("p.txt", PAIRS + f"{long}\tmot.\n")),
        Case("train translate --beam 0", [*train, "pairs.txt", "--beam", "0"]),
        Case("train translate --n-head 3", [*train, "pairs.txt", "--n-head", "3"]),
        Case("translate: a 200-word sentence", ["translate", "tx.npz", long]),
        Case("translate: a 200-word sentence --truncate", ["translate", "tx.npz", long, "--truncate",
                                                           "--beam", "1"], "ran"),
        Case("translate: an empty sentence", ["translate", "tx.npz", ""]),
        Case("translate: only empty lines on stdin", ["translate", "tx.npz"], stdin="\n\n"),
        Case("translate --beam 0", ["translate", "tx.npz", "The cat is black.", "--beam", "0"]),
        Case("translate --beam 10000", ["translate", "tx.npz", "The cat is black.", "--beam", "10000"]),
        Case("translate --head 99", ["translate", "tx.npz", "The cat.", "--show-attention", "--head", "99"]),
        Case("translate a GPT checkpoint", ["translate", "gpt.npz", "The cat is black."]),
        Case("translate a digits checkpoint", ["translate", "digits.npz", "The cat is black."]),
        Case("sample a translation checkpoint", ["sample", "tx.npz"]),
        Case("translate: vocabulary JSON damaged", ["translate", "crafted.npz", "The cat."],
             setup=crafted("tx.npz", lambda m: m.update(vocab="{not json"))),
        Case("translate: n_embd 10^6 in the metadata", ["translate", "crafted.npz", "The cat."],
             setup=crafted("tx.npz", lambda m: m["model"].update(n_embd=10**6, d_ff=10**6))),
    ]


TINY_MARIAN = TINY_GPT2.parent / "marian-tiny"


def marian_folder(change=None):
    """A setup that copies the tests' tiny Marian to mt/, then changes it as told."""
    def setup(folder: Path) -> None:
        shutil.copytree(TINY_MARIAN, folder / "mt")
        if change:
            change(folder / "mt")
    return setup


def remove(name: str):
    def change(hf: Path) -> None:
        (hf / name).unlink()
    return change


def marian_cases() -> list[Case]:
    """MarianMT folders (translate --model DIR): another model, missing files, bad shapes and configs."""
    run = ["translate", "--model", "mt", "Go."]
    return [
        Case("marian folder: translates", run, "ran", setup=marian_folder()),
        Case("marian folder: model_type bart", run,
             setup=marian_folder(edit_json("config.json", lambda c: c.update(model_type="bart")))),
        Case("marian folder: a GPT-2 folder given", ["translate", "--model", "hf", "Go."],
             setup=gpt2_folder()),
        Case("marian folder: no source.spm", run, setup=marian_folder(remove("source.spm"))),
        Case("marian folder: target.spm not a model", run,
             setup=marian_folder(replace_file("target.spm", "not a sentencepiece model"))),
        Case("marian folder: no vocab.json", run, setup=marian_folder(remove("vocab.json"))),
        Case("marian folder: ffn dims unlike the weights", run, setup=marian_folder(edit_json(
            "config.json", lambda c: c.update(encoder_ffn_dim=48, decoder_ffn_dim=48)))),
        Case("marian folder: encoder_layers 10^9", run, setup=marian_folder(edit_json(
            "config.json", lambda c: c.update(encoder_layers=10**9)))),
        Case("marian folder: d_model 0", run, setup=marian_folder(edit_json(
            "config.json", lambda c: c.update(d_model=0)))),
        Case("marian folder: normalize_before true (ignored by transformers)", run, setup=marian_folder(
            edit_json("config.json", lambda c: c.update(normalize_before=True)))),
        Case("marian folder: exact gelu", run, setup=marian_folder(edit_json(
            "config.json", lambda c: c.update(activation_function="gelu")))),
        Case("marian folder: do_sample in generation_config.json", run, setup=marian_folder(edit_json(
            "generation_config.json", lambda c: c.update(do_sample=True)))),
        Case("marian folder: NaN in a weight", run, setup=marian_folder(edit_weights(
            lambda t: t["model.shared.weight"].__setitem__((0, 0), np.nan)))),
        Case("marian folder: config.json nested 100000 deep", run,
             setup=marian_folder(replace_file("config.json", "[" * 100_000 + "]" * 100_000))),
        Case("marian: --beam 0", ["translate", "--model", "mt", "Go.", "--beam", "0"], setup=marian_folder()),
        Case("marian: an empty sentence", ["translate", "--model", "mt", ""], setup=marian_folder()),
        Case("marian: a 200-word sentence", ["translate", "--model", "mt", " ".join(["word"] * 200)],
             setup=marian_folder()),
        Case("marian: an unknown hub name", ["translate", "--model", "Helsinki-NLP/opus-mt-xx-yy", "Go."]),
        Case("export a translation checkpoint (a MarianMT folder)", ["export", "tx.npz", "--hf", "out"],
             "ran"),
    ]


def gpt2_cases() -> list[Case]:
    """Hugging Face GPT-2 folders (--model DIR): crafted configs, weights, tokenizers, modes."""
    sample = ["sample", "--model", "hf", "--tokens", "5"]
    return [
        Case("gpt2 folder: NaN in a weight", sample, setup=gpt2_folder(edit_weights(
            lambda t: t["transformer.h.0.mlp.c_fc.weight"].__setitem__((0, 0), np.nan)))),
        Case("gpt2 folder: inf in a weight", sample, setup=gpt2_folder(edit_weights(
            lambda t: t["transformer.wte.weight"].__setitem__((1, 1), np.inf)))),
        Case("gpt2 folder: config.json nested 100000 deep", sample,
             setup=gpt2_folder(replace_file("config.json", "[" * 100_000 + "]" * 100_000))),
        Case("gpt2 folder: tokenizer ids past wte's rows", sample, setup=gpt2_folder(edit_json(
            "tokenizer.json", lambda t: t["model"]["vocab"].update({"<|endoftext|>": 100_000})))),
        Case("gpt2 folder: config.json says n_layer 10^9", sample,
             setup=gpt2_folder(edit_json("config.json", lambda c: c.update(n_layer=10**9)))),
        Case("gpt2 folder: a consistent 13 GB model.safetensors", sample,
             setup=gpt2_folder(sparse_13gb_gpt2)),
        Case("gpt2 folder: a sparse 10 GB tokenizer.json", sample, setup=gpt2_folder(
            lambda hf: os.truncate(hf / "tokenizer.json", 10 * 2**30))),
        Case("gpt2 folder: learn attention --model, n_layer 10^9", ["learn", "attention", "--model", "hf"],
             setup=gpt2_folder(edit_json("config.json", lambda c: c.update(n_layer=10**9)))),
        Case("gpt2 folder: learn attention --model, 13 GB", ["learn", "attention", "--model", "hf"],
             setup=gpt2_folder(sparse_13gb_gpt2)),
        # piped, the bytes pass as they are (on a terminal they are shown escaped: tests/test_hf_cli.py)
        Case("gpt2 folder: a tokenizer that decodes to escape sequences", [*sample[:-1], "40"], "ran",
             setup=gpt2_folder(edit_json("tokenizer.json", lambda t: t.update(decoder={
                 "type": "Sequence", "decoders": [t["decoder"], {
                     "type": "Replace", "pattern": {"String": "e"}, "content": "\x1b]2;pwned\x07\x9be"}]})))),
        Case("gpt2 folder: mode 000", sample, setup=gpt2_folder(lock(".")), as_user=True),
        Case("gpt2 folder: a path inside a mode-000 folder", ["trace", "gpt", "--model", "hf/x"],
             setup=gpt2_folder(lock(".")), as_user=True),
        Case("gpt2 folder: model.safetensors unreadable", sample,
             setup=gpt2_folder(lock("model.safetensors")), as_user=True),
    ]


# -- the battery ------------------------------------------------------------------------------


def cases() -> list[Case]:
    gpt = ["train", "gpt", "--text", "play.txt", *SMALL, "--max-iters", "3"]
    seeded = [["sample", "gpt.npz"], ["train", "gpt", "--text", "play.txt", *SMALL, "--out", "new.npz"],
              ["train", "digits", "--synthetic", "--limit", "50"], ["trace", "digits"], ["trace", "gpt"],
              ["quiz", "-n", "1"], ["eval", "digits", "digits.npz", "--synthetic"],
              ["lab", "run", "learning-rate"], ["lessons", "check"]]
    battery = [Case(f"--seed -1: {' '.join(a[:2])}", [*a, "--seed", "-1"]) for a in seeded]
    battery += [Case(f"--temperature {v}", ["sample", "gpt.npz", "--tokens", "5", "--temperature", v])
                for v in ("nan", "inf", "-1", "0", "1e-320")]
    battery += [Case("--temperature 1e-300 (tiny but normal)", ["sample", "gpt.npz", "--tokens", "5",
                                                               "--temperature", "1e-300"], "ran")]
    battery += [Case(f"--{flag} {v}", ["train", "digits", "--synthetic", "--limit", "50", f"--{flag}", v])
                for flag in ("eta", "lmbda") for v in ("nan", "inf", "-inf")]
    battery += [
        Case("--epochs 1e20", ["train", "digits", "--synthetic", "--epochs", "1e20"]),
        # what typer's parser refuses before any command runs
        Case("--lr abc", ["train", "gpt", "--lr", "abc"]),
        Case("an option the command lacks", ["train", "gpt", "--epochs", "3"]),
        Case("an option without its value", ["sample", "gpt.npz", "--tokens"]),
        Case("a command that does not exist", ["trian", "gpt"]),
        Case("a group without its command", ["train"]),
        Case("a missing argument", ["eval", "digits"]),
        Case("--epochs 10^20", ["train", "digits", "--synthetic", "--epochs", "1" + "0" * 20]),
        Case("--tokens 10^12", ["sample", "gpt.npz", "--tokens", str(10**12)]),
        Case("--count 10^9", ["quiz", "--count", str(10**9)]),
        Case("--lr 1e30 --threads 2", [*gpt[:-2], "--threads", "2", "--max-iters", "30", "--lr", "1e30",
                                       "--out", "lr.npz"]),
        # memory from flags
        Case("gpt --batch-size 10^7", [*gpt, "--batch-size", "10000000", "--out", "m.npz"]),
        Case("gpt --n-embd 20000", [*gpt, "--n-embd", "20000", "--out", "m.npz"]),
        Case("gpt --n-embd 100000", [*gpt, "--n-embd", "100000", "--out", "m.npz"]),
        Case("gpt --block-size 100000", ["trace", "gpt", "--block-size", "100000"]),
        Case("gpt --n-layer 100000", [*gpt, "--n-layer", "100000", "--out", "m.npz"]),
        Case("digits --sizes 784,10^8,10", ["train", "digits", "--synthetic", "--sizes", "784,100000000,10"]),
        Case("trace digits --batch-size 10^8", ["trace", "digits", "--batch-size", "100000000"]),
        Case("digits --batch-size 10^7 --limit 2000", ["train", "digits", "--synthetic", "--limit", "2000",
                                                       "--epochs", "1", "--batch-size", "10000000"], "ran"),
        # crafted checkpoints
        Case("gpt checkpoint says n_embd 20000", ["sample", "crafted.npz"],
             setup=crafted_gpt(lambda m: m["model"].update(n_embd=20000, n_head=2))),
        Case("gpt checkpoint says n_layer 10^5", ["sample", "crafted.npz"],
             setup=crafted_gpt(lambda m: m["model"].update(n_layer=100000))),
        Case("gpt checkpoint: vocabulary longer than wte", ["sample", "crafted.npz"],
             setup=crafted_gpt(lambda m: m.update(vocab=m["vocab"] + "XYZ"))),
        Case("gpt checkpoint: n_embd a string", ["sample", "crafted.npz"],
             setup=crafted_gpt(lambda m: m["model"].update(n_embd="16"))),
        Case("gpt checkpoint: complex weights", ["sample", "crafted.npz"],
             setup=crafted_gpt(change_arrays=lambda a: a.update(wte=a["wte"].astype(np.complex64)))),
        Case("gpt checkpoint: NaN weights", ["sample", "crafted.npz"],
             setup=crafted_gpt(change_arrays=lambda a: a.update(wte=a["wte"] * np.nan))),
        Case("resume: no Adam state", [*gpt[:-2], "--max-iters", "9", "--resume", "crafted.npz",
                                       "--out", "crafted.npz"],
             setup=crafted_gpt(change_arrays=lambda a: a.pop("adam.m"))),
        Case("resume: iter -1", [*gpt[:-2], "--max-iters", "9", *RESUME],
             setup=crafted_gpt(lambda m: m.update(iter=-1))),
        Case("resume: iter 'x'", [*gpt[:-2], "--max-iters", "9", *RESUME],
             setup=crafted_gpt(lambda m: m.update(iter="x"))),
        Case("resume: bad rng state", [*gpt[:-2], "--max-iters", "9", "--resume", "crafted.npz",
                                       "--out", "crafted.npz"],
             setup=crafted_gpt(lambda m: m.update(batch_rng={"state": 1}))),
        Case("resume: malformed evals", [*gpt[:-2], "--max-iters", "9", "--resume", "crafted.npz",
                                         "--out", "crafted.npz"],
             setup=crafted_gpt(lambda m: m.update(evals=[{"iter": "a"}]))),
        Case("digits checkpoint says [784, 3000000, 10]", ["eval", "digits", "crafted.npz", "--synthetic"],
             setup=crafted_digits(lambda m: m.update(sizes=[784, 3000000, 10]))),
        Case("digits checkpoint: float sizes", ["eval", "digits", "crafted.npz", "--synthetic"],
             setup=crafted_digits(lambda m: m.update(sizes=[784, 30.0, 10]))),
        Case("digits checkpoint: string sizes", ["eval", "digits", "crafted.npz", "--synthetic"],
             setup=crafted_digits(lambda m: m.update(sizes="784,30,10"))),
        Case("digits checkpoint: NaN weights", ["eval", "digits", "crafted.npz", "--synthetic"],
             setup=crafted_digits(change_arrays=lambda a: a.update(w2=a["w2"] * np.nan))),
        Case(".npy header claims 10^11 numbers", ["eval", "digits", "crafted.npz", "--synthetic"],
             setup=huge_header),
        Case("MNIST gzip unpacking past its header", ["train", "digits", "--data", "bomb", "--epochs", "1"],
             setup=gzip_bomb),
        # output, files, state
        Case("sample > /dev/full", ["sample", "gpt.npz", "--tokens", "2000"], stdout="/dev/full"),
        Case("lab > /dev/full", ["lab"], stdout="/dev/full"),
        Case("train gpt over an existing gpt.npz (no --out)", ["train", "gpt", "--text", "play.txt", *SMALL,
                                                                "--max-iters", "3"]),
        Case("--out is a folder", [*gpt, "--out", "dir.npz"], setup=folder_named("dir.npz")),
        Case("a text file named .npz", ["sample", "notes.npz"], setup=file_named("notes.npz", "hello\n")),
        Case("--data names a file", ["train", "digits", "--data", "play.txt", "--epochs", "1"]),
        Case("quiz answer of 5000 digits", ["quiz", "-n", "1", "--seed", "1"], "ran",
             stdin="9" * 5000 + "\n", may_change=("state/quiz.json",)),
        Case("quiz answer: 3000 nested products", ["quiz", "-n", "1", "--symbolic", "--seed", "1"], "ran",
             stdin="C*" * 3000 + "C\n", may_change=("state/quiz.json",)),
        Case("quiz --stats on a damaged quiz.json", ["quiz", "--stats"], "ran",
             setup=write("quiz.json", "{oops")),
        Case("quiz --stats on list data", ["quiz", "--stats"], "ran",
             setup=write("quiz.json", json.dumps({"schema": 1, "data": {"cards": [1, 2]}}))),
        Case("learn a lesson that does not exist", ["learn", "nosuch"]),
        Case("--sizes with 5000 digits", ["train", "digits", "--synthetic", "--sizes",
                                          "784," + "9" * 5000 + ",10"]),
        Case("--n-head that does not divide", ["trace", "gpt", "--n-head", "3"]),
        Case("--prompt outside the vocabulary", ["sample", "gpt.npz", "--prompt", "€€€"]),
    ]
    battery += gpt2_cases()
    battery += translate_cases()
    battery += marian_cases()
    battery += round3_cases()
    return battery


# -- round 3 (issue 25): names with brackets, closed streams, what a practice child leaves, state
# files that are not files, writes through links, two runs on one --out, practice's --dir

def linked(name: str, target: str):
    """A setup that puts a symbolic link at ``name`` (made folders first) pointing to ``target``
    (relative to the case's folder)."""
    def setup(folder: Path) -> None:
        link = folder / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(target if target.startswith("/") else folder / target)
    return setup


def fifo_at(name: str):
    def setup(folder: Path) -> None:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        os.mkfifo(path)
    return setup


def both(*setups):
    def setup(folder: Path) -> None:
        for s in setups:
            s(folder)
    return setup


def still_a_fifo(name: str):
    def check(folder: Path) -> str | None:
        return None if (folder / name).is_fifo() else f"{name} is no longer a FIFO"
    return check


LEAVE_BAD_RESULT = """import os, sys
open(os.path.join(sys.argv[1], "result.json"), "w").write("{oops")
os._exit(0)
"""
LEAVE_OBJECT_ARRAY = """import json, os, sys
import numpy as np
job = sys.argv[1]
open(os.path.join(job, "result.json"), "w").write(json.dumps({"status": "ok"}))
np.savez(os.path.join(job, "results.npz"), **{"0/return/a": np.array([{}, 1], dtype=object)})
os._exit(0)
"""
DAEMON = """import os, sys, time
def sigmoid(z):
    if os.fork() == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        with open("grandchild.pid", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(300)
        os._exit(0)
    time.sleep(0.5)
    return 1 / (1 + __import__("numpy").exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)
"""


def learner_file(text: str):
    def setup(folder: Path) -> None:
        (folder / "ws" / "sigmoid.py").write_text(text)
    return setup


def no_grandchild(folder: Path) -> str | None:
    """The daemon the learner's code started is gone (and is killed here if it is not)."""
    pid_file = folder / "ws" / "grandchild.pid"
    if not pid_file.is_file():
        return "the learner's daemon never started"
    pid = int(pid_file.read_text())
    for _ in range(30):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        time.sleep(0.1)
    os.kill(pid, 9)
    return f"the learner's daemon {pid} outlived the check"


def round3_cases() -> list[Case]:
    gpt = ["train", "gpt", "--text", "play.txt", *SMALL, "--max-iters", "3"]
    digits = ["train", "digits", "--synthetic", "--limit", "50", "--epochs", "1"]
    in_q = folder_named("q[")
    return [
        # 1: brackets are text
        Case("brackets: sample 'q[/]x.npz'", ["sample", "q[/]x.npz"], says="q[/]x.npz"),
        Case("brackets: sample 'model[final].npz'", ["sample", "model[final].npz"],
             says="no checkpoint at model[final].npz"),
        Case("brackets: train digits --out 'q[/]dd.npz'", [*digits, "--out", "q[/]dd.npz"], "ran",
             setup=in_q),
        Case("brackets: export --hf 'q[/]hfout'", ["export", "gpt.npz", "--hf", "q[/]hfout"], "ran",
             setup=in_q),
        Case("brackets: train --out exp[v2]/m.npz", [*gpt, "--out", "exp[v2]/m.npz"], "ran",
             setup=folder_named("exp[v2]")),
        Case("brackets: quiz --topic '[bold]x'", ["quiz", "--topic", "[bold]x"], says="[bold]x"),
        # 5: closed standard streams
        Case("stdout closed: sample >&-", ["sample", "gpt.npz", "--tokens", "5"], closed=(1,)),
        Case("stdin closed: quiz <&-", ["quiz", "-n", "1", "--seed", "1"], "ran", closed=(0,),
             may_change=("state/quiz.json",)),
        Case("stdin closed: kqv <&-", [], "ran", closed=(0,)),
        Case("stderr closed: sample 2>&-", ["sample", "missing.npz"], closed=(2,)),
        # 6 and 16: what the learner's code leaves, and starts
        Case("practice: the child leaves a bad result.json", ["practice", "check", "sigmoid", "--dir", "ws"],
             "not passed", setup=learner_file(LEAVE_BAD_RESULT), may_change=("ws/.kqv-progress.json",)),
        Case("practice: the child leaves an object array", ["practice", "check", "sigmoid", "--dir", "ws"],
             "not passed", setup=learner_file(LEAVE_OBJECT_ARRAY)),
        Case("practice: a daemon started by the learner's code", ["practice", "check", "sigmoid", "--dir",
                                                                   "ws"],
             "ran", setup=learner_file(DAEMON), check=no_grandchild),
        # 7: state files that are not files
        Case("quiz --stats: quiz.json is a FIFO", ["quiz", "--stats"], "ran",
             setup=fifo_at("state/quiz.json"), check=still_a_fifo("state/quiz.json")),
        Case("quiz: quiz.json is a FIFO", ["quiz", "-n", "1", "--seed", "1"], "ran", stdin="1\n",
             setup=fifo_at("state/quiz.json"), check=still_a_fifo("state/quiz.json")),
        Case("quiz --stats: quiz.json links to /dev/zero", ["quiz", "--stats"], "ran",
             setup=linked("state/quiz.json", "/dev/zero")),
        Case("practice check: the progress file is a FIFO", ["practice", "check", "sigmoid", "--dir", "ws"],
             "not passed", setup=fifo_at("ws/.kqv-progress.json"),
             check=still_a_fifo("ws/.kqv-progress.json")),
        Case("practice check: the progress file links to /dev/zero", ["practice", "check", "sigmoid", "--dir",
                                                                   "ws"],
             "not passed", setup=linked("ws/.kqv-progress.json", "/dev/zero")),
        # 9: writes never follow a link, never replace what is not a file
        Case("export --force: config.json links to the user's document",
             ["export", "gpt.npz", "--hf", "hfout", "--force"], "ran", setup=linked("hfout/config.json",
                                                                                      "notes.txt")),
        Case("train --force: --out links to a FIFO", [*gpt, "--out", "link.npz", "--force"], "ran",
             setup=both(fifo_at("node"), linked("link.npz", "node")), check=still_a_fifo("node")),
        Case("train --force: --out is a FIFO", [*gpt, "--out", "node.npz", "--force"],
             setup=fifo_at("node.npz"), check=still_a_fifo("node.npz")),
        Case("practice reset: the exercise file links to the user's document",
             ["practice", "reset", "sigmoid", "--dir", "ws"], "ran",
             setup=linked("ws/sigmoid.py", "notes.txt")),
        Case("practice init: the marker links to the user's document", ["practice", "init", "ws2"], "ran",
             setup=linked("ws2/.kqv-practice.json", "notes.txt")),
        # 14: Ctrl-C while starting, training, sampling, waiting for an answer: 130, one line
        *[Case(f"Ctrl-C after {t:g} s: {' '.join(a[:2])}", a, "interrupted", interrupt_after=t,
               may_change=("state/quiz.json",))
          for a, times in (([*gpt[:-1], "100000", "--out", "long.npz"], (0.3, 1.0, 2.5)),
                           (["sample", "gpt.npz", "--tokens", "1000000"], (0.5, 2.0)),
                           (["quiz", "-n", "3"], (0.4, 2.0)),
                           ([*digits[:-1], "500", "--limit", "5000", "--out", "long.npz"], (1.0, 3.0)))
          for t in times],
        # 11, 12, 15
        Case("practice --dir WS check NAME", ["practice", "--dir", "ws", "check", "sigmoid"], "not passed",
             may_change=("ws/.kqv-progress.json",)),
        Case("practice hint NAME --dir WS", ["practice", "hint", "sigmoid", "--dir", "ws"], "ran"),
        Case("--force before a bad --n-head says one line", [*gpt, "--n-head", "3", "--out", "gpt.npz",
                                                             "--force"]),
        Case("--json: an error is JSON on stdout too", ["eval", "digits", "missing.npz", "--json"],
             stdout_json=True),
        Case("--json: a parse error is JSON on stdout too", [*gpt, "--lr", "abc", "--json"],
             stdout_json=True),
    ]


# -- running ----------------------------------------------------------------------------------


def user_files(folder: Path) -> dict[str, str]:
    """Path (relative) -> SHA-256 of every file the user made before the battery."""
    wanted = ["gpt.npz", "digits.npz", "play.txt", "state/quiz.json", "notes.txt"]
    # is_file, not exists: a case may put a FIFO or a link to /dev/zero at one of these names
    return {p: hashlib.sha256((folder / p).read_bytes()).hexdigest()
            for p in wanted if (folder / p).is_file()}


def limits(memory_bytes: int, closed: tuple[int, ...] = ()):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        for fd in closed:  # as a shell's <&- or >&- would
            os.close(fd)
    return apply


# Root reads any file whatever its mode (CAP_DAC_OVERRIDE); a user does not. Cases about modes
# run without that capability when the battery runs as root, so the modes bite as for a user.
AS_A_USER = (["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
             if os.geteuid() == 0 and shutil.which("setpriv") else [])


def run_case(case: Case, kqv: list[str], base: Path, memory: int, timeout: float) -> Outcome:
    work = Path(tempfile.mkdtemp(dir=base))
    for item in base.glob("user/*"):
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, work / item.name)
    if case.setup:
        case.setup(work)
    before = user_files(work)
    env = {**os.environ, "KQV_STATE_DIR": str(work / "state"), "KQV_CACHE_DIR": str(work / "cache"),
           "COLUMNS": "100"}
    out = open(case.stdout, "w") if case.stdout else subprocess.PIPE  # noqa: SIM115
    start = time.perf_counter()
    try:
        command = [*(AS_A_USER if case.as_user else []), *kqv, *case.args]
        stdin = {"stdin": subprocess.DEVNULL} if 0 in case.closed else \
            {"input": case.stdin if case.stdin is not None else ""}
        if case.interrupt_after is not None:
            done = interrupted_run(command, work, env, memory, case.interrupt_after, timeout)
        else:
            done = subprocess.run(command, cwd=work, env=env, stdout=out, stderr=subprocess.PIPE, **stdin,
                                  text=True, timeout=timeout, preexec_fn=limits(memory, case.closed))
    except subprocess.TimeoutExpired:
        return Outcome(case.name, "timeout", case.expect, None, time.perf_counter() - start)
    finally:
        if case.stdout:
            out.close()
    seconds = time.perf_counter() - start
    stdout = done.stdout or ""
    stderr = done.stderr or ""
    changed = [p for p, h in user_files(work).items() if before.get(p) != h and p not in case.may_change]
    changed += [p for p in before if not (work / p).exists()]
    if case.check and (problem := case.check(work)):
        changed.append(problem)
    errors = [line for line in stderr.strip().splitlines() if line.strip()]
    if "Traceback" in stdout + stderr:
        result = "traceback"
    elif done.returncode < 0:
        result = "killed"
    elif changed:
        result = "changed"
    elif case.says is not None and case.says not in stderr:
        result = "other"
        errors = [f"stderr does not say {case.says!r}: {stderr.strip()[:100]}"]
    elif case.stdout_json and not _one_json_error(stdout):
        result = "other"
        errors = [f"stdout is not one JSON error: {stdout.strip()[:100]!r}"]
    # a quiz stopped by Ctrl-C is the learner's way out, not an error: "quiz ended (Ctrl-C) ..."
    elif done.returncode == 130 and len(errors) == 1 and errors[0].startswith(("error: interrupted",
                                                                               "quiz ended (Ctrl-C)")):
        result = "interrupted"
    elif done.returncode == 2 and (len(errors) == 1 or 2 in case.closed and not errors):
        result = "refused"
    elif done.returncode == 2 and errors and errors[0].startswith("Usage:"):
        result = "usage"
    elif done.returncode == 0:
        result = "ran"
    elif done.returncode == 1 and case.args[:1] == ["practice"] and "check" in case.args:
        result = "not passed"
    else:
        result = "other"
    detail = errors[0][:150] if errors else ""
    return Outcome(case.name, result, case.expect, done.returncode, seconds, detail, changed)


def interrupted_run(command, work, env, memory, delay, timeout) -> subprocess.CompletedProcess:
    """Run ``command`` with its stdin open but silent, and press Ctrl-C (SIGINT) after ``delay``."""
    child = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=limits(memory))
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


def _one_json_error(stdout: str) -> bool:
    try:
        doc = json.loads(stdout)
    except ValueError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("error"), str)


def prepare(base: Path, kqv: list[str]) -> None:
    """The user's files: a trained GPT, a trained digit net, their text, some quiz progress."""
    user = base / "user"
    (user / "state").mkdir(parents=True)
    (user / "play.txt").write_text(TEXT)
    (user / "pairs.txt").write_text(PAIRS)
    env = {**os.environ, "KQV_STATE_DIR": str(user / "state"), "KQV_CACHE_DIR": str(base / "cache")}
    digits = ["train", "digits", "--synthetic", "--limit", "500", "--epochs", "1", "--out", "digits.npz"]
    gpt = ["train", "gpt", "--text", "play.txt", *SMALL, "--max-iters", "10", "--out", "gpt.npz"]
    tx = ["train", "translate", "--pairs", "pairs.txt", *TX_SMALL, "--max-iters", "5", "--out", "tx.npz"]
    for args in (gpt, digits, tx):
        subprocess.run([*kqv, *args, "--json"], cwd=user, env=env, check=True, capture_output=True)
    subprocess.run([*kqv, "practice", "init", "ws"], cwd=user, env=env, check=True, capture_output=True)
    (user / "notes.txt").write_text("a document of the user's, which no kqv command may touch\n")
    subprocess.run([*kqv, "quiz", "-n", "2", "--seed", "5"], cwd=user, env=env, input="1\n2\n3\n4\n",
                   capture_output=True, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kqv", default=str(Path(sys.executable).with_name("kqv")),
                        help="the installed kqv command (default: the one beside this Python)")
    parser.add_argument("--memory-gb", type=float, default=3.0, help="address-space limit per case")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    parser.add_argument("--only", default="", help="run only the cases whose name contains this")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    kqv = [args.kqv]
    base = Path(tempfile.mkdtemp(prefix="kqv-hostile-"))
    try:
        prepare(base, kqv)
        memory = int(args.memory_gb * 2**30)
        outcomes = [run_case(c, kqv, base, memory, args.timeout) for c in cases() if args.only in c.name]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    counts = {k: sum(o.result == k for o in outcomes)
              for k in ("refused", "usage", "ran", "not passed", "interrupted", "traceback", "killed",
                        "timeout", "other", "changed")}
    unexpected = [o for o in outcomes if o.result != o.expected]
    if args.json:
        print(json.dumps({"cases": len(outcomes), "counts": counts, "unexpected": len(unexpected),
                          "memory_limit_gb": args.memory_gb,
                          "outcomes": [o.__dict__ for o in outcomes]}, indent=1))
        return
    for o in outcomes:
        mark = "  " if o.result == o.expected else "!!"
        print(f"{mark} {o.result:<9} rc={o.code!s:<4} {o.seconds:5.1f}s  {o.case:<45} {o.detail[:90]}")
    print(f"\n{len(outcomes)} cases (memory limit {args.memory_gb:g} GB each): "
          + ", ".join(f"{k} {v}" for k, v in counts.items()) + f"; not as expected: {len(unexpected)}")


if __name__ == "__main__":
    main()
