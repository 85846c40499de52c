"""Step script of lessons/backward.md: the attention lesson's block, run forward and backward.

Two runs of the same untrained one-block GPT on the same word batch:

* ``block``: float32, evaluation mode (dropout off), forward then :meth:`GPT.backward`; the
  lesson reads its backward records one at a time;
* ``gradcheck``: the same model in float64, with a few weights' gradients checked live against
  central differences of the loss.

Every number shown is read from the engine's trace; this module only picks views of it.
"""

from __future__ import annotations

import numpy as np

from engine.gpt.model import GPT
from engine.trace import Tracer
from lessons.model import Extra, TraceFn, TraceRun
from lessons.steps import attention

EXTRAS = {"dlogits", "wte_shares", "mask_zero", "dscores_heatmap", "residual", "layernorm", "gradcheck"}
H = 1e-6  # the finite-difference step of the gradient check (float64)
# the parameters the gradient check perturbs, one of each kind of layer, each at its entry with
# the largest gradient (a tiny gradient would be all rounding error, however right the formula)
CHECKED = ("h0.attn.c_attn.w", "h0.attn.c_proj.w", "h0.mlp.c_fc.w", "h0.ln_1.w", "wte")


def full_dims(dims: dict) -> dict[str, int]:
    return attention.full_dims(dims)


def _run(d: dict, seed: int, dtype) -> tuple[GPT, Tracer, list[list[str]], np.ndarray, np.ndarray]:
    idx, targets, words = attention.batch(d["B"], d["T"])
    model = attention.model_for(d, seed)
    if dtype != np.float32:  # the same weights, widened: the gradient check needs float64
        wide = GPT(model.config, seed=seed, dtype=dtype)
        wide.load_params(model.params)
        model = wide
    tracer = Tracer(dims=d)
    model.forward(idx, targets, tracer=tracer)  # no rng: evaluation mode, dropout off
    model.backward(tracer)
    return model, tracer, words, idx, targets


def run_block(dims: dict, seed: int) -> TraceRun:
    d = full_dims(dims)
    model, tracer, words, idx, targets = _run(d, seed, np.float32)
    return TraceRun(tracer, d, notes=[f"untrained one-block GPT (seed {seed}), forward then backward; "
                                      f"row 0 is: {' '.join(words[0])}"],
                    extras=_extras(tracer, words, targets, d), tokens=words)


def _extras(tracer: Tracer, words: list[list[str]], targets: np.ndarray, d: dict) -> dict[str, Extra]:
    B, T, V = d["B"], d["T"], d["V"]
    N = B * T
    vocab = attention.VOCAB
    logits = tracer["logits"].value.reshape(N, V).astype(np.float64)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dlogits = tracer["dlogits"].value.reshape(N, V)
    target = int(targets[0, 0])
    nxt = vocab[target]
    extras: dict[str, Extra] = {"dlogits": {"notes": [
        f"position 0 of row 0 reads {words[0][0]!r}; its target is the next word {nxt!r} (id {target})",
        f"p[{nxt!r}] = {p[0, target]:.4f}, so dlogits there is (p − 1)/N = ({p[0, target]:.4f} − 1)/{N} = "
        f"{dlogits[0, target]:+.5f}",
        f"every other entry of that row is p/N, e.g. {dlogits[0, (target + 1) % V]:+.5f}; the row sums "
        f"to {dlogits[0].sum():+.1e} (one 1 taken away, spread over probabilities that sum to 1)"]}}

    head, lookup, total = (tracer[n].value for n in ("dwte_head", "dwte_lookup", "dwte"))
    present = sorted({int(i) for i in tracer["idx"].value.ravel()})
    absent = [v for v in range(V) if v not in present]
    extras["wte_shares"] = {"notes": [
        f"max |dwte − (dwte_head + dwte_lookup)| = {np.abs(total - head - lookup).max():.1e}",
        f"dwte_lookup is nonzero only in the rows of the {len(present)} words that occur in idx; "
        f"the other {len(absent)} rows are exactly 0 there"
        + (f" (max |row| {np.abs(lookup[absent]).max():.0e})" if absent else ""),
        f"dwte_head fills every one of the {V} rows: each word was scored as a candidate next word"]}

    dscores = tracer["h0.datt_scores"].value
    above = np.triu(np.ones((T, T), dtype=bool), k=1)
    n_above = int(above.sum()) * B * d["nh"]
    extras["mask_zero"] = {"notes": [
        f"the {n_above:,} entries above the diagonal of datt_scores: max |value| = "
        f"{(np.abs(dscores[..., above]).max() if n_above else 0.0):.1e}",
        "softmax gave them att = 0, and every term of their gradient is multiplied by att"]}
    extras["dscores_heatmap"] = {"heatmap": ("datt_scores[0, 0]: batch 0, head 0", dscores[0, 0],
                                             "query", "key", words[0], words[0])}

    dx_out, dx_attn = tracer["h0.dx_out"].value, tracer["h0.dx_attn"].value
    branch = dx_attn - dx_out
    extras["residual"] = {"notes": [
        f"|dx_out| = {np.linalg.norm(dx_out):.3e}: the gradient that arrived from above",
        f"|dx_attn − dx_out| = {np.linalg.norm(branch):.3e}: what the MLP branch (through ln_2) added",
        "dx_attn holds both: the straight path carries dx_out down unchanged"]}

    dw, db = tracer["h0.ln_2.dw"].value, tracer["h0.ln_2.db"].value
    extras["layernorm"] = {"notes": [
        f"ln_2.dw (C,) ranges {dw.min():+.2e} .. {dw.max():+.2e}; ln_2.db (C,) {db.min():+.2e} .. "
        f"{db.max():+.2e}",
        f"each is a sum over all B·T = {N} rows, so each is one number per channel"]}
    return extras


