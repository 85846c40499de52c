"""One sitting of the quiz, driven the same way by ``kqv quiz`` and the TUI's Quiz screen.

The loop, for each question::

    question = session.next_question()      # picks the card, draws dims, runs the engine
    outcome = session.respond(text)         # "h"/"?" -> a hint; unreadable -> a format hint,
                                            # asked again; otherwise right or wrong, with the
                                            # derivation to show, and the card rescheduled
                                            # and saved at once

Which card comes next: cards due for review first (the most overdue first), then cards never
seen (in teaching order: small things before big ones; topics taken in turn), then the one due
soonest. The same
card is not asked twice in a row while others are left. A card answered wrong is due again
within minutes, so a long sitting brings it back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from kqv_cli.quiz import scheduler as srs
from kqv_cli.quiz.answers import Malformed, check
from kqv_cli.quiz.questions import BY_ID, cards_for, check_topic, generate
from kqv_cli.quiz.quiz_progress import QuizProgress
from lessons.cards.question import Question

HINT_WORDS = ("h", "?", "hint")
MAX_HINTS = 2


@dataclass(frozen=True)
class Outcome:
    """What became of one thing the learner typed."""

    status: str  # hint | malformed | right | wrong
    message: str  # the hint, the format hint, or a one-line verdict
    question: Question
    hints_used: int = 0
    rating: srs.Rating | None = None
    due: datetime | None = None  # when the card comes back

    @property
    def final(self) -> bool:
        """True once the question is answered (right or wrong) and the derivation is due."""
        return self.status in ("right", "wrong")


class QuizSession:
    def __init__(self, topic: str = "all", count: int = 10, symbolic: bool = False,
                 seed: int | None = None, progress: QuizProgress | None = None,
                 clock: Callable[[], datetime] = srs.now_utc):
        self.topic = check_topic(topic)
        self.count = max(1, int(count))
        self.symbolic = symbolic
        self.rng = np.random.default_rng(seed)
        self._drawn_from: dict = {}  # the generator state the current question was drawn from
        self.progress = progress if progress is not None else QuizProgress.load()
        self.clock = clock
        self.asked = 0
        self.right = 0
        self.wrong = 0
        self.current: Question | None = None
        self.hints_used = 0
        self.answered = True  # no question pending
        self.missed: dict[str, datetime] = {}  # card id -> when it comes back, for the round's end

    @property
    def warning(self) -> str | None:
        """Set when the progress file was unreadable and moved aside."""
        return self.progress.warning

    def level(self, topic: str) -> int:
        return self.progress.level(topic)

    def next_card(self) -> str:
        now = self.clock()
        ids = [c.card_id for c in cards_for(self.topic)]
        last = self.current.card_id if self.current is not None else None  # never twice in a row
        if len(ids) > 1 and last in ids:
            ids.remove(last)
        cards = self.progress.cards
        due = sorted((cid for cid in ids if cid in cards and cards[cid].due <= now),
                     key=lambda c: cards[c].due)
        if due:
            return due[0]
        new = [cid for cid in ids if cid not in cards]
        if new:
            # with every topic in play, take the first new card of the topic with the most left,
            # so a round of "all" alternates backprop and attention instead of one after the other
            by_topic: dict[str, list[str]] = {}
            for cid in new:
                by_topic.setdefault(BY_ID[cid].topic, []).append(cid)
            return max(by_topic.values(), key=len)[0]
        return min(ids, key=lambda c: cards[c].due)

    def next_question(self) -> Question | None:
        """The next question, or None when the sitting's ``count`` questions are done."""
        if self.asked >= self.count:
            self.current = None
            return None
        card_id = self.next_card()
        topic = BY_ID[card_id].topic
        self._drawn_from = copy.deepcopy(self.rng.bit_generator.state)  # ctrl+l asks it again
        self.current = generate(card_id, self.rng, self.level(topic), self.symbolic)
        self.asked += 1
        self.hints_used = 0
        self.answered = False
        return self.current

    def set_symbolic(self, symbolic: bool) -> Question | None:
        """Answer in letters (or numbers) from now on. A question waiting for its answer is asked
        again, the same question in the new form (and returned); otherwise ``None``."""
        self.symbolic = symbolic
        if self.current is None or self.answered:
            return None
        card_id = self.current.card_id
        # the same draw of dimensions, asked in the other form (a card may need other sizes in
        # letters, e.g. m > 1; switching back gives the very question first asked)
        rng = np.random.Generator(type(self.rng.bit_generator)())
        rng.bit_generator.state = copy.deepcopy(self._drawn_from)
        self.current = generate(card_id, rng, self.level(card_id.split(".", 1)[0]), symbolic)
        self.hints_used = 0
        return self.current

    def hint(self) -> str | None:
        """The next hint for the current question (operation, then operand shapes), or None."""
        if self.current is None or self.answered or self.hints_used >= MAX_HINTS:
            return None
        text = self.current.hints[self.hints_used]
        self.hints_used += 1
        return f"hint {self.hints_used}: {text}"

    def respond(self, text: str) -> Outcome:
        """Take one line from the learner: a hint request, or an answer to check."""
        q = self.current
        if q is None or self.answered:
            raise RuntimeError("no question is waiting for an answer; call next_question() first")
        if text.strip().lower() in HINT_WORDS:
            hint = self.hint()
            return Outcome("hint", hint or "no more hints: give it a try (or any wrong answer to see "
                           "the working)", q, self.hints_used)
        try:
            right = check(q, text)
        except Malformed as exc:
            return Outcome("malformed", str(exc), q, self.hints_used)
        card = self.progress.record(q.card_id, right, self.hints_used, self.clock())
        self.answered = True
        if right:
            self.right += 1
        else:
            self.wrong += 1
            self.missed[q.card_id] = card.due
        verdict = ("right" if right else f"not quite: the answer is {q.answer_text()}")
        if right and self.hints_used:
            verdict += f" (after {self.hints_used} hint{'s' if self.hints_used > 1 else ''})"
        return Outcome("right" if right else "wrong", verdict, q, self.hints_used,
                       srs.rating_for(right, self.hints_used), card.due)

    def missed_lines(self) -> list[str]:
        """One line per concept missed this round, by its name, and when its card comes back."""
        now = self.clock()
        return [f"{BY_ID[card_id].title} ({card_id}): comes back {srs.when(due, now)}"
                for card_id, due in self.missed.items()]

    def summary_line(self) -> str:
        answered = self.right + self.wrong
        if not answered:
            return "no questions answered"
        return f"{self.right} of {answered} right"
