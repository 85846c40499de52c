"""The learner's quiz progress on disk: one FSRS card per concept, answer counts, a streak.

Stored with :class:`kqv_cli.store.JsonStore` as ``quiz.json`` in the user data folder:
written atomically after every answer (so Ctrl-C or a closed terminal loses nothing), with a
schema version. Each answer is one locked transaction: read the file as it is now, schedule the
card, write; two sessions answering at once both count. A file whose structure is wrong
anywhere (see :func:`validate`) is moved aside with a warning and the learner starts fresh.

``data`` layout (schema 1)::

    {"cards":  {"attention.scores_shape": <fsrs Card.to_dict()>, ...},
     "stats":  {"attention.scores_shape": {"answered": 3, "right": 2, "last_right": true}, ...},
     "streak": {"days": 2, "last_day": "2026-11-29", "run": 4, "best_run": 7}}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from kqv_cli.quiz import scheduler as srs
from kqv_cli.quiz.questions import cards_for
from kqv_cli.store import JsonStore
from lessons.curriculum import TOPICS

SCHEMA = 1
FILENAME = "quiz.json"


def _count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def validate(data) -> None:
    """Raise ValueError unless ``data`` has the layout above, down to every inner type."""
    if not isinstance(data, dict):
        raise ValueError(f"data is a {type(data).__name__}, not an object")
    cards, stats, streak = data.get("cards", {}), data.get("stats", {}), data.get("streak", {})
    if not isinstance(cards, dict):
        raise ValueError("cards is not an object of card id -> card")
    for card_id, raw in cards.items():
        try:
            srs.card_from_dict(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"card {card_id[:40]!r} is not a card ({exc})") from None
    if not (isinstance(stats, dict) and all(
            isinstance(s, dict) and _count(s.get("answered", 0)) and _count(s.get("right", 0))
            and isinstance(s.get("last_right", False), bool) for s in stats.values())):
        raise ValueError("stats is not an object of card id -> {answered, right, last_right}")
    if not (isinstance(streak, dict) and all(_count(streak.get(k, 0)) for k in ("days", "run", "best_run"))
            and isinstance(streak.get("last_day", ""), str)):
        raise ValueError("streak is not {days, last_day, run, best_run}")


class QuizProgress:
    """Cards, counts and streak, loaded from and saved to one JSON file."""

    def __init__(self, store: JsonStore | None = None, data: dict | None = None):
        self.store = store  # None: kept in memory only (a practice run, a test's twin session)
        self.warning: str | None = None
        self.save_error: str | None = None  # set while the progress file cannot be written
        self.cards: dict[str, srs.Card] = {}
        self.stats: dict[str, dict] = {}
        self.streak = {"days": 0, "last_day": "", "run": 0, "best_run": 0}
        self.scheduler = srs.make_scheduler()
        if data:
            self._read(data)

    @classmethod
    def load(cls, persist: bool = True) -> QuizProgress:
        """The saved progress (or a fresh one). ``persist=False`` never writes, nor moves, anything."""
        store = JsonStore(FILENAME, SCHEMA, validate=validate)
        data = store.load(default={}, repair=persist)
        progress = cls(store if persist else None)
        progress.warning = store.warning
        progress._read(data)
        return progress

    def _read(self, data) -> None:
        """Take ``data`` (already validated, or written by this class) as the whole state."""
        self.cards = {cid: srs.card_from_dict(raw) for cid, raw in data.get("cards", {}).items()}
        self.stats = {cid: {"answered": s.get("answered", 0), "right": s.get("right", 0),
                            "last_right": s.get("last_right", False)}
                      for cid, s in data.get("stats", {}).items()}
        self.streak = {"days": 0, "last_day": "", "run": 0, "best_run": 0}
        self.streak.update({k: v for k, v in data.get("streak", {}).items() if k in self.streak})

    def to_data(self) -> dict:
        return {"cards": {cid: srs.card_to_dict(c) for cid, c in sorted(self.cards.items())},
                "stats": dict(sorted(self.stats.items())), "streak": dict(self.streak)}

    def _could_not_save(self, exc: OSError) -> None:
        if self.save_error is None:
            self.save_error = (f"could not save quiz progress to {self.store.path} ({exc}); "
                               "this sitting's answers are kept only until you quit")

    # -- answering ---------------------------------------------------------------------------

    def card(self, card_id: str, now: datetime | None = None) -> srs.Card:
        return self.cards.get(card_id) or srs.new_card(card_id, now)

    def record(self, card_id: str, right: bool, hints_used: int, now: datetime | None = None) -> srs.Card:
        """Schedule the card from this answer, count it, move the streak, and save.

        Saving is one transaction under the file's lock: the file is read again (another
        session may have answered since), this answer is applied to it, and it is written. If
        the disk refuses, the answer still counts in memory and ``save_error`` says so.
        """
        now = now or srs.now_utc()
        if self.store is None:
            return self._apply(card_id, right, hints_used, now)
        answer = partial(self._apply, card_id, right, hints_used, now)
        card, error = self.store.transact({}, self._read, answer, self.to_data)
        if self.store.warning:  # the file was found damaged again while answering
            self.warning = self.store.warning
        if error is None:
            self.save_error = None
        else:
            self._could_not_save(error)
        return card

    def _apply(self, card_id: str, right: bool, hints_used: int, now: datetime) -> srs.Card:
        rating = srs.rating_for(right, hints_used)
        card = srs.review(self.scheduler, self.card(card_id, now), rating, now)
        self.cards[card_id] = card
        stats = self.stats.setdefault(card_id, {"answered": 0, "right": 0, "last_right": False})
        stats["answered"] += 1
        stats["right"] += int(right)
        stats["last_right"] = right
        self._move_streak(right, now)
        return card

    def _move_streak(self, right: bool, now: datetime) -> None:
        today = now.astimezone().date()
        last = self.streak.get("last_day") or ""
        if last != today.isoformat():
            yesterday = (today - timedelta(days=1)).isoformat()
            self.streak["days"] = self.streak["days"] + 1 if last == yesterday else 1
            self.streak["last_day"] = today.isoformat()
        self.streak["run"] = self.streak["run"] + 1 if right else 0
        self.streak["best_run"] = max(self.streak["best_run"], self.streak["run"])

    # -- reading -----------------------------------------------------------------------------

    def level(self, topic: str) -> int:
        """The learner's level in a topic, from the FSRS states of its cards."""
        return srs.level_for([self.cards.get(c.card_id) for c in cards_for(topic)])

    def topic_summary(self, topic: str, now: datetime | None = None) -> dict:
        now = now or srs.now_utc()
        ids = [c.card_id for c in cards_for(topic)]
        seen = [cid for cid in ids if cid in self.cards]
        answered = sum(self.stats.get(cid, {}).get("answered", 0) for cid in ids)
        right_answers = sum(self.stats.get(cid, {}).get("right", 0) for cid in ids)
        return {
            "total": len(ids),  # cards in the topic
            "seen": len(seen),  # cards answered at least once
            "right": sum(1 for cid in seen if self.stats.get(cid, {}).get("last_right")),  # last answer right
            "due": sum(1 for cid in seen if self.cards[cid].due <= now),  # seen cards due for review
            "new": len(ids) - len(seen),
            "answered": answered,
            "answered_right": right_answers,
            "accuracy": right_answers / answered if answered else None,
            "level": self.level(topic),
            "next_due": min((self.cards[cid].due for cid in seen), default=None),
        }

    def summary(self, now: datetime | None = None) -> dict[str, dict]:
        return {topic: self.topic_summary(topic, now) for topic in TOPICS}


def progress_summary() -> dict[str, dict]:
    """Per topic: ``seen``, ``right``, ``total``, ``due`` (card counts) and more; never writes.

    ``total`` is the number of cards in the topic, ``seen`` how many were answered at least
    once, ``right`` how many of those were answered right the last time, ``due`` how many seen
    cards are due for review now. Also ``new``, ``answered``, ``answered_right``, ``accuracy``
    (None before any answer), ``level`` (0-2) and ``next_due`` (a UTC datetime or None).
    """
    return QuizProgress.load(persist=False).summary()
