"""``kqv train translate``, ``kqv translate`` and ``kqv trace translate``: the encoder–decoder.

The engine does the work (:mod:`engine.translation.train`, :mod:`engine.translation.evaluate`,
:mod:`engine.data.pairs`); this module finds the pairs, parses options, shows progress, prints
translations and the cross-attention table.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import typer

from engine.errors import KqvError
from engine.trace import Tracer
from kqv_cli.checkpoint_out import check_writable
from kqv_cli.cli import app, interrupted, trace_app, train_app
from kqv_cli.commands.gpt import overridden_on_resume, parse_threads, plot_losses
from kqv_cli.cross_attention_table import print_cross_attention
from kqv_cli.ctrl_c import stop_on_ctrl_c
from kqv_cli.messages import console, note, print_json, threads_used
from kqv_cli.progress_bars import iteration_progress
from kqv_cli.trace_table import print_trace

NORMS = ("post", "pre")
ACTIVATIONS = ("relu", "gelu", "silu")
MARIAN_HELP = ("A MarianMT model instead of a checkpoint: Helsinki-NLP/opus-mt-en-fr or opus-mt-en-de (after "
               "`kqv data marian`), or the path of a folder with config.json, model.safetensors, source.spm, "
               "target.spm and vocab.json.")

_OPTIONS = {
    "pairs": typer.Option(None, "--pairs", help="A UTF-8 file of source<TAB>target lines (default: "
                          "the English-French pairs, from $KQV_DATA_DIR, the cache or downloaded)."),
    "n_embd": typer.Option(128, "--n-embd", help="Embedding width C (d_model)."),
    "n_head": typer.Option(4, "--n-head", help="Attention heads nh (must divide n-embd)."),
    "n_layer": typer.Option(2, "--n-layer", help="Encoder layers, and as many decoder layers."),
    "batch_size": typer.Option(64, "--batch-size", help="Sentence pairs per batch B."),
    "dropout": typer.Option(0.1, help="Dropout probability while training."),
    "norm": typer.Option("post", help="LayerNorm after each sub-layer (post: the paper) or before "
                         "(pre: GPT-2)."),
    "activation": typer.Option("relu", help="Feed-forward activation: relu (the paper), gelu or silu "
                               "(Marian)."),
    "seed": typer.Option(1337, help="Seed for the weights, the batches and dropout."),
}


def sizes(n_embd: int, n_head: int, n_layer: int, dropout: float, norm: str, activation: str) -> dict:
    """The model's sizes from the flags, each checked before anything is built."""
    for name, value in (("n-embd", n_embd), ("n-head", n_head), ("n-layer", n_layer)):
        if value <= 0:
            raise KqvError(f"--{name} must be a positive whole number, got {value}")
    if n_embd % n_head:
        raise KqvError(f"--n-embd {n_embd} must be a multiple of --n-head {n_head} (each head gets "
                       "n-embd / n-head channels)")
    if norm not in NORMS:
        raise KqvError(f"--norm takes {' or '.join(NORMS)}, got {norm!r}")
    if activation not in ACTIVATIONS:
        raise KqvError(f"--activation takes {', '.join(ACTIVATIONS)}, got {activation!r}")
    if not 0 <= dropout < 1:
        raise KqvError(f"--dropout must be in [0, 1), got {dropout}")
    return {"n_embd": n_embd, "n_head": n_head, "n_layer": n_layer, "n_dec_layer": n_layer,
            "d_ff": 4 * n_embd, "dropout": dropout, "norm": norm, "activation": activation}


def find_pairs(pairs: Path | None, quiet: bool) -> Path:
    """``--pairs``, else the English-French pairs found on this machine or downloaded."""
    if pairs is not None:
        return pairs
    from engine.data.eng_fra import fetch_eng_fra
    from kqv_cli.progress_bars import download_progress

    with download_progress(enabled=not quiet) as on_progress:
        return fetch_eng_fra(on_progress=on_progress)