def run_gradcheck(dims: dict, seed: int) -> TraceRun:
    """The analytic gradient of a few weights next to (f(w+h) − f(w−h)) / 2h, in float64."""
    d = full_dims(dims)
    model, tracer, words, idx, targets = _run(d, seed, np.float64)
    lines = [f"float64, h = {H:g}; loss f = {float(tracer['loss'].value):.10f}"]
    worst = 0.0
    for name in CHECKED:
        w, g = model.params[name], model.grads[name]
        at = np.unravel_index(int(np.abs(g).argmax()), g.shape)
        analytic = float(g[at])
        old = w[at]
        w[at] = old + H
        up = model.forward(idx, targets)[1]
        w[at] = old - H
        down = model.forward(idx, targets)[1]
        w[at] = old
        numeric = (up - down) / (2 * H)
        rel = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), 1e-300)
        worst = max(worst, rel)
        where = ", ".join(str(int(i)) for i in at)
        lines.append(f"{name}[{where}]: backward {analytic:+.10e}   finite difference {numeric:+.10e}   "
                     f"relative error {rel:.1e}")
    loss = float(tracer["loss"].value)
    eps = float(np.finfo(np.float64).eps)
    lines.append(f"worst relative error {worst:.1e}. A wrong formula would show at 1e-2 or worse")
    lines.append(f"float64 rounding of f(w ± h) is about ε·|f| = {eps:.1e} × {loss:.2f}; divided by 2h it "
                 f"leaves about ε·|f|/h = {eps * loss / H:.1e} in the difference, far above the h² term "
                 f"(h² = {H * H:.0e} times a third derivative)")
    lines.append(f"{CHECKED[0]}, the same entry with other steps h: " + _h_sweep(model, idx, targets))
    return TraceRun(tracer, d, notes=["the same model and batch in float64, for the check"],
                    extras={"gradcheck": {"notes": lines}}, tokens=words)


SWEEP = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9)  # the steps h the notes try on one entry


def _h_sweep(model, idx, targets) -> str:
    """``h 1e-02: 3e-06, ...``: the finite difference's error for several h, on one entry of the
    first checked weight: falls as h shrinks (the h² term) until rounding (ε·|f|/h) takes over."""
    w, g = model.params[CHECKED[0]], model.grads[CHECKED[0]]
    at = np.unravel_index(int(np.abs(g).argmax()), g.shape)
    old, parts = w[at], []
    for h in SWEEP:
        w[at] = old + h
        up = model.forward(idx, targets)[1]
        w[at] = old - h
        down = model.forward(idx, targets)[1]
        w[at] = old
        parts.append(f"h {h:.0e}: error {abs((up - down) / (2 * h) - float(g[at])):.0e}")
    return "; ".join(parts)


TRACES: dict[str, TraceFn] = {"block": run_block, "gradcheck": run_gradcheck}
