"""backprop: a reference solution (the engine's Network.backprop_batch, as functions)."""

import numpy as np
from kqv_practice import show


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    s = sigmoid(z)
    return s * (1 - s)


def backprop(x, y, weights, biases):
    """(nabla_b, nabla_w) of the quadratic cost, summed over the m columns of x (n1, m)."""
    L = len(weights) + 1
    a, activations, zs = x, [x], []  # feedforward, keeping every z and a for the way back
    for w, b in zip(weights, biases, strict=True):
        z = w @ a + b  # (nl, m)
        a = sigmoid(z)
        zs.append(z)
        activations.append(a)
    nabla_b, nabla_w = [None] * (L - 1), [None] * (L - 1)
    delta = show(f"delta{L}", (a - y) * sigmoid_prime(zs[-1]))  # (nL, m)
    for l in range(L, 1, -1):
        if l < L:  # (nl, nl+1) @ (nl+1, m) -> (nl, m)
            delta = show(f"delta{l}", (weights[l - 1].T @ delta) * sigmoid_prime(zs[l - 2]))
        nabla_b[l - 2] = show(f"nabla_b{l}", delta.sum(axis=1, keepdims=True))  # (nl, 1)
        nabla_w[l - 2] = show(f"nabla_w{l}", delta @ activations[l - 2].T)  # (nl, m) @ (m, nl-1)
    return nabla_b, nabla_w
