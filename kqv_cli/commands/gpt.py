"""``kqv train gpt``, ``kqv sample`` and ``kqv trace gpt``: the character GPT.

The engine does the work (:mod:`engine.gpt.model`, :mod:`engine.gpt.train`, :mod:`engine.data.text`);
this module parses options, finds the text, shows progress and prints results.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

from engine.data.text import TextData
from engine.errors import KqvError
from engine.gpt.checkpoint import load_gpt
from engine.gpt.config import POSITIONS, GPTConfig
from engine.gpt.train import CHANGEABLE_ON_RESUME, GPTTrainer, TrainConfig
from engine.runtime.memory import check_fits, gpt_memory
from engine.trace import Tracer
from kqv_cli.charts import print_line_chart
from kqv_cli.checkpoint_out import check_writable
from kqv_cli.cli import app, interrupted, trace_app, train_app
from kqv_cli.commands.hf import MODEL_HELP, sample_pretrained, trace_pretrained
from kqv_cli.ctrl_c import stop_on_ctrl_c
from kqv_cli.generated_text import GeneratedTextOut
from kqv_cli.messages import console, note, print_json, threads_used
from kqv_cli.progress_bars import iteration_progress
from kqv_cli.services import datasets, sampling
from kqv_cli.services.numbers import check_positive
from kqv_cli.trace_table import print_trace

PIZZA = "<|endoftext|>The pizza came out of the oven and it tasted good"

_OPTIONS = {
    "block_size": typer.Option(64, "--block-size", help="Context length T (characters)."),
    "batch_size": typer.Option(12, "--batch-size", help="Sequences per batch B."),
    "n_layer": typer.Option(4, "--n-layer", help="Transformer blocks."),
    "n_head": typer.Option(4, "--n-head", help="Attention heads nh (must divide n-embd)."),
    "n_embd": typer.Option(128, "--n-embd", help="Embedding width C."),
    "dropout": typer.Option(0.0, help="Dropout probability while training."),
    "pos": typer.Option("learned", help=f"Position encoding: {' | '.join(POSITIONS)}."),
    "bias": typer.Option(True, "--bias/--no-bias", help="Biases in linear layers and LayerNorms."),
    "seed": typer.Option(1337, help="Seed for the weights, the batches and dropout."),
    "text": typer.Option(None, "--text", help="Any UTF-8 text file (default: Tiny Shakespeare)."),
}


def model_config(vocab_size, block_size, n_layer, n_head, n_embd, dropout, pos, bias) -> GPTConfig:
    return GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                     n_embd=n_embd, dropout=dropout, bias=bias, pos=pos)


def load_text(text: Path | None, block_size: int, quiet: bool) -> TextData:
    """``--text``, else Tiny Shakespeare from the cache, else downloaded into it, with a bar."""
    from kqv_cli.progress_bars import download_progress

    with download_progress(enabled=not quiet) as on_progress:  # shows nothing unless it downloads
        return datasets.text(text, block_size, on_progress)


def overridden_on_resume(ctx: typer.Context, saved: dict) -> list[str]:
    """The flags typed on the command line that the resumed checkpoint overrides: every setting
    it saved except those a resumed run may change (engine.gpt.train.CHANGEABLE_ON_RESUME)."""

    def typed(name):  # not a default (typer vendors click, so the enum is compared by name)
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    def flag(name, value):
        dashed = name.replace("_", "-")
        if isinstance(value, bool):  # --bias / --no-bias
            return f"--{dashed}" if value else f"--no-{dashed}"
        return f"--{dashed} {value}"

    return [f"{flag(name, ctx.params[name])} (saved: {flag(name, saved[name])})"
            for name in ctx.params
            if name in saved and name not in CHANGEABLE_ON_RESUME
            and typed(name) and ctx.params[name] != saved[name]]


@train_app.command("gpt")
def train_gpt(
    ctx: typer.Context,
    text: Path | None = _OPTIONS["text"],
    block_size: int = _OPTIONS["block_size"],
    batch_size: int = _OPTIONS["batch_size"],
    n_layer: int = _OPTIONS["n_layer"],
    n_head: int = _OPTIONS["n_head"],
    n_embd: int = _OPTIONS["n_embd"],
    max_iters: int = typer.Option(2000, "--max-iters", help="Training iterations."),
    lr: float = typer.Option(
        2e-3, help="Peak learning rate (warm-up, then cosine decay). nanoGPT's CPU run uses 1e-3."),
    min_lr: float | None = typer.Option(
        None, "--min-lr", show_default="lr/10", help="Learning rate at the end of the cosine decay."),
    warmup_iters: int = typer.Option(100, "--warmup-iters", help="Iterations of linear warm-up to --lr."),
    dropout: float = _OPTIONS["dropout"],
    eval_interval: int = typer.Option(250, "--eval-interval", help="Iterations between evaluations."),
    eval_iters: int = typer.Option(20, "--eval-iters", help="Batches per evaluation of each split."),
    seed: int = _OPTIONS["seed"],
    pos: str = _OPTIONS["pos"],
    bias: bool = _OPTIONS["bias"],
    out: Path = typer.Option(Path("gpt.npz"), "--out", help="Checkpoint to write (.npz)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue from this checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out this run did not write."),
    threads: str = typer.Option(
        "auto", help="1: the batch's two halves one after the other; 2: side by side on two cores; "
        "auto: time both as it trains and keep the faster."),
    engine: str = typer.Option(
        "fast", help="fast: fused compiled kernels (numba) under the layers; readable: the numpy layers "
        "the lessons show, one line of the maths at a time. Same loss curve to float32 rounding."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end instead."),
) -> None:
    """Train a character-level GPT on Tiny Shakespeare (or --text).

    The defaults are nanoGPT's CPU run's model and batch (4 layers, 4 heads,
    C=128, T=64, B=12, 2000 iterations) with a learning rate that suits a batch
    of 12×64: --lr 2e-3 ends near val loss 1.82. nanoGPT's exact recipe is
    --lr 1e-3 --no-bias, which ends near 1.90, as nanoGPT's run does.
    The GELU is the tanh form (GPT-2, llm.c); nanoGPT's is the exact erf form.
    """
    n_threads = parse_threads(threads)
    # said once every other input has been checked, so a refused run never announced a replacement
    replacing = check_writable(out, replace=force, resume=resume, resumable=True)
    data = load_text(text, block_size, quiet=as_json)
    cfg = model_config(data.vocab.size, block_size, n_layer, n_head, n_embd, dropout, pos, bias)
    tc = TrainConfig(batch_size=batch_size, max_iters=max_iters, lr=lr, min_lr=min_lr,
                     warmup_iters=warmup_iters, eval_interval=eval_interval, eval_iters=eval_iters,
                     seed=seed, threads=n_threads, engine=engine.strip().lower())
    trainer = GPTTrainer(data, cfg, tc, out=out, resume=resume)
    cfg, tc = trainer.model.config, trainer.tc
    if resume is not None and (ignored := overridden_on_resume(ctx, {**asdict(cfg), **asdict(tc)})):
        note(f"{resume} keeps the settings it was trained with; ignored: {', '.join(ignored)}")
    if trainer.iter >= tc.max_iters:
        raise KqvError(f"{resume} is already at iteration {trainer.iter}; pass a --max-iters above it "
                       "to train further")
    if replacing:
        note(replacing)
    if not as_json:
        what = f"resuming {resume} at iteration {trainer.iter}" if resume else "training"
        console.print(
            f"GPT {what}: {trainer.model.num_params:,} parameters, {cfg.n_layer} layers, {cfg.n_head} "
            f"heads, C={cfg.n_embd}, T={cfg.block_size}, B={tc.batch_size}, vocab {cfg.vocab_size} "
            f"characters of {data.source} ({data.train.size:,} train / {data.val.size:,} val)"
        )

    progress, on_step = iteration_progress(console, tc.max_iters, trainer.iter, enabled=not as_json,
                                           loss_format=".4f")

    def on_eval(info):
        if as_json:
            return
        sample = ""
        if info.iter > 0:
            sample = "  " + repr(sampling.text(trainer.model, trainer.vocab, 60, seed=seed)[1:])
        progress.console.print(f"iter {info.iter:>5}  train {info.train_loss:.4f}  val {info.val_loss:.4f}"
                               f"{sample}")

    with progress, stop_on_ctrl_c() as should_stop:  # a TrainingDiverged is a KqvError: one line, exit 2
        result = trainer.run(on_step=on_step, on_eval=on_eval, should_stop=should_stop)

    if as_json:
        print_json(result.to_json())
    else:
        plot_losses(result)
        used = threads_used(result.threads)
        console.print(f"{result.iters} iterations, {result.ms_per_iter:.1f} ms per iteration ({used}, "
                      f"{result.engine} engine); "
                      f"train loss {result.train_loss:.4f}, val loss {result.val_loss:.4f}")
        saved = result.checkpoint
        console.print(f"Saved to {saved}; try: kqv sample {saved} --prompt \"ROMEO:\"")
    if moved := trainer.claim.note():
        note(moved)
    if result.stopped:
        raise interrupted(f"interrupted (Ctrl-C) at iteration {result.iters}; checkpoint saved to "
                   f"{result.checkpoint}; continue with --resume {result.checkpoint}")


def parse_threads(text: str) -> int | None:
    """``auto`` -> None (let the trainer time 1 and 2 threads); ``1`` or ``2`` as given."""
    if text.strip().lower() == "auto":
        return None
    if text.strip() not in ("1", "2"):
        raise KqvError(f"--threads takes auto, 1 or 2 (one thread per half of the batch), got {text!r}")
    return int(text)


def plot_losses(result) -> None:
    """Train and val loss at each evaluation as a terminal line chart."""
    if len(result.evals) < 2:
        return
    iters = [e.iter for e in result.evals]
    print_line_chart(console, [("train", iters, [e.train_loss for e in result.evals]),
                               ("val", iters, [e.val_loss for e in result.evals])],
                     "loss per iteration", "iteration")


@app.command("sample")
def sample(
    checkpoint: Path | None = typer.Argument(None, help="A checkpoint written by `kqv train gpt`."),
    model_name: str | None = typer.Option(None, "--model", help=f"Instead of a checkpoint: {MODEL_HELP}"),
    prompt: str | None = typer.Option(None, help="Text to start from (default: a new line; "
                                      "<|endoftext|> for GPT-2)."),
    tokens: int = typer.Option(500, help="Characters (tokens, with --model) to generate. The model reads "
                               "its last block_size (n_positions) tokens; past that, each token reruns "
                               "them all (the KV cache no longer applies), as without a cache."),
    temperature: float = typer.Option(sampling.TEMPERATURE, help="Below 1: safer; above 1: wilder."),
    top_k: int = typer.Option(sampling.TOP_K, "--top-k",
                              help="Sample only among the k likeliest characters."),
    seed: int | None = typer.Option(None, help="Seed for reproducible samples."),
) -> None:
    """Stream text generated by a trained character GPT, or by GPT-2 (--model)."""
    check_positive("--tokens", tokens, "number of characters")
    if (checkpoint is None) == (model_name is None):
        raise KqvError("give a checkpoint (kqv sample gpt.npz) or --model gpt2|PATH, "
                       + ("not both" if checkpoint is not None else "one of the two"))
    if model_name is not None:
        if temperature <= 0:  # checked before loading 500 MB of weights
            raise KqvError(f"temperature must be above 0, got {temperature}")
        return sample_pretrained(model_name, prompt, tokens, temperature, top_k, seed)
    model, vocab, _ = load_gpt(checkpoint)
    prompt = vocab.start_char if prompt is None else prompt
    drawn = sampling.characters(model, vocab, tokens, prompt, temperature, top_k, seed)  # checks the prompt
    out = GeneratedTextOut()  # control characters of the training text are shown on a terminal
    out.write(prompt)
    for c in drawn:
        out.write(c)
        out.flush()
    out.write("\n")


@trace_app.command("gpt")
def trace_gpt(
    text: Path | None = _OPTIONS["text"],
    block_size: int = _OPTIONS["block_size"],
    batch_size: int = _OPTIONS["batch_size"],
    n_layer: int = _OPTIONS["n_layer"],
    n_head: int = _OPTIONS["n_head"],
    n_embd: int = _OPTIONS["n_embd"],
    dropout: float = _OPTIONS["dropout"],
    pos: str = _OPTIONS["pos"],
    bias: bool = _OPTIONS["bias"],
    seed: int = _OPTIONS["seed"],
    values: bool = typer.Option(False, help="Also show min / mean / max of each variable."),
    model_name: str | None = typer.Option(None, "--model", help=f"Trace a real model: {MODEL_HELP}"),
    prompt: str = typer.Option(PIZZA, help="With --model: the text of the forward pass."),
    fold: bool = typer.Option(False, "--fold", help="Show block 0 only; the other blocks have the same "
                              "variables and shapes."),
) -> None:
    """Print every variable of one forward and backward pass of the GPT, with its shape.

    With --model, the forward pass of GPT-2 (or any GPT-2 folder) over --prompt at full size,
    then one token generated with the KV cache."""
    if model_name is not None:
        return trace_pretrained(model_name, prompt, fold, values)
    check_positive("--batch-size", batch_size)
    data = datasets.text_without_download(text, block_size)
    cfg = model_config(data.vocab.size, block_size, n_layer, n_head, n_embd, dropout, pos, bias)
    # the trace keeps a copy of every variable: count the batch twice
    check_fits(gpt_memory(cfg, 2 * batch_size, training=True), "tracing this GPT",
               "lower --batch-size, --block-size, --n-embd or --n-layer")
    from engine.data.text import get_batch
    from engine.gpt.model import GPT

    model = GPT(cfg, seed=seed)
    rng = np.random.default_rng(seed)
    x, y = get_batch(data.train, batch_size, block_size, rng)
    tracer = Tracer(dims=model.dims(batch_size, block_size))
    model.forward(x, y, tracer=tracer, rng=rng if dropout > 0 else None)
    model.backward(tracer=tracer)
    dims = ", ".join(f"{k}={v}" for k, v in tracer.dims.items())
    console.print(f"One forward and backward pass of the GPT on {batch_size} windows of {data.source}; "
                  f"weights are (in, out), so a layer is x @ w. Dimensions: {dims}")
    print_trace(tracer, console, values, fold)
