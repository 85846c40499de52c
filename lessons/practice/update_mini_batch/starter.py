"""update_mini_batch (lesson: How a network learns, step "The update: one step of gradient descent").

Write the step, save, and `kqv practice check update_mini_batch` grades every new w and b.
"""

import numpy as np


def update_mini_batch(weights, biases, nabla_w, nabla_b, eta, m):
    """One step of gradient descent, the end of the engine's update_mini_batch.

    weights   [w2, w3, ...]          wl (nl, nl-1)
    biases    [b2, b3, ...]          bl (nl, 1)
    nabla_w   [nabla_w2, ...]        shaped like weights: backprop's gradients, summed over m images
    nabla_b   [nabla_b2, ...]        shaped like biases
    eta       the learning rate η (a float)
    m         the number of images in the mini-batch (an int)
    returns   (new weights, new biases): wˡ − (η/m)·nabla_wˡ and bˡ − (η/m)·nabla_bˡ
    """
    raise NotImplementedError("update_mini_batch is not written yet")
