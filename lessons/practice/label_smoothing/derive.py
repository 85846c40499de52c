"""The decoder's shifted input and target, the label-smoothed loss and its gradient, derive level
(lesson: The whole Transformer: translating, step "Label smoothing: never quite certain").

The forward is written out below; the gradient is yours to work out from it.
`kqv practice check label_smoothing` grades tgt_in, tgt_out, probs, loss and dlogits against
the engine, and `kqv practice hint label_smoothing` gives the next step for whichever one is
failing.
"""

import numpy as np
from kqv_practice import show


def shift(tgt):
    """The decoder's input and the targets it predicts, from one padded batch.

    tgt      (B, T + 1) token ids: <s>, the pieces, </s>, then padding
    returns  tgt_in (B, T) = every column but the last, tgt_out (B, T) = every column but the first
    """
    raise NotImplementedError("shift is not written yet")


def smoothed_cross_entropy_forward(logits, targets, pad_id, smoothing):
    """The label-smoothed cross-entropy, padding left out.

    logits     (N, V)  N = B·T rows of scores
    targets    (N,)    the token each row should predict (tgt_out flattened); pad_id: count nothing
    pad_id     the padding token's id
    smoothing  ε
    returns    the loss, one number: the mean over the n rows whose target is not padding of
               −Σ_v q_v log probs_v, with q_v = 1 − ε at the target, 0 at pad_id, ε/(V − 2) elsewhere

    Hand in as you go:
      probs (N, V) = softmax(logits) over each row
    """
    raise NotImplementedError("smoothed_cross_entropy_forward is not written yet")


def smoothed_cross_entropy_backward(probs, targets, pad_id, smoothing):
    """∂loss/∂logits for the loss above: work it out from the forward.

    probs    (N, V)  softmax(logits), from the forward
    returns  dlogits (N, V), shaped like the logits

    A row whose target is padding is not in the loss at all; each other row is one term of a
    mean over n rows, and q is a fixed distribution over the V tokens (it adds up to 1).
    """
    raise NotImplementedError("smoothed_cross_entropy_backward is not written yet")
