"""update_mini_batch, derive level (lesson: How a network learns, step "The update: one step of
gradient descent").

What the step is for is written below; the formula is yours to work out from it.
`kqv practice check update_mini_batch` grades every new w and b, and
`kqv practice hint update_mini_batch` gives the next step for whichever one is failing.
"""

import numpy as np


def update_mini_batch(weights, biases, nabla_w, nabla_b, eta, m):
    """One step of gradient descent, the end of the engine's update_mini_batch.

    weights   [w2, w3, ...]          wl (nl, nl-1)
    biases    [b2, b3, ...]          bl (nl, 1)
    nabla_w   [nabla_w2, ...]        shaped like weights: ∂C/∂wˡ of the SUM C = Σₓ Cₓ of the m
                                     images' costs, as backprop returned it
    nabla_b   [nabla_b2, ...]        shaped like biases, the same for each bˡ
    eta       the learning rate η (a float)
    m         the number of images in the mini-batch (an int)
    returns   (new weights, new biases), shaped like the old ones

    The step lowers the MEAN cost over the mini-batch, (1/m) Σₓ Cₓ: every weight and bias moves
    against that cost's gradient, η times it, so the size of a step does not grow with m.
    """
    raise NotImplementedError("update_mini_batch is not written yet")