@train_app.command("translate")
def train_translate(
    ctx: typer.Context,
    pairs: Path | None = _OPTIONS["pairs"],
    n_embd: int = _OPTIONS["n_embd"],
    n_head: int = _OPTIONS["n_head"],
    n_layer: int = _OPTIONS["n_layer"],
    batch_size: int = _OPTIONS["batch_size"],
    max_iters: int = typer.Option(1600, "--max-iters", help="Training iterations (batches)."),
    lr: float = typer.Option(1.0, help="Scales the paper's schedule "
                             "C^-0.5·min(step^-0.5, step·warmup^-1.5)."),
    warmup_iters: int = typer.Option(400, "--warmup-iters",
                                     help="Iterations of the schedule's linear warm-up."),
    dropout: float = _OPTIONS["dropout"],
    norm: str = _OPTIONS["norm"],
    activation: str = _OPTIONS["activation"],
    vocab_size: int = typer.Option(8000, "--vocab-size", help="Pieces in the shared BPE vocabulary."),
    eval_interval: int = typer.Option(200, "--eval-interval", help="Iterations between validation losses."),
    bleu_sentences: int = typer.Option(1000, "--bleu-sentences",
                                       help="Test sentences translated for BLEU at the end (0: none)."),
    beam: int = typer.Option(4, "--beam", help="Beam width of the second BLEU (the first is greedy)."),
    seed: int = _OPTIONS["seed"],
    out: Path = typer.Option(Path("translate.npz"), "--out", help="Checkpoint to write (.npz)."),
    resume: Path | None = typer.Option(None, "--resume", help="Continue from this checkpoint."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out this run did not write."),
    threads: str = typer.Option(
        "auto", help="1: the batch's two halves one after the other; 2: side by side on two cores; "
        "auto: time both as it trains and keep the faster."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end instead."),
) -> None:
    """Train an encoder-decoder Transformer to translate English to French (or any --pairs).

    The paper's model at a CPU size: post-LayerNorm, ReLU, sinusoidal positions, one BPE
    vocabulary and embedding shared by both languages and the output, label smoothing 0.1,
    Adam (β₂ 0.98) with the warm-up schedule. At the end: test-set BLEU (sacrebleu, every
    reference), greedy and beam search.
    """
    from engine.data.pairs import load_pairs
    from engine.translation.train import CHANGEABLE_ON_RESUME, TranslateTrainConfig, TranslateTrainer

    model_sizes = sizes(n_embd, n_head, n_layer, dropout, norm, activation)
    tc = TranslateTrainConfig(batch_size=batch_size, max_iters=max_iters, lr=lr, warmup_iters=warmup_iters,
                              eval_interval=eval_interval, vocab_size=vocab_size, seed=seed,
                              bleu_sentences=bleu_sentences, beam=beam, threads=parse_threads(threads))
    # said once every other input has been checked, so a refused run never announced a replacement
    replacing = check_writable(out, replace=force, resume=resume, resumable=True)
    splits = load_pairs(find_pairs(pairs, quiet=as_json))
    trainer = TranslateTrainer(splits, model_sizes, tc, out=out, resume=resume, on_note=note)
    cfg, tc = trainer.config, trainer.tc
    if resume is not None:
        saved = {**asdict(cfg), **asdict(tc), "n_layer": cfg.n_layer}
        if ignored := [f for f in overridden_on_resume(ctx, saved) if f.split()[0] not in
                       {"--" + n.replace("_", "-") for n in CHANGEABLE_ON_RESUME}]:
            note(f"{resume} keeps the settings it was trained with; ignored: {', '.join(ignored)}")
        if trainer.iter >= tc.max_iters:
            raise KqvError(f"{resume} is already at iteration {trainer.iter}; pass a --max-iters above it "
                           "to train further")
    if replacing:
        note(replacing)
    if not as_json:
        what = f"resuming {resume} at iteration {trainer.iter}" if resume else "training"
        console.print(
            f"Transformer {what}: {trainer.model.num_params:,} parameters, {cfg.n_layer}+"
            f"{cfg.n_dec_layer} layers, {cfg.n_head} heads, C={cfg.n_embd}, {cfg.norm}-LN, {cfg.activation}, "
            f"B={tc.batch_size}, shared BPE of {trainer.vocab.size:,} pieces; {splits.describe()}"
        )

    progress, on_step = iteration_progress(console, tc.max_iters, trainer.iter, enabled=not as_json,
                                           loss_format=".3f")

    def on_eval(info):
        if not as_json:
            progress.console.print(f"iter {info.iter:>5}  train {info.train_loss:.3f}  "
                                   f"val {info.val_loss:.3f}  (epoch {trainer.epoch:.1f}, "
                                   f"{trainer.train_seconds:.0f} s)")

    def on_bleu(text):
        if not as_json:
            progress.console.print(text + "...")

    with progress, stop_on_ctrl_c() as should_stop:
        result = trainer.run(on_step=on_step, on_eval=on_eval, should_stop=should_stop, on_bleu=on_bleu)

    if as_json:
        print_json(result.to_json())
    else:
        plot_losses(result)
        used = threads_used(result.threads)
        console.print(f"{result.iters} iterations, {result.ms_per_iter:.0f} ms per iteration ({used}), "
                      f"{result.train_seconds:.0f} s of training; val loss {result.val_loss:.3f}")
        if result.bleu:
            b = result.bleu
            key = f"beam{tc.beam}"
            beams = f", beam {tc.beam} {b[key]:.1f}" if key in b else ""
            console.print(f"test BLEU (sacrebleu, {b['sentences']:,} sentences, all {b['references']:,} "
                          f"references): greedy {b['greedy']:.1f}{beams}")
            for ex in result.examples[:3]:
                console.print(f"  {ex['source']}  →  {ex['translation']}")
        saved = result.checkpoint
        console.print(f"Saved to {saved}; try: kqv translate {saved} \"The pizza came out of the oven.\"")
    if moved := trainer.claim.note():
        note(moved)
    if result.stopped:
        raise interrupted(f"interrupted (Ctrl-C) at iteration {result.iters}; checkpoint saved to "
                   f"{result.checkpoint}; continue with --resume {result.checkpoint}")


# -- kqv translate -----------------------------------------------------------------------------


@app.command("translate")
def translate(
    checkpoint: str | None = typer.Argument(None, help="A checkpoint written by `kqv train translate` "
                                            "(left out with --model)."),
    text: list[str] | None = typer.Argument(None, help="Sentences to translate (default: stdin, "
                                            "one a line)."),
    beam: int | None = typer.Option(None, "--beam", help="Beam width (1: greedy); default 4, or the "
                                    "--model's num_beams."),
    show_attention: bool = typer.Option(False, "--show-attention",
                                        help="Print the last decoder layer's cross-attention as a table."),
    head: int | None = typer.Option(None, "--head", help="With --show-attention: one head (default: the "
                                    "mean of the heads)."),
    truncate: bool = typer.Option(False, "--truncate", help="Cut a sentence longer than the model's "
                                  "positions (and say so) instead of refusing it."),
    model_name: str | None = typer.Option(None, "--model", help=MARIAN_HELP),
) -> None:
    """Translate sentences with a trained encoder-decoder; one line out per sentence in."""
    from engine.translation.checkpoint import load_translator
    from engine.translation.evaluate import encode_sources, translate_ids
    from engine.translation.train import check_beam

    if beam is not None:
        check_beam(beam)
    if model_name is not None:  # no checkpoint: the first argument is a sentence
        text = ([checkpoint] if checkpoint is not None else []) + list(text or [])
    elif checkpoint is None:
        raise KqvError("give a checkpoint written by kqv train translate, e.g. kqv translate translate.npz "
                       "\"I am hungry.\", or --model Helsinki-NLP/opus-mt-en-fr")
    sentences = list(text) if text else None
    if sentences is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise KqvError("give a sentence to translate, e.g. kqv translate translate.npz \"I am hungry.\", "
                           "or pipe sentences in, one a line")
        sentences = [line.rstrip("\r\n") for line in sys.stdin]
        sentences = [s for s in sentences if s.strip()]
        if not sentences:
            raise KqvError("stdin held no sentence to translate")
    for i, s in enumerate(sentences):
        if not s.strip():
            raise KqvError(f"sentence {i + 1} is empty; give some words to translate")
    if model_name is not None:
        from kqv_cli.commands.marian import translate_pretrained

        translate_pretrained(model_name, sentences, beam, show_attention, head, truncate)
        return
    model, vocab, _ = load_translator(Path(checkpoint))
    if head is not None and not 0 <= head < model.config.n_head:
        raise KqvError(f"--head must be from 0 to {model.config.n_head - 1} (this model has "
                       f"{model.config.n_head} heads), got {head}")
    ids, long = encode_sources(vocab, [s.strip() for s in sentences], model.config.max_len, truncate)
    for i in long:
        note(f"sentence {i + 1} was cut to the model's {model.config.max_len - 1} pieces")
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        outs = translate_ids(model, ids, beam=4 if beam is None else beam)
    for src, out_ids in zip(ids, outs, strict=True):
        typer.echo(vocab.decode(out_ids))
        if show_attention:
            print_cross_attention(model, vocab, src, out_ids, head)



# -- kqv trace translate -------------------------------------------------------------------------

TRACE_PAIRS = [
    ("The pizza came out of the oven.", "La pizza est sortie du four."),
    ("I am hungry.", "J'ai faim."),
    ("Tom is reading a book.", "Tom lit un livre."),
    ("We went home.", "Nous sommes rentrés à la maison."),
]


@trace_app.command("translate")
def trace_translate(
    batch_size: int = typer.Option(2, "--batch-size", help="Sentence pairs in the traced batch B."),
    n_embd: int = typer.Option(32, "--n-embd", help="Embedding width C."),
    n_head: int = _OPTIONS["n_head"],
    n_layer: int = typer.Option(1, "--n-layer", help="Encoder layers, and as many decoder layers."),
    norm: str = _OPTIONS["norm"],
    activation: str = _OPTIONS["activation"],
    dropout: float = typer.Option(0.0, help="Dropout probability in the traced step."),
    seed: int = _OPTIONS["seed"],
    values: bool = typer.Option(False, help="Also show min / mean / max of each variable."),
    fold: bool = typer.Option(False, "--fold", help="Show layer 0 only; the other layers have the same "
                              "variables and shapes."),
    model_name: str | None = typer.Option(None, "--model", help=MARIAN_HELP + " Its sizes replace the "
                                          "size options."),
) -> None:
    """Print every variable of one training step of the encoder-decoder, with its shape.

    Encoder, decoder, cross-attention, label-smoothed loss and the backward pass, on a small
    batch of English-French pairs with padding: S is the source length, T the target length."""
    from engine.data.bpe import BPEVocab
    from engine.runtime.memory import check_fits, translation_memory
    from engine.translation.batches import encode_pairs
    from engine.translation.model import Transformer, TransformerConfig

    if model_name is not None:
        from kqv_cli.commands.marian import trace_pretrained

        if not 1 <= batch_size <= len(TRACE_PAIRS):
            raise KqvError(f"--batch-size must be from 1 to {len(TRACE_PAIRS)} (the built-in pairs), "
                           f"got {batch_size}")
        trace_pretrained(model_name, TRACE_PAIRS[:batch_size], dropout, seed, values, fold)
        return
    if not 1 <= batch_size <= len(TRACE_PAIRS):
        raise KqvError(f"--batch-size must be from 1 to {len(TRACE_PAIRS)} (the built-in pairs), "
                       f"got {batch_size}")
    model_sizes = sizes(n_embd, n_head, n_layer, dropout, norm, activation)
    vocab = BPEVocab.train([side for pair in TRACE_PAIRS for side in pair] * 4, vocab_size=300)
    config = TransformerConfig(vocab_size=vocab.size, **{**model_sizes, "max_len": 64})
    check_fits(translation_memory(config, 2 * batch_size, config.max_len, training=True),
               "tracing this Transformer", "lower --n-embd or --n-layer")
    ids, _ = encode_pairs(vocab, TRACE_PAIRS[:batch_size], config.max_len)
    src, tgt_in, tgt_out = ids.batch(range(batch_size))
    model = Transformer(config, seed=seed)
    tracer = Tracer(dims=model.dims(batch_size, src.shape[1], tgt_in.shape[1]))
    rng = np.random.default_rng(seed) if dropout > 0 else None
    logits = model.forward(src, tgt_in, tracer=tracer, rng=rng)
    model.loss(logits, tgt_out, smoothing=0.1, tracer=tracer)
    model.backward(tracer=tracer)
    dims = ", ".join(f"{k}={v}" for k, v in tracer.dims.items())
    console.print(f"One training step of the encoder-decoder Transformer on {batch_size} English-French "
                  f"pairs, padded (pad id {config.pad_id}); weights are (in, out). Dimensions: {dims}")
    print_trace(tracer, console, values, fold)
