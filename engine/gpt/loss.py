"""The GPT's loss: softmax and cross-entropy together, forward and backward.

The mean over every position of −log p[next character]: how surprised the model is by the
text. Written as one layer because together their gradient is simply ``probs − onehot``.
"""

from __future__ import annotations

import numpy as np

from engine.trace import NO_TRACE


def cross_entropy_forward(logits, targets, tracer=NO_TRACE):
    """The mean over the N rows of −log softmax(logits)[target]: how surprised the model is.

    ``logits (N, V)``, ``targets (N,)`` of ids -> ``(loss, probs (N, V))``. Computed on
    z = logits − max (each row's largest becomes 0, so exp cannot overflow):
    −log p[target] = log Σ eᶻ − z[target].
    """
    N = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)  # (N, V)
    e = np.exp(z)
    s = e @ np.ones(e.shape[1], dtype=e.dtype)  # (N,) row sums by matmul
    loss = float(np.mean(np.log(s) - z[np.arange(N), targets]))
    probs = e
    probs /= s[:, None]  # (N, V) softmax, each row sums to 1
    tracer.record("probs", probs, "softmax(logits) over each row", "forward", ("N", "V"))
    tracer.record("loss", np.asarray(loss), "mean over N of −log probs[target]", "forward", ())
    return loss, probs


def cross_entropy_backward(probs, targets, out=None, tracer=NO_TRACE):
    """d(loss)/d(logits) = (probs − onehot(targets)) / N, ``(N, V)``.

    Softmax and cross-entropy together have this simple gradient: the predicted
    probabilities minus 1 at the right answer, divided by N because the loss is a mean.
    ``out`` may be ``probs`` itself (the model does this: probs is not needed again).
    """
    N = probs.shape[0]
    if out is None:
        out = probs.copy()
    elif out is not probs:
        np.copyto(out, probs)
    dlogits = out
    dlogits[np.arange(N), targets] -= 1.0
    dlogits *= 1.0 / N
    tracer.record("dlogits", dlogits, "(probs − onehot(targets)) / N", "backward", ("N", "V"))
    return dlogits
