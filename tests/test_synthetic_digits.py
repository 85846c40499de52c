"""The synthetic digits: shapes, determinism, honest naming, and that they look like digits."""

import numpy as np
import pytest

from engine.data.synthetic_digits import TEMPLATES, load_synthetic, synthetic_digits, to_ascii


@pytest.fixture(scope="module")
def sample():
    return synthetic_digits(3000, seed=0)


def test_shapes_range_labels_and_source(sample):
    assert sample.x.shape == (3000, 784) and sample.x.dtype == np.float32
    assert sample.labels.shape == (3000,) and sample.labels.dtype == np.int64
    assert sample.x.min() >= 0.0 and sample.x.max() <= 1.0
    assert set(np.unique(sample.labels)) == set(range(10))
    assert sample.source == "synthetic digits (seed 0)" and "MNIST" not in sample.source
    ink = (sample.x > 0.5).sum(axis=1)
    assert ink.min() >= 20 and ink.max() <= 450  # every picture has a stroke, none is a blob


def test_deterministic_for_a_seed():
    a, b, c = synthetic_digits(300, seed=7), synthetic_digits(300, seed=7), synthetic_digits(300, seed=8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.x, c.x)


def test_splits_shaped_like_mnist_and_independent():
    train, validation, test = load_synthetic(seed=1, n_train=500, n_validation=200, n_test=100)
    assert (len(train), len(validation), len(test)) == (500, 200, 100)
    assert train.x.shape == (500, 784) and "train" in train.source and "synthetic" in test.source
    _, _, same_test = load_synthetic(seed=1, n_train=50, n_validation=20, n_test=100)
    np.testing.assert_array_equal(test.x, same_test.x)  # the test set does not move with n_train
    assert not np.array_equal(train.x[:100], test.x)


def test_drawn_in_the_middle_like_mnist(sample):
    images = sample.x.reshape(-1, 28, 28)
    mass = images.sum(axis=(1, 2))
    rows = (images.sum(axis=2) * np.arange(28)).sum(axis=1) / mass
    cols = (images.sum(axis=1) * np.arange(28)).sum(axis=1) / mass
    assert abs(np.median(rows) - 13.5) < 1.5 and abs(np.median(cols) - 13.5) < 1.5
    assert images[:, :, 0].mean() < 0.03 and images[:, 0, :].mean() < 0.03  # margins mostly empty


def test_classes_are_distinct_but_not_trivially_so(sample):
    """A nearest-class-mean classifier (no learning at all) does far better than chance but far
    from perfectly: the digits carry their class in their shape, and vary like handwriting."""
    train_x, train_y = sample.x[:2000], sample.labels[:2000]
    test_x, test_y = sample.x[2000:], sample.labels[2000:]
    means = np.stack([train_x[train_y == d].mean(axis=0) for d in range(10)])  # (10, 784)
    distances = (test_x**2).sum(1)[:, None] - 2 * test_x @ means.T + (means**2).sum(1)[None, :]
    accuracy = (distances.argmin(axis=1) == test_y).mean()
    assert 0.5 < accuracy < 0.95


def test_every_digit_has_a_template_and_ascii_view(sample):
    assert sorted(TEMPLATES) == list(range(10))
    art = to_ascii(sample.x[0])
    lines = art.split("\n")
    assert len(lines) == 28 and all(len(line) == 28 for line in lines)
    assert "@" in art


def test_negative_count_refused():
    with pytest.raises(ValueError):
        synthetic_digits(-1)
    assert synthetic_digits(0).x.shape == (0, 784)
