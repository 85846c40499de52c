"""What a lab run gives back, and the events it sends while it trains.

:class:`Point` (a new point of a curve) and :class:`VariantDone` (a variant measured) are what
``on_event`` receives; :class:`VariantResult` is one variant's settings, numbers and sample, and
:class:`LabResult` a whole experiment's. :func:`cached_result` reads one back from the cache
(:mod:`kqv_cli.lab.cache`), checking its shape, and :class:`Curve` thins a curve's points. The
runners of each model family (:mod:`kqv_cli.lab.runner`, :mod:`kqv_cli.lab.translation_runner`)
build these.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from kqv_cli.lab import cache
from kqv_cli.lab.experiments import Experiment

CURVE_POINTS = 120  # points kept per curve: plenty for a terminal chart


@dataclass
class Point:
    """A new point of a variant's curve: GPT (iteration, smoothed train loss), digits (epoch, accuracy)."""

    label: str
    x: float
    y: float


@dataclass
class VariantDone:
    result: VariantResult


@dataclass
class VariantResult:
    label: str
    config: dict  # every setting the variant trained with
    metrics: dict  # name -> number (None when it could not be measured, e.g. diverged)
    curve: list = field(default_factory=list)  # [[x, y], ...]
    sample: str = ""
    diverged: str | None = None  # the reason, when training blew up
    seconds: float = 0.0
    cached: bool = False

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("cached")
        return d


@dataclass
class LabResult:
    experiment: Experiment
    budget: int
    seed: int
    data: str
    variants: list[VariantResult]
    stopped: bool = False

    @property
    def by_label(self) -> dict[str, VariantResult]:
        return {v.label: v for v in self.variants}

    @property
    def verdict(self) -> str:
        """The explanation, written from this run's numbers (empty when the run was stopped)."""
        if self.stopped or len(self.variants) < len(self.experiment.variants):
            return ""
        return self.experiment.verdict(self.by_label)

    @property
    def seconds(self) -> float:
        return sum(v.seconds for v in self.variants if not v.cached)

    def to_json(self) -> dict:
        exp = self.experiment
        return {
            "experiment": exp.name, "kind": exp.kind, "question": exp.question, "budget": self.budget,
            "budget_unit": exp.unit, "seed": self.seed, "data": self.data, "stopped": self.stopped,
            "variants": [{**v.to_json(), "cached": v.cached} for v in self.variants],
            "verdict": self.verdict, "seconds": round(self.seconds, 3),
        }


def cached_result(path, label: str) -> VariantResult | None:
    """The cached result at ``path`` under this ``label`` (the same settings may have been
    trained under another experiment's label), or None for a miss or a file of another shape."""
    doc = cache.read_cached(path)
    raw = doc.get("result") if doc is not None else None
    if not _is_result(raw):
        return None  # a miss: the variant is trained again and the entry rewritten
    return VariantResult(**{**raw, "label": label}, cached=True)


def _is_result(raw) -> bool:
    """Whether a cache entry has every field of a :class:`VariantResult` with the right type, and
    numbers to judge by (a hand-edited ``curve: 5`` or empty ``metrics`` is not a result)."""

    def number(x) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    if not (isinstance(raw, dict) and set(raw) == {f.name for f in fields(VariantResult)} - {"cached"}):
        return False
    metrics, curve = raw["metrics"], raw["curve"]
    return (isinstance(raw["label"], str) and isinstance(raw["config"], dict)
            and isinstance(raw["sample"], str) and number(raw["seconds"])
            and (raw["diverged"] is None or isinstance(raw["diverged"], str))
            and isinstance(metrics, dict) and bool(metrics)
            and all(isinstance(k, str) and (v is None or number(v)) for k, v in metrics.items())
            and isinstance(curve, list)
            and all(isinstance(p, list) and len(p) == 2 and all(map(number, p)) for p in curve))


class Curve:
    """Collects a curve's points, keeping about CURVE_POINTS of them for the record."""

    def __init__(self, label: str, total: float, emit):
        self.label, self.emit = label, emit
        self.every = max(1, math.ceil(total / CURVE_POINTS))
        self.points: list[list[float]] = []

    def add(self, k: int, x: float, y: float, last: bool = False) -> None:
        if k % self.every == 0 or last:
            self.points.append([x, y])
            self.emit(Point(self.label, x, y))

