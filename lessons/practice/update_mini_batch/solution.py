"""update_mini_batch: a reference solution (Nielsen's step, with the mini-batch as one matrix)."""


def update_mini_batch(weights, biases, nabla_w, nabla_b, eta, m):
    """w ← w − (η/m)·nabla_w, b ← b − (η/m)·nabla_b; every array keeps its shape."""
    weights = [w - (eta / m) * nw for w, nw in zip(weights, nabla_w, strict=True)]
    biases = [b - (eta / m) * nb for b, nb in zip(biases, nabla_b, strict=True)]
    return weights, biases
