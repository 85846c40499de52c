"""The catalogue of quiz cards and the one entry point that makes a question for a card.

Every card is a concept with a fixed id (``backprop.nabla_w_shape``, ``attention.scores_shape``)
and a builder. A builder draws fresh dimensions for the learner's level, runs the real engine
with a tracer and asks about a traced variable, so the answer is always the shape numpy
produced, never a hand-written key. The builders are lesson content: one module per quiz topic
in ``lessons/cards/`` (``TOPIC`` and ``CARDS``), and the topics are the ones
:mod:`lessons.curriculum` lists, in its order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import KqvError
from lessons.cards.question import Draw, Question
from lessons.curriculum import ALL_TOPICS, TOPICS


@dataclass(frozen=True)
class CardKind:
    card_id: str
    topic: str
    title: str
    build: Callable[[Draw], Question]


def _catalogue() -> tuple[CardKind, ...]:
    cards = []
    for topic in TOPICS:
        module = importlib.import_module(f"lessons.cards.{topic}")
        if module.TOPIC != topic:
            raise RuntimeError(f"lessons/cards/{topic}.py says TOPIC = {module.TOPIC!r}, not {topic!r}")
        cards += [CardKind(cid, topic, title, build) for cid, title, build in module.CARDS]
    return tuple(cards)


CARDS = _catalogue()
BY_ID = {card.card_id: card for card in CARDS}


def check_topic(topic: str) -> str:
    if topic not in (*TOPICS, ALL_TOPICS):
        raise KqvError(f"unknown quiz topic {topic!r}: choose one of {', '.join(TOPICS)} or {ALL_TOPICS}")
    return topic


def cards_for(topic: str) -> list[CardKind]:
    """The cards of a topic ("all" for every card), in teaching order."""
    check_topic(topic)
    return [card for card in CARDS if topic in (ALL_TOPICS, card.topic)]


def generate(card_id: str, rng: np.random.Generator | int | None = None, level: int = 0,
             symbolic: bool = False, fixed: dict | None = None) -> Question:
    """A fresh question for ``card_id``: new dimensions drawn, the engine run, the trace read."""
    if card_id not in BY_ID:
        raise KqvError(f"no quiz card {card_id!r}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return BY_ID[card_id].build(Draw(rng, level, symbolic, dict(fixed or {})))
