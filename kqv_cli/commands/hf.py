"""GPT-2 and other Hugging Face GPT-2 folders on the command line, and ``kqv export``.

``kqv sample --model`` and ``kqv trace gpt --model`` land here (:mod:`kqv_cli.commands.gpt`
hands over when ``--model`` is given); ``kqv export CKPT --hf DIR`` is defined here. The engine
does the work: :mod:`engine.hf.hub` finds the folder, :mod:`engine.hf.gpt2` loads it into the
ordinary GPT, :mod:`engine.hf.export` writes one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import typer

from engine.hf.tokenizer import END_OF_TEXT
from engine.trace import Tracer
from kqv_cli.cli import app, err_console
from kqv_cli.generated_text import GeneratedTextOut
from kqv_cli.messages import console, note
from kqv_cli.trace_table import print_trace

MODEL_HELP = ("GPT-2 weights: gpt2, distilgpt2, gpt2-medium (after `kqv data gpt2`), or the path of a "
              "folder with config.json, model.safetensors and tokenizer.json.")


def sample_pretrained(model_name: str, prompt: str | None, tokens: int, temperature: float, top_k: int,
                      seed: int | None) -> None:
    """Stream ``tokens`` new tokens after ``prompt``, then report the rate on stderr."""
    from engine.hf.hub import load_pretrained

    model, tok, folder = load_pretrained(model_name)
    if prompt is None:  # GPT-2 starts a new document after <|endoftext|>
        prompt = END_OF_TEXT if tok.end_of_text is not None else "\n"
    ids = tok.encode_prompt(prompt, model.config.block_size)
    n_positions = model.config.block_size
    if (past := ids.size + tokens - 1 - n_positions) > 0:  # tokens drawn from a context over n_positions
        note(f"the last {past} of these tokens come past the model's window of "
             f"{n_positions} (n_positions): each of them reruns the last {n_positions} tokens, as nanoGPT "
             "does, since the KV cache no longer matches their positions; that is much slower")
    out = GeneratedTextOut()  # a tokenizer's escape sequences are shown on a terminal, not obeyed
    if prompt != END_OF_TEXT:
        out.write(prompt)
    new: list[int] = []
    shown = ""
    start = time.perf_counter()
    for i in model.stream(ids, tokens, temperature=temperature, top_k=top_k, rng=np.random.default_rng(seed)):
        new.append(i)
        text = tok.decode(new)
        if not text.endswith("\ufffd"):  # a character whose bytes span two tokens: wait for the rest
            out.write(text[len(shown):])
            out.flush()
            shown = text
    seconds = time.perf_counter() - start
    out.write(tok.decode(new)[len(shown):] + "\n")
    err_console.print(f"{len(new)} tokens in {seconds:.2f} s: {len(new) / seconds:.1f} tokens/s "
                      f"(prompt of {ids.size} tokens, KV cache; {folder})", soft_wrap=True)


def trace_pretrained(model_name: str, prompt: str, fold: bool, values: bool) -> None:
    """One traced forward pass over the prompt, then one generated token through the KV cache."""
    from engine.hf.hub import load_pretrained

    model, tok, folder = load_pretrained(model_name)
    ids = tok.encode_prompt(prompt, model.config.block_size)
    T = ids.size
    tracer = Tracer(dims=model.dims(1, T, t=T), keep_values=values)
    kv = model.kv_cache()
    logits, _ = model.forward_on_faster_threads(ids[None, :], tracer=tracer, cache=kv)  # fills it: t = T
    console.print(f"The forward pass of {folder} over {T} tokens {tok.pieces(ids)}; weights are "
                  f"(in, out), so a layer is x @ w. Dimensions: {_dims(tracer)}", soft_wrap=True)
    print_trace(tracer, console, values, fold)
    if kv.full:
        console.print(f"\nThe prompt fills all {T} positions (n_positions), so no token can follow it here.")
        return
    nxt = int(np.argmax(logits[0, -1]))
    step = Tracer(dims=model.dims(1, 1, t=T + 1), keep_values=values)
    with step.phase("generate"):
        model.forward_on_faster_threads(np.array([[nxt]]), tracer=step, cache=kv)
    console.print(f"\nGenerating the likeliest next token, {tok.decode([nxt])!r}: one position through every "
                  f"block, its k and v added to the KV cache. Dimensions: {_dims(step)}", soft_wrap=True)
    print_trace(step, console, values, fold)


def _dims(tracer: Tracer) -> str:
    return ", ".join(f"{k}={v}" for k, v in tracer.dims.items())


@app.command("export")
def export(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by `kqv train gpt` (a GPT-2 folder) or "
                                      "`kqv train translate` (a MarianMT folder)."),
    hf: Path = typer.Option(..., "--hf", help="Folder to write the Hugging Face files into."),
    force: bool = typer.Option(False, "--force", help="Write into a folder that already has files."),
) -> None:
    """Write a character GPT as a Hugging Face GPT-2 folder, or a translation model as a MarianMT one,
    for transformers to load and train on."""
    from engine.hf.export import export_checkpoint

    folder = export_checkpoint(checkpoint, hf, force)
    if json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type") == "marian":
        console.print(f"Wrote {folder}: config.json, generation_config.json, model.safetensors, "
                      "tokenizer.json, tokenizer_config.json", soft_wrap=True)
        console.print(f"kqv translate --model {folder} reads it back; in Python, "
                      f"transformers.MarianMTModel.from_pretrained(\"{folder}\") and "
                      f"AutoTokenizer.from_pretrained(\"{folder}\") load it (see the README)", soft_wrap=True)
        return
    console.print(f"Wrote {folder}: config.json, model.safetensors, tokenizer.json, tokenizer_config.json",
                  soft_wrap=True)
    console.print(f"kqv sample --model {folder} reads it back; in Python, "
                  f"transformers.GPT2LMHeadModel.from_pretrained(\"{folder}\") and "
                  f"AutoTokenizer.from_pretrained(\"{folder}\") load it (see the README)", soft_wrap=True)
