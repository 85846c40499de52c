"""Handwritten-looking digits drawn by the computer, for training with no download at all.

Each digit 0-9 is a few pen strokes in a unit box (x to the right, y downwards, the digit one
unit tall, like MNIST's 20-pixel box inside the 28 x 28 image). A picture is made by:

1. choosing a template (some digits have two: a 7 with or without a bar, an open or closed 4);
2. bending it like a hand would: gentle random waves along each axis, a slant, a rotation,
   a scale in x and y, a shift; and the pen may lift early or start late, so a loop can
   stay open;
3. inking it: the strokes are laid down as K points, each a small Gaussian blob of width σ
   (random per picture, so some pens are thick and some thin); where blobs overlap along a
   stroke they add up to a smooth line, and the ink saturates at 1;
4. a little pixel noise.

The rendering step is the only costly one, and it is a matrix product. A Gaussian blob is
separable, ``exp(-(v-py)²/2σ²) · exp(-(u-px)²/2σ²)`` for pixel row v and column u, so the
image of K blobs is ``Gy @ Gxᵀ`` with ``Gy`` (28, K) the blobs' row profiles and ``Gx``
(28, K) their column profiles: one small matmul per picture instead of a 784 x K distance
table. 70,000 pictures take about two seconds of CPU.

These are *synthetic digits*, cleaner and more regular than people's handwriting (a 784-30-10
net gets about 94% of them right after 3 epochs); everything that shows them says so. The
same seed gives the same pictures.
"""

from __future__ import annotations

import math

import numpy as np

from engine.data.mnist import IMAGE_SIDE, N_TRAIN, N_VALIDATION, Digits

BOX = 20.0  # pixels per template unit: the digit's height, as in MNIST
K = 96  # points per picture, spread along the strokes by length
_GRID = np.arange(IMAGE_SIDE, dtype=np.float32)  # pixel indices 0..27
_CHUNK = 512  # pictures rendered at once: (chunk, K, 28) temporaries of ~5 MB stay in cache-friendly memory


# -- the templates ---------------------------------------------------------------------------


def _arc(cx, cy, rx, ry, start_deg, stop_deg, n=24):
    """Points on an ellipse arc; angles counter-clockwise from +x as on paper (y is down here)."""
    t = np.radians(np.linspace(start_deg, stop_deg, n))
    return np.stack([cx + rx * np.cos(t), cy - ry * np.sin(t)], axis=1)


def _line(*points):
    return np.array(points, dtype=float)


def _join(*parts):
    return np.concatenate(parts, axis=0)


# digit -> list of templates; a template is a list of strokes; a stroke is an (m, 2) polyline
TEMPLATES: dict[int, list[list[np.ndarray]]] = {
    0: [[_arc(0.5, 0.5, 0.3, 0.48, 90, 450, 40)], [_arc(0.5, 0.5, 0.34, 0.46, 110, 480, 40)]],
    1: [
        [_line((0.5, 0.0), (0.5, 1.0))],
        [_line((0.28, 0.22), (0.54, 0.0), (0.54, 1.0))],
        [_line((0.3, 0.2), (0.52, 0.0), (0.52, 1.0)), _line((0.3, 1.0), (0.76, 1.0))],
    ],
    2: [
        [_join(_arc(0.5, 0.28, 0.29, 0.27, 165, -30), _line((0.16, 1.0), (0.86, 1.0)))],
        [_join(_arc(0.48, 0.3, 0.3, 0.28, 150, -40), _line((0.2, 0.92)),
               _arc(0.3, 0.9, 0.12, 0.1, 180, 360, 8), _line((0.88, 0.98)))],
    ],  # fmt: skip
    3: [
        [_join(_arc(0.47, 0.27, 0.27, 0.25, 150, -90), _arc(0.47, 0.75, 0.31, 0.26, 90, -155))],
        [_join(_line((0.2, 0.02), (0.78, 0.02), (0.42, 0.42)), _arc(0.47, 0.72, 0.31, 0.28, 80, -155))],
    ],
    4: [
        [_line((0.64, 0.0), (0.1, 0.66), (0.92, 0.66)), _line((0.66, 0.28), (0.66, 1.0))],
        [_line((0.22, 0.0), (0.16, 0.6), (0.9, 0.6)), _line((0.7, 0.05), (0.7, 1.0))],
    ],
    5: [
        [_join(_line((0.82, 0.02), (0.3, 0.02)), _arc(0.47, 0.69, 0.31, 0.3, 130, -155))],
        [_line((0.3, 0.02), (0.27, 0.47)), _arc(0.47, 0.7, 0.3, 0.29, 125, -160),
         _line((0.3, 0.03), (0.84, 0.0))],
    ],  # fmt: skip
    6: [
        [_join(_arc(0.78, 0.62, 0.52, 0.6, 95, 185, 16), _arc(0.5, 0.7, 0.25, 0.28, 180, 535))],
        [_join(_line((0.66, 0.0), (0.3, 0.45)), _arc(0.5, 0.72, 0.26, 0.27, 160, 520))],
    ],
    7: [
        [_line((0.14, 0.03), (0.86, 0.03), (0.42, 1.0))],
        [_line((0.14, 0.03), (0.86, 0.03), (0.46, 1.0)), _line((0.42, 0.52), (0.8, 0.52))],
    ],
    8: [
        [_arc(0.5, 0.26, 0.22, 0.24, -90, 270, 32), _arc(0.5, 0.74, 0.28, 0.26, 90, 450, 32)],
        [_join(_arc(0.5, 0.26, 0.23, 0.25, -60, 240, 28), _arc(0.5, 0.74, 0.27, 0.26, 120, -240, 32))],
    ],
    9: [
        [_join(_arc(0.47, 0.3, 0.27, 0.29, 0, 360, 32), _line((0.7, 1.0)))],
        [_join(_arc(0.47, 0.3, 0.27, 0.29, 10, 370, 32), _arc(0.2, 0.32, 0.52, 0.68, 0, -70, 10))],
    ],
}


