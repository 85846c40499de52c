"""MarianMT models on the command line: ``kqv translate --model`` and ``kqv trace translate --model``.

:mod:`kqv_cli.commands.translate` hands over here when ``--model`` is given. The engine does the
work: :mod:`engine.hf.hub` finds the folder, :mod:`engine.hf.marian` loads it into the same
:class:`~engine.translation.model.Transformer` that ``kqv train translate`` trains and decodes
with transformers' ``generate()`` rules, :mod:`engine.hf.marian_tokenizer` cuts the text.
"""

from __future__ import annotations

import time

import numpy as np
import typer

from engine.errors import KqvError
from engine.trace import Tracer
from kqv_cli.cli import err_console
from kqv_cli.cross_attention_table import print_cross_attention
from kqv_cli.messages import console, note
from kqv_cli.trace_table import print_trace


def encode(tok, sentences: list[str], max_len: int, truncate: bool) -> list[np.ndarray]:
    """Each sentence as source ids (pieces + </s>), refused or cut when longer than the positions."""
    out = []
    for i, s in enumerate(sentences):
        ids = tok.encode(s.strip())
        if ids.size > max_len:
            if not truncate:
                raise KqvError(f"sentence {i + 1} is {ids.size - 1} pieces long; this model reads at most "
                               f"{max_len - 1} (its {max_len} positions, one for the end mark); --truncate "
                               "cuts it")
            note(f"sentence {i + 1} was cut to the model's {max_len - 1} pieces")
            ids = np.append(ids[: max_len - 1], tok.eos_id)
        out.append(ids)
    return out


def translate_pretrained(model_name: str, sentences: list[str], beam: int | None, show_attention: bool,
                         head: int | None, truncate: bool) -> None:
    """Translate each sentence with the Marian model; one line out per sentence in."""
    from engine.hf.marian import load_pretrained, translate_ids

    start = time.perf_counter()
    model, generation, tok, folder = load_pretrained(model_name)
    loaded = time.perf_counter() - start
    if head is not None and not 0 <= head < model.config.n_head:
        raise KqvError(f"--head must be from 0 to {model.config.n_head - 1} (this model has "
                       f"{model.config.n_head} heads), got {head}")
    ids = encode(tok, sentences, model.config.max_len, truncate)
    start = time.perf_counter()
    for src in ids:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = translate_ids(model, generation, src[None, :], beam=beam)[0]
        typer.echo(tok.decode(out))
        if show_attention:
            print_cross_attention(model, tok, src.tolist(), out, head)
    beams = generation.num_beams if beam is None else beam
    err_console.print(f"{folder}: loaded in {loaded:.2f} s; {len(ids)} sentence(s) in "
                      f"{time.perf_counter() - start:.2f} s, beam {beams}", soft_wrap=True)


def trace_pretrained(model_name: str, pairs: list[tuple[str, str]], dropout: float, seed: int, values: bool,
                     fold: bool) -> None:
    """Every variable of one training step of the Marian model on ``pairs``, with its shape."""
    from engine.hf.hub import MARIAN_MODELS, marian_name, model_folder
    from engine.hf.marian import load_pretrained, read_config
    from engine.runtime.memory import check_fits, translation_memory

    # a training step keeps every activation and a gradient per weight: costed before loading
    sizes = read_config(model_folder(marian_name(model_name), MARIAN_MODELS))
    check_fits(translation_memory(sizes, len(pairs), min(sizes.max_len, 32), training=True),
               f"a training step of {model_name}", "trace a smaller model")
    model, _, tok, folder = load_pretrained(model_name)
    cfg = model.config
    if dropout not in (0.0, cfg.dropout):
        raise KqvError(f"with --model, --dropout is 0 or the model's own {cfg.dropout} (its config.json), "
                       f"not {dropout}")
    src = [tok.encode(en) for en, _ in pairs]
    tgt = [tok.encode_target(fr) for _, fr in pairs]
    S, T = max(map(len, src)), max(map(len, tgt))
    if max(S, T) > cfg.max_len:
        raise KqvError(f"a built-in pair is longer than this model's {cfg.max_len} positions")
    B = len(pairs)
    src_ids = np.full((B, S), cfg.pad_id, dtype=np.int64)
    tgt_out = np.full((B, T), cfg.pad_id, dtype=np.int64)
    for b, (s, t) in enumerate(zip(src, tgt, strict=True)):
        src_ids[b, : s.size] = s
        tgt_out[b, : t.size] = t
    tgt_in = np.concatenate([np.full((B, 1), cfg.bos_id), tgt_out[:, :-1]], axis=1)  # shifted right
    tracer = Tracer(dims=model.dims(B, S, T), keep_values=values)
    rng = np.random.default_rng(seed) if dropout > 0 else None
    logits = model.forward(src_ids, tgt_in, tracer=tracer, rng=rng)
    model.loss(logits, tgt_out, smoothing=0.1, tracer=tracer)
    model.backward(tracer=tracer)
    dims = ", ".join(f"{k}={v}" for k, v in tracer.dims.items())
    console.print(f"One training step of the MarianMT in {folder} on {B} English-French pairs, padded "
                  f"(pad id {cfg.pad_id}, which is also the decoder's start token); weights are (in, out). "
                  f"Dimensions: {dims}", soft_wrap=True)
    print_trace(tracer, console, values, fold)
