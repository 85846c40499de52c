"""Cross-entropy loss and dlogits, derive level (lesson: Attention, step "The loss: how surprised
was the model?").

The forward is written out below; its gradient at the logits is yours to work out.
`kqv practice check cross_entropy` grades probs, loss and dlogits against the engine, and
`kqv practice hint cross_entropy` gives the next step for whichever one is failing.
"""

import numpy as np
from kqv_practice import show


def cross_entropy_forward(logits, targets):
    """The mean over the N positions of −log(the probability given to the right next token).

    logits   (N, V)   N = B·T positions, one row of V scores each (the (B, T, V) logits, flattened)
    targets  (N,)     the right next token of each position, ids in 0..V−1
    returns  loss (a number), probs (N, V)

      probs = softmax(logits) along each row (subtract the row's max first)
                                      hand it in: show("probs", probs)
      loss  = mean over the N rows of −log probs[row, targets[row]]
    """
    raise NotImplementedError("cross_entropy_forward is not written yet")


def cross_entropy_backward(probs, targets):
    """∂loss/∂logits for the mean cross-entropy above: work it out from the forward.

    probs    (N, V)   what cross_entropy_forward returned
    targets  (N,)
    returns  dlogits (N, V), shaped like logits

    Row n of the logits touches one term of the mean only, and that term only through
    probs[n, targets[n]]; go back through the log, then through the softmax.
    """
    raise NotImplementedError("cross_entropy_backward is not written yet")
