"""Where the decoder looked: the last decoder layer's cross-attention as a terminal table, for
``kqv translate --show-attention`` on kqv's own model and on a MarianMT."""

from __future__ import annotations

import numpy as np
from rich.table import Table
from rich.text import Text

from engine.errors import KqvError
from engine.trace import Tracer
from kqv_cli.messages import console


def cross_attention(model, src: list[int], out_ids: list[int]) -> np.ndarray:
    """The last decoder layer's cross-attention (nh, T, S) while the model reads its own
    translation: one traced forward pass of ``<s> + out`` against the source."""
    cfg = model.config
    tracer = Tracer(dims=model.dims(1, len(src), len(out_ids) + 1))
    model.forward(np.array([src]), np.array([[cfg.bos_id, *out_ids]]), tracer=tracer)
    cross = [r for r in tracer.records if r.name.endswith("cross.att") and r.phase == "forward"]
    if not cross:
        raise KqvError("this model records no cross-attention in its trace")
    return np.asarray(cross[-1].value[0], dtype=np.float64)


def print_cross_attention(model, vocab, src: list[int], out_ids: list[int], head: int | None) -> None:
    """Rows: the target pieces the decoder was writing; columns: the source pieces it read."""
    att = cross_attention(model, src, out_ids)  # (nh, T, S)
    weights = att.mean(axis=0) if head is None else att[head]
    rows = vocab.pieces(out_ids) + ["</s>"]
    cols = vocab.pieces(src)
    which = "mean of the heads" if head is None else f"head {head}"
    table = Table(title=f"cross-attention, last decoder layer ({which}); rows: target, columns: source",
                  box=None, pad_edge=False, title_justify="left")
    table.add_column("", no_wrap=True)
    for c in cols:
        table.add_column(Text(c), justify="right", no_wrap=True)
    for r, row in zip(rows, weights, strict=True):
        best = int(row.argmax())
        cells = [Text(f"{w:.2f}", style="bold" if j == best else "") for j, w in enumerate(row)]
        table.add_row(Text(r), *cells)
    console.print(table)