def _resample(strokes: list[np.ndarray], k: int = K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spread ``k`` points evenly along the strokes (by length).

    Returns the points (k, 2); a (k,) mask that is 1 where a point continues the stroke of the
    point before it; and each point's place along its stroke, 0 at the start to 1 at the end.
    """
    lengths = np.array([np.linalg.norm(np.diff(s, axis=0), axis=1).sum() for s in strokes])
    counts = np.maximum(2, np.round(k * lengths / lengths.sum())).astype(int)
    counts[np.argmax(counts)] += k - counts.sum()
    points, joined, along_stroke = [], [], []
    for stroke, n in zip(strokes, counts, strict=True):
        seg = np.linalg.norm(np.diff(stroke, axis=0), axis=1)
        along = np.concatenate([[0.0], np.cumsum(seg)])
        s = np.linspace(0.0, along[-1], n)
        points.append(np.stack([np.interp(s, along, stroke[:, i]) for i in (0, 1)], axis=1))
        joined.append(np.r_[0.0, np.ones(n - 1)])
        along_stroke.append(np.linspace(0.0, 1.0, n))
    return (
        np.concatenate(points),
        np.concatenate(joined).astype(np.float32),
        np.concatenate(along_stroke).astype(np.float32),
    )


# every template as K points, stacked: (n_templates, K, 2), and which digit each one draws
_TEMPLATE_DIGIT = np.array([d for d in range(10) for _ in TEMPLATES[d]])
_TEMPLATE_POINTS, _TEMPLATE_JOINED, _TEMPLATE_ALONG = (
    np.stack(a).astype(np.float32)
    for a in zip(*(_resample(t) for d in range(10) for t in TEMPLATES[d]), strict=True)
)


# -- drawing -------------------------------------------------------------------------------------


def synthetic_digits(n: int, seed: int = 0) -> Digits:
    """``n`` synthetic digit pictures with labels, the same ones for the same ``seed``."""
    return _draw(n, np.random.default_rng(seed), f"synthetic digits (seed {seed})")


def load_synthetic(
    seed: int = 0, n_train: int = N_TRAIN, n_validation: int = N_VALIDATION, n_test: int = 10_000
) -> tuple[Digits, Digits, Digits]:
    """(train, validation, test) of synthetic digits, shaped like :func:`engine.data.mnist.load_mnist`'s.

    Each split comes from its own random stream, so the test set does not change when the
    training set is made bigger.
    """
    splits = (("train", n_train), ("validation", n_validation), ("test", n_test))
    return tuple(
        _draw(n, np.random.default_rng([seed, i]), f"synthetic digits (seed {seed}, {name})")
        for i, (name, n) in enumerate(splits)
    )


def _draw(n: int, rng: np.random.Generator, source: str) -> Digits:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    labels = rng.integers(0, 10, size=n)
    # a template of the right digit for each picture
    choice = rng.random(n)
    template = np.empty(n, dtype=np.int64)
    for d in range(10):
        ids = np.flatnonzero(_TEMPLATE_DIGIT == d)
        mask = labels == d
        template[mask] = ids[(choice[mask] * len(ids)).astype(int)]
    # the hand: one set of random numbers per picture
    style = {
        "wave_amp": rng.uniform(0.0, 0.06, size=(n, 2, 2)),  # two waves per axis: slow and quick
        "wave_freq": rng.uniform(0.5, 1.5, size=(n, 2, 2)) * [1.0, 2.5],
        "wave_phase": rng.uniform(0, 2 * np.pi, size=(n, 2, 2)),
        "trim": rng.uniform(-0.1, 0.13, size=(n, 2)),  # lift the pen early / put it down late
        "slant": rng.normal(0.1, 0.2, size=n),
        "angle": np.radians(rng.normal(0.0, 9.0, size=n)),
        "scale": np.stack([rng.uniform(0.65, 1.2, size=n), rng.uniform(0.75, 1.1, size=n)], axis=1),
        "shift": rng.normal(0.0, 1.2, size=(n, 2)),  # pixels
        "sigma": rng.uniform(0.65, 1.25, size=n),  # pen width, pixels
        "gain": rng.uniform(1.6, 3.0, size=n),  # how dark the ink gets before it saturates
        "noise": rng.uniform(0.0, 0.2, size=n),
    }
    style = {key: value.astype(np.float32) for key, value in style.items()}  # float32 throughout
    x = np.empty((n, IMAGE_SIDE * IMAGE_SIDE), dtype=np.float32)  # (N, 784)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        part = {key: value[lo:hi] for key, value in style.items()}
        # uniform noise drawn per chunk: several times cheaper than one (n, 784) normal draw
        noise = rng.random((hi - lo, IMAGE_SIDE * IMAGE_SIDE), dtype=np.float32)
        x[lo:hi] = _render(template[lo:hi], part, noise)
    return Digits(x, labels.astype(np.int64), source)


def _render(template: np.ndarray, s: dict, noise: np.ndarray) -> np.ndarray:
    """Ink a batch of B pictures; returns (B, 784) float32 in 0..1."""
    p = _TEMPLATE_POINTS[template] - np.float32(0.5)  # (B, K, 2), centred on the box
    # waves bend x along y and y along x
    for w in range(2):
        amp, freq, phase = (s[key][:, None, :, w] for key in ("wave_amp", "wave_freq", "wave_phase"))
        p = p + amp * np.sin(np.float32(2 * np.pi) * freq * p[:, :, ::-1] + phase)
    x, y = p[..., 0], p[..., 1]
    x = x * s["scale"][:, :1] - s["slant"][:, None] * y  # slant: the top leans right (y is down)
    y = y * s["scale"][:, 1:]
    cos, sin = np.cos(s["angle"])[:, None], np.sin(s["angle"])[:, None]
    x, y = cos * x - sin * y, sin * x + cos * y
    centre = np.float32((IMAGE_SIDE - 1) / 2)
    px = centre + np.float32(BOX) * x + s["shift"][:, :1]  # (B, K) pixel columns
    py = centre + np.float32(BOX) * y + s["shift"][:, 1:]  # (B, K) pixel rows

    # each point carries the stroke length around it, so ink per unit length is even
    step = np.hypot(np.diff(px, axis=1), np.diff(py, axis=1)) * _TEMPLATE_JOINED[template][:, 1:]  # (B, K-1)
    length = np.float32(0.5) * (np.pad(step, ((0, 0), (1, 0))) + np.pad(step, ((0, 0), (0, 1))))  # (B, K)
    sigma = s["sigma"]
    weight = length / (np.float32(math.sqrt(2 * math.pi)) * sigma[:, None])  # (B, K)
    along = _TEMPLATE_ALONG[template]  # (B, K)
    trim = s["trim"]
    weight *= (along >= trim[:, :1]) & (along <= 1 - trim[:, 1:])  # the ends of strokes left out

    gy = _profiles(py, sigma)  # (B, 28 rows, K)
    gx = _profiles(px, sigma)  # (B, 28 cols, K)
    gx *= weight[:, None, :]
    ink = np.matmul(gy, gx.transpose(0, 2, 1))  # (B, 28 rows, 28 cols): Σ_k w_k gy_k ⊗ gx_k
    ink = ink.reshape(len(template), IMAGE_SIDE * IMAGE_SIDE)  # (B, 784)

    ink *= s["gain"][:, None]
    np.minimum(ink, np.float32(1.0), out=ink)  # the ink saturates
    noise -= np.float32(0.5)  # uniform in [-0.5, 0.5), scaled per picture
    noise *= s["noise"][:, None]
    ink += noise
    return np.clip(ink, np.float32(0.0), np.float32(1.0), out=ink)


def _profiles(centres: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """exp(-(u - centre)² / 2σ²) for every pixel index u and every point: (B, 28, K).

    Written in place on one buffer: at these sizes numpy spends more time allocating
    temporaries than computing exponentials. K is the last axis so numpy's inner loops run
    96 long rather than 28.
    """
    scale = (np.float32(1 / math.sqrt(2.0)) / sigma)[:, None, None]  # (B, 1, 1)
    d = _GRID[None, :, None] * scale - (centres * scale[:, :, 0])[:, None, :]  # (B, 28, K)
    np.square(d, out=d)
    # capped so that far-away values are exp(-36) ~ 2e-16 rather than subnormal floats,
    # which slow down exp and the matmul
    np.minimum(d, np.float32(36.0), out=d)
    np.negative(d, out=d)
    return np.exp(d, out=d)


def to_ascii(image: np.ndarray) -> str:
    """A 784-pixel picture as 28 lines of text, darker characters for more ink."""
    shades = np.array(list(" .:-=+*#%@"))
    rows = shades[np.minimum((np.asarray(image).reshape(IMAGE_SIDE, IMAGE_SIDE) * 10).astype(int), 9)]
    return "\n".join("".join(r) for r in rows)
