"""Spaced repetition for dimension cards, with FSRS (the ``fsrs`` package).

One card per concept, with a fixed id such as ``backprop.nabla_w_shape`` or
``attention.scores_shape``. A card is not one question: every review draws fresh dimensions,
so what the learner remembers is the rule, not a number.

How an answer becomes an FSRS rating:

* right at once            -> Good
* right after one or two hints -> Hard (recalled, but with help)
* wrong                    -> Again (the card comes back within minutes)

Scheduler settings: FSRS's default weights and 90 % desired retention; fuzzing off, so the
same answers always give the same due dates (easier to test, and with a few dozen cards there
is no review pile-up for fuzz to spread out).
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from fsrs import Card, Rating, Scheduler, State

__all__ = ["Card", "Rating", "Scheduler", "State", "make_scheduler", "new_card", "rating_for",
           "review", "card_to_dict", "card_from_dict", "now_utc", "LEVELS", "LEVEL_NOTE",
           "level_for"]

LEVELS = 3  # 0: small nets / one head; 1: batches; 2: deeper nets, several heads and layers
# what a level is and what moves it, in one line, for every place a level is shown
LEVEL_NOTE = ("the level (0-2) sets how big the drawn nets are; it rises as you recall this topic's "
              "cards, falls as you miss them")


def now_utc() -> datetime:
    return datetime.now(UTC)


def when(due: datetime, now: datetime | None = None) -> str:
    """When a card comes back, as a learner says it: "in 10 minutes", "in 3 days", "now"."""
    seconds = (due - (now or now_utc())).total_seconds()
    if seconds <= 0:
        return "now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size)
            return f"in {n} {unit}{'s' if n != 1 else ''}"
    return "in about a minute"


def make_scheduler() -> Scheduler:
    return Scheduler(desired_retention=0.9, enable_fuzzing=False)


def new_card(card_id: str, now: datetime | None = None) -> Card:
    """A card never reviewed, due at once. Its numeric id is stable (a hash of ``card_id``)."""
    return Card(card_id=zlib.crc32(card_id.encode()), due=now or now_utc())


def rating_for(right: bool, hints_used: int) -> Rating:
    if not right:
        return Rating.Again
    return Rating.Good if hints_used == 0 else Rating.Hard


def review(scheduler: Scheduler, card: Card, rating: Rating, now: datetime | None = None) -> Card:
    """The card after this review (FSRS wants a timezone-aware UTC time)."""
    card, _log = scheduler.review_card(card, rating, review_datetime=now or now_utc())
    return card


def card_to_dict(card: Card) -> dict:
    return card.to_dict()


def card_from_dict(data: dict) -> Card:
    return Card.from_dict(data)


def level_for(cards: list[Card | None]) -> int:
    """How far along a topic the learner is, from its cards' states.

    The share of the topic's cards that FSRS has moved to Review (recalled well enough to be
    spaced out in days) picks the level: under a third -> 0, under two thirds -> 1, else 2.
    """
    if not cards:
        return 0
    learned = sum(1 for c in cards if c is not None and c.state == State.Review)
    return min(LEVELS - 1, (learned * LEVELS) // len(cards))
