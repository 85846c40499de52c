"""The catalogue of quiz cards and the one entry point that makes a question for a card.

Every card is a concept with a fixed id (``backprop.nabla_w_shape``, ``attention.scores_shape``)
and a builder. A builder draws fresh dimensions for the learner's level, runs the real engine
with a tracer and asks about a traced variable, so the answer is always the shape numpy
produced, never a hand-written key. The builders live beside the engine they run:
:mod:`kqv_cli.quiz.backprop_cards` (Nielsen's digit net), :mod:`kqv_cli.quiz.attention_cards`
(the GPT), :mod:`kqv_cli.quiz.backward_cards` (its backward pass) and
:mod:`kqv_cli.quiz.training_cards` (AdamW, sampling, the KV cache).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.errors import KqvError
from kqv_cli.quiz import backprop_cards
from kqv_cli.quiz.question import Draw, Question

TOPICS = ("backprop", "attention", "backward", "training")


@dataclass(frozen=True)
class CardKind:
    card_id: str
    topic: str
    title: str
    build: Callable[[Draw], Question]


def _catalogue() -> tuple[CardKind, ...]:
    cards = [CardKind(cid, "backprop", title, build) for cid, title, build in backprop_cards.CARDS]
    try:
        from kqv_cli.quiz import attention_cards, backward_cards, training_cards
    except ImportError:  # the GPT engine is not there: only the digit-net cards
        return tuple(cards)
    for module in (attention_cards, backward_cards, training_cards):
        cards += [CardKind(cid, module.TOPIC, title, build) for cid, title, build in module.CARDS]
    return tuple(cards)


CARDS = _catalogue()
BY_ID = {card.card_id: card for card in CARDS}


def check_topic(topic: str) -> str:
    if topic not in (*TOPICS, "all"):
        raise KqvError(f"unknown quiz topic {topic!r}: choose one of {', '.join(TOPICS)} or all")
    return topic


def cards_for(topic: str) -> list[CardKind]:
    """The cards of a topic ("all" for every card), in teaching order."""
    check_topic(topic)
    return [card for card in CARDS if topic in ("all", card.topic)]


def generate(card_id: str, rng: np.random.Generator | int | None = None, level: int = 0,
             symbolic: bool = False, fixed: dict | None = None) -> Question:
    """A fresh question for ``card_id``: new dimensions drawn, the engine run, the trace read."""
    if card_id not in BY_ID:
        raise KqvError(f"no quiz card {card_id!r}")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return BY_ID[card_id].build(Draw(rng, level, symbolic, dict(fixed or {})))
