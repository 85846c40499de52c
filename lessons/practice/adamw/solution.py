"""One AdamW step: a reference solution."""

import numpy as np
from kqv_practice import show


def adamw_update(p, g, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """Decay, the two moments, the bias-corrected step: every array (n_in, n_out)."""
    p = p * (1 - lr * weight_decay)  # decoupled weight decay: g never sees it
    m = show("m", beta1 * m + (1 - beta1) * g)
    v = show("v", beta2 * v + (1 - beta2) * g * g)
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    update = show("update", lr * m_hat / (np.sqrt(v_hat) + eps))
    return p - update, m, v
