"""One step of beam search, with the length penalty (lesson: The whole Transformer:
translating, step "Writing a translation: greedy, then beam search").

Write beam_step, save, and `kqv practice check beam_search_step` grades acc, top_scores,
parent, token and finish_scores against the step the engine's beam search takes.
"""

import numpy as np
from kqv_practice import show


def beam_step(logp, running_scores, generated, length_penalty):
    """Score every continuation of every beam, keep the 2K best, and score each as if it ended.

    logp            (B*K, V)  log-probabilities of the next token: row b*K + k is beam k of sentence b
    running_scores  (B, K)    each beam's total log-probability so far
    generated       a whole number: the tokens a candidate of this step has generated, its new one included
    length_penalty  a number: a finished translation's total is divided by generated ** length_penalty
    returns         top_scores, parent, token, finish_scores, each (B, 2K), best candidate first

    Hand in as you go:
      acc (B, K*V) = running_scores + logp, the K beams' V continuations side by side
    Then, for each row of acc, the indices i of its 2K largest entries, largest first (ties: the
    lower index first, as np.argsort(-acc, kind="stable") gives):
      top_scores    = acc at those indices
      parent        = i // V, the beam each candidate continues
      token         = i % V, the token it adds
      finish_scores = top_scores / generated ** length_penalty
    """
    raise NotImplementedError("beam_step is not written yet")
