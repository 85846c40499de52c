"""One AdamW step, derive level (lesson: Training and generating, step "AdamW: m and v have the
shape of each parameter").

What each quantity is for is written below; the formulas are yours to work out from that.
`kqv practice check adamw` grades m, v, the update and the new p against the engine's
optimiser, and `kqv practice hint adamw` gives the next step for whichever one is failing.
"""

import numpy as np
from kqv_practice import show


def adamw_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One AdamW step of one weight p with its gradient g.

    p, g     (n_in, n_out)   a weight stored (in, out) and ∂loss/∂p
    m, v     (n_in, n_out)   running means of g and of g², from the steps before
    t        this step's number, counted from 1
    lr, beta1, beta2, eps, weight_decay   numbers
    returns  p, m, v   the new ones, each (n_in, n_out)

    What one step does, entry by entry (no matrix product anywhere):
      * it first shrinks p a little towards 0, by a fraction that grows with lr and
        weight_decay, without touching the gradient (that is the W in AdamW);
      * m, the running mean of g, keeps most of its old value (beta1 of it) and takes the
        rest from this g; v does the same for g² with beta2     hand in: show("m", m), show("v", v)
      * m and v started at 0, so after few steps both are too small: the step corrects them
        by how much of their weight they have had time to gather;
      * the step is lr times the corrected mean over the root of the corrected mean square,
        eps keeping it finite where that root is 0            hand in: show("update", update)
      * p moves by the step, downhill.
    """
    raise NotImplementedError("adamw_update is not written yet")
