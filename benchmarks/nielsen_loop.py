"""The reference the digit-net benchmark measures against: one example at a time.

The book's ``network.py`` algorithm as it runs there (Python 3, float64 weights, float32
pixels, one backprop call per image, gradients summed in Python lists, ``np.dot``, the
training list shuffled with ``random.shuffle`` and cut into mini-batches, σ′(z) computed from
z), written again here so the benchmark can time it beside ours on the same data in the same
process. It is a yardstick, not part of kqv.
"""

import random

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class PerExampleNetwork:
    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.biases = [rng.standard_normal((n, 1)) for n in sizes[1:]]
        self.weights = [rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
                        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]

    def epoch(self, data, mini_batch_size, eta, seed=0):
        """One epoch of SGD over ``data``, a list of (x (784, 1), y (10, 1)) pairs."""
        random.Random(seed).shuffle(data)
        for k in range(0, len(data), mini_batch_size):
            self.update_mini_batch(data[k : k + mini_batch_size], eta)

    def update_mini_batch(self, mini_batch, eta):
        sum_b = [np.zeros(b.shape) for b in self.biases]
        sum_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            grad_b, grad_w = self.backprop(x, y)
            sum_b = [s + g for s, g in zip(sum_b, grad_b, strict=True)]
            sum_w = [s + g for s, g in zip(sum_w, grad_w, strict=True)]
        step = eta / len(mini_batch)
        self.weights = [w - step * g for w, g in zip(self.weights, sum_w, strict=True)]
        self.biases = [b - step * g for b, g in zip(self.biases, sum_b, strict=True)]

    def backprop(self, x, y):
        grad_b = [np.zeros(b.shape) for b in self.biases]
        grad_w = [np.zeros(w.shape) for w in self.weights]
        a, acts, zs = x, [x], []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, a) + b
            zs.append(z)
            a = sigmoid(z)
            acts.append(a)
        delta = (acts[-1] - y) * sigmoid_prime(zs[-1])
        grad_b[-1], grad_w[-1] = delta, np.dot(delta, acts[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            grad_b[-l], grad_w[-l] = delta, np.dot(delta, acts[-l - 1].transpose())
        return grad_b, grad_w
