"""``kqv data mnist``, ``shakespeare``, ``gpt2``, ``marian``, ``eng-fra``: fetch the data sets once, verified.

The work is in the engine (:mod:`engine.data.mnist`, :mod:`engine.data.shakespeare`, and the downloader
in :mod:`engine.data.download`); this module picks the folder, shows the progress bars and says
what it found and where the files are.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

from engine.errors import KqvError
from kqv_cli.cli import data_app
from kqv_cli.messages import console, styled
from kqv_cli.progress_bars import download_progress

print_whole = partial(console.print, soft_wrap=True)  # paths stay whole, for copy and paste
TICK = ("✓", "green")

_DIR_HELP = "Folder to put the files in (default: kqv's cache folder)."


@data_app.command("mnist")
def data_mnist(dir: Path | None = typer.Option(None, "--dir", help=_DIR_HELP)) -> None:
    """Download MNIST's four files (about 11 MB) and check each one's checksum.

    Files already there with the right checksum are kept; anything else is fetched again, and
    a file is only replaced by a copy that passed its check.
    """
    from engine.data.mnist import MNIST_FILES, fetch_mnist, mnist_cache_dir, verify_mnist_dir

    folder = dir if dir is not None else mnist_cache_dir()
    if folder.exists() and not folder.is_dir():
        raise KqvError(f"--dir {folder} is a file, not a folder")
    try:
        with download_progress() as on_progress:
            status = fetch_mnist(folder, on_progress)
    except KqvError as exc:
        raise KqvError(f"{exc}; check the connection and try again, or train on --synthetic digits") from None
    verify_mnist_dir(folder)
    for name, how in status.items():
        what = "already there" if how == "present" else "downloaded"
        print_whole(styled(TICK, f" {name:<30} {what}, checksum ok"))
    images = sum(f.count for f in MNIST_FILES if f.kind == "images")
    print_whole(f"MNIST ({images:,} images) is in {folder}")
    if dir is not None:
        print_whole(styled("use it with ", (f"--data {folder}", "bold"), f" or set KQV_DATA_DIR={folder}"))


@data_app.command("shakespeare")
def data_shakespeare(dir: Path | None = typer.Option(None, "--dir", help=_DIR_HELP)) -> None:
    """Download Tiny Shakespeare (1.1 MB of plays, the GPT's default text) and check it."""
    from engine.data.shakespeare import FILE_NAME, fetch_shakespeare, find_shakespeare, is_valid_copy

    if dir is not None and dir.exists() and not dir.is_dir():
        raise KqvError(f"--dir {dir} is a file, not a folder")
    present = find_shakespeare() if dir is None else is_valid_copy(dir / FILE_NAME) or None
    with download_progress() as on_progress:
        path = fetch_shakespeare(on_progress, directory=dir)
    what = "already there" if present is not None else "downloaded"
    print_whole(styled(TICK, f" {path.name:<30} {what}, checksum ok"))
    print_whole(f"Tiny Shakespeare ({path.stat().st_size:,} characters) is at {path}")
    if dir is not None:
        print_whole(styled("use it with ", (f"--text {path}", "bold")))


@data_app.command("gpt2")
def data_gpt2(model: str = typer.Option("gpt2", "--model", help="gpt2 (124M parameters), distilgpt2 "
                                        "(82M) or gpt2-medium (355M).")) -> None:
    """Download GPT-2's config.json, tokenizer.json and model.safetensors (about 550 MB).

    The files come from the Hugging Face hub at a pinned revision into the Hugging Face cache
    (HF_HOME), where transformers finds them too; files already there are not fetched again.
    HF_HUB_OFFLINE=1 only checks the cache.
    """
    from engine.hf.hub import MODELS, fetch_model

    folder = fetch_model(model)
    hub = MODELS[model]
    print_whole(styled(TICK, f" {hub.repo_id} at revision {hub.revision[:10]}: config.json, "
                         f"tokenizer.json, model.safetensors in {folder}"))
    print_whole(styled("use it with ", (f"--model {model}", "bold"), f", e.g. kqv sample --model {model} "
                         f"--prompt \"The pizza\" or kqv learn attention --model {model}"))


@data_app.command("marian")
def data_marian(model: str = typer.Option("Helsinki-NLP/opus-mt-en-fr", "--model",
                                          help="Helsinki-NLP/opus-mt-en-fr or Helsinki-NLP/opus-mt-en-de "
                                          "(the Helsinki-NLP/ may be left out).")
                ) -> None:
    """Download a MarianMT translation model: config.json, generation_config.json, source.spm,
    target.spm, vocab.json and model.safetensors (about 300 MB).

    The files come from the Hugging Face hub into the Hugging Face cache (HF_HOME), where
    transformers finds them too; files already there are not fetched again. HF_HUB_OFFLINE=1
    only checks the cache.
    """
    from engine.hf.hub import MARIAN_MODELS, fetch_model, marian_name

    model = marian_name(model)
    folder = fetch_model(model, models=MARIAN_MODELS)
    hub = MARIAN_MODELS[model]
    print_whole(styled(TICK, f" {hub.repo_id} at revision {hub.revision[:10]}: "
                         f"{', '.join(hub.files)} in {folder}"))
    print_whole(styled("use it with ", (f"--model {model}", "bold"),
                         f", e.g. kqv translate --model {model} \"The pizza came out of the oven.\""))


@data_app.command("eng-fra")
def data_eng_fra(dir: Path | None = typer.Option(None, "--dir", help=_DIR_HELP)) -> None:
    """Download the English-French sentence pairs of PyTorch's translation tutorial (its data.zip).

    135,842 Tatoeba pairs (CC BY 2.0 FR), english<TAB>french, for `kqv train translate`. The
    archive is checked (every line a pair, the tutorial's count) before the text is kept.
    """
    from engine.data.eng_fra import FILE_NAME, fetch_eng_fra, find_eng_fra
    from engine.data.pairs import load_pairs

    if dir is not None and dir.exists() and not dir.is_dir():
        raise KqvError(f"--dir {dir} is a file, not a folder")
    present = find_eng_fra() if dir is None else (dir / FILE_NAME if (dir / FILE_NAME).is_file() else None)
    with download_progress() as on_progress:
        path = fetch_eng_fra(on_progress, directory=dir)
    splits = load_pairs(path)  # a copy someone edited by hand is refused here, with its line number
    what = "already there" if present is not None else "downloaded and checked"
    print_whole(styled(TICK, f" {path.name:<30} {what}"))
    print_whole(f"{splits.describe()} is at {path}")
    pairs = f" --pairs {path}" if dir is not None else ""
    print_whole(styled("use it with ", (f"kqv train translate{pairs}", "bold")))
