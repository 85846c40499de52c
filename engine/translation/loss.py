"""The paper's loss: cross-entropy against label-smoothed targets, padding left out.

Label smoothing (Szegedy et al. 2016; Vaswani et al. 2017 use ε = 0.1) asks the model for
1 − ε on the right token instead of 1, and spreads ε over the others: the model is never
pushed to infinite confidence, which "hurts perplexity, as the model learns to be more
unsure, but improves accuracy and BLEU" (the paper's words).
"""

from __future__ import annotations

import numpy as np

from engine.trace import NO_TRACE

# -- the label-smoothed loss ---------------------------------------------------------------------


def smoothed_cross_entropy_forward(logits, targets, pad_id, smoothing=0.1, tracer=NO_TRACE, n=None):
    """The paper's loss: cross-entropy against a smoothed target, padding ignored.

    ``logits (N, V)``, ``targets (N,)`` -> ``(loss, nll, probs (N, V), n)``. Each real row
    (target ≠ pad) is compared with the distribution q that puts 1 − ε on the right token and
    shares ε equally among the V − 2 tokens that are neither the right one nor padding: the
    pad token never gets any mass (the convention of the Annotated Transformer and OpenNMT;
    PyTorch's ``label_smoothing`` spreads ε over all V, the pad and the right token included).
    loss = −Σ_v q_v log p_v, averaged over the n real rows; ``nll`` is the plain −log p[target]
    averaged the same way (what perplexity and "how surprised" read). Rows whose target is
    padding count for nothing. ``n``, when given, is the count to divide by instead of this
    batch's real rows: the half of a batch divides by the whole batch's count, so the two
    halves' losses and gradients add up to the batch's.
    """
    N, V = logits.shape
    eps = float(smoothing)
    delta = eps / (V - 2)  # the mass of each "other" token
    z = logits - logits.max(axis=1, keepdims=True)  # (N, V): each row's largest is 0
    probs = np.exp(z)
    s = probs @ np.ones(V, dtype=probs.dtype)  # (N,) row sums by matmul
    log_s = np.log(s)
    rows = np.arange(N)
    real = targets != pad_id  # (N,)
    n = max(int(real.sum()), 1) if n is None else n
    logp_t = z[rows, targets] - log_s  # (N,) log p[target]
    nll_rows = -logp_t
    loss_rows = (1.0 - eps) * nll_rows
    if eps:
        sum_logp = z @ np.ones(V, dtype=z.dtype) - V * log_s  # (N,) Σ_v log p_v
        logp_pad = z[:, pad_id] - log_s
        loss_rows -= delta * (sum_logp - logp_t - logp_pad)  # −Σ_{v ≠ target, pad} δ log p_v
    weight = real.astype(loss_rows.dtype)
    loss = float(loss_rows @ weight) / n
    nll = float(nll_rows @ weight) / n
    probs /= s[:, None]  # (N, V) softmax
    tracer.record("probs", probs, "softmax(logits) over each row", "forward", ("B*T", "V"))
    tracer.record("loss", np.asarray(loss), f"mean over the real rows of −Σ_v q_v log probs_v, ε = {eps}",
                  "forward", (), "q: 1 − ε on the target, ε/(V − 2) on every other token but padding")
    return loss, nll, probs, n


def smoothed_cross_entropy_backward(probs, targets, pad_id, smoothing=0.1, n=None, out=None, tracer=NO_TRACE):
    """d(loss)/d(logits) = (probs − q) / n on the real rows, 0 on the padding rows, ``(N, V)``.

    As for plain cross-entropy, softmax and the loss together differentiate to "predicted minus
    wanted"; here "wanted" is the smoothed q. ``out`` may be ``probs`` itself."""
    N, V = probs.shape
    eps = float(smoothing)
    delta = eps / (V - 2)
    real = targets != pad_id
    n = max(int(real.sum()), 1) if n is None else n
    d = probs.copy() if out is None else out
    if out is not None and out is not probs:
        np.copyto(out, probs)
    rows = np.arange(N)
    if eps:
        d -= delta  # q is δ everywhere ...
        d[:, pad_id] += delta  # ... but 0 at padding ...
    d[rows, targets] -= 1.0 - eps - delta  # ... and 1 − ε at the target
    d *= (real / n).astype(d.dtype)[:, None]  # padding rows: 0; real rows: the mean's 1/n
    tracer.record("dlogits", d, "(probs − q) / n on real rows, 0 on padding", "backward", ("B*T", "V"))
    return d
