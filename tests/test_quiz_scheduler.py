"""FSRS scheduling of quiz cards: wrong comes back first, a hint makes a recall Hard."""

from datetime import UTC, datetime, timedelta

from kqv_cli.quiz import scheduler as srs
from kqv_cli.quiz.questions import cards_for
from kqv_cli.quiz.quiz_progress import QuizProgress
from kqv_cli.quiz.session import QuizSession
from lessons.curriculum import TOPICS

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_ratings():
    assert srs.rating_for(True, 0) == srs.Rating.Good
    assert srs.rating_for(True, 1) == srs.Rating.Hard
    assert srs.rating_for(True, 2) == srs.Rating.Hard
    assert srs.rating_for(False, 0) == srs.Rating.Again
    assert srs.rating_for(False, 2) == srs.Rating.Again


def test_a_wrong_answer_is_due_before_a_right_one():
    p = QuizProgress()
    wrong = p.record("backprop.z_shape", right=False, hints_used=0, now=NOW)
    right = p.record("backprop.delta_shape", right=True, hints_used=0, now=NOW)
    assert NOW < wrong.due < right.due
    assert wrong.due - NOW <= timedelta(minutes=10)  # back within the same sitting


def test_a_wrong_answer_on_a_well_known_card_brings_it_back_soon():
    p = QuizProgress()
    t = NOW
    for _ in range(4):  # learned: reviewed right each time it fell due
        card = p.record("attention.scores_shape", True, 0, t)
        t = card.due
    assert card.state == srs.State.Review and card.due - t >= timedelta(0)
    interval = card.due - (card.last_review or t)
    lapsed = p.record("attention.scores_shape", False, 0, t)
    assert lapsed.due - t < timedelta(hours=1) < interval


def test_right_after_a_hint_is_hard_and_comes_back_sooner_than_right_at_once():
    s = QuizSession("backprop", count=2, seed=1, progress=QuizProgress(), clock=lambda: NOW)
    q = s.next_question()
    assert s.respond("h").status == "hint"
    hinted = s.respond(q.answer_text())
    assert hinted.status == "right" and hinted.rating == srs.Rating.Hard
    q = s.next_question()
    clean = s.respond(q.answer_text())
    assert clean.rating == srs.Rating.Good
    assert hinted.due < clean.due


def test_cards_round_trip_through_the_store():
    p = QuizProgress.load()
    p.record("backprop.weight_shape", True, 0, NOW)
    p.record("backprop.z_shape", False, 1, NOW)
    again = QuizProgress.load()
    assert again.warning is None
    assert again.cards["backprop.weight_shape"].due == p.cards["backprop.weight_shape"].due
    assert again.cards["backprop.z_shape"].state == p.cards["backprop.z_shape"].state
    assert again.stats["backprop.z_shape"] == {"answered": 1, "right": 0, "last_right": False}
    assert again.streak["days"] == 1 and again.streak["run"] == 0 and again.streak["best_run"] == 1


def test_level_grows_as_cards_are_learned():
    p = QuizProgress()
    ids = [c.card_id for c in cards_for("backprop")]
    assert p.level("backprop") == 0
    for cid in ids:
        p.record(cid, True, 0, NOW)
        p.record(cid, True, 0, NOW + timedelta(minutes=11))  # Good twice: graduated to Review
    assert all(p.cards[cid].state == srs.State.Review for cid in ids)
    assert p.level("backprop") == srs.LEVELS - 1


def test_session_asks_due_cards_first_then_new_ones_in_teaching_order():
    p = QuizProgress()
    ids = [c.card_id for c in cards_for("backprop")]
    p.record(ids[3], False, 0, NOW - timedelta(hours=1))  # failed an hour ago: due now
    s = QuizSession("backprop", count=3, seed=0, progress=p, clock=lambda: NOW)
    q = s.next_question()
    assert q.card_id == ids[3]
    assert s.respond(q.answer_text()).status == "right"
    assert s.next_question().card_id == ids[0]


def test_day_streak_counts_consecutive_days():
    p = QuizProgress()
    p.record("backprop.z_shape", True, 0, NOW)
    p.record("backprop.z_shape", True, 0, NOW + timedelta(days=1))
    assert p.streak["days"] == 2
    p.record("backprop.z_shape", True, 0, NOW + timedelta(days=4))
    assert p.streak["days"] == 1 and p.streak["best_run"] == 3


def test_a_round_of_all_topics_takes_them_in_turn():
    s = QuizSession("all", count=4, seed=0, progress=QuizProgress(), clock=lambda: NOW)
    topics = []
    for _ in range(4):
        q = s.next_question()
        topics.append(q.topic)
        s.respond(q.answer_text())
    # the topic with the most new cards first, and never the same topic twice in a row
    sizes = {topic: len(cards_for(topic)) for topic in TOPICS}
    assert sizes[topics[0]] == max(sizes.values())
    assert all(a != b for a, b in zip(topics, topics[1:], strict=False))
