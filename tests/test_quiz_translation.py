"""The translation topic's cards: every level, several seeds, no wrong answer, S ≠ T always.

The catalogue-wide tests (tests/test_quiz_questions.py) draw cards of every topic at random;
this file walks each translation card through levels 0-2 and seeds 0-7, so a figure of the
issue ("quiz cards at levels 0-2 over several seeds have no wrong answer") is a test.
"""

import pytest

from kqv_cli.quiz import answers
from kqv_cli.quiz.answers import check
from kqv_cli.quiz.questions import cards_for, generate

CARDS = [c.card_id for c in cards_for("translation")]
SEEDS = range(8)


def test_the_topic_has_the_cards_the_issue_names():
    assert {"translation.cross_scores_shape", "translation.pad_mask", "translation.memory_shape",
            "translation.loss_positions", "translation.beam_shape", "translation.layer_params",
            "translation.smoothed_target"} <= set(CARDS)


@pytest.mark.parametrize("card_id", CARDS)
def test_every_level_and_seed_accepts_its_answer_and_only_it(card_id):
    for level in (0, 1, 2):
        for seed in SEEDS:
            for symbolic in (False, True):
                q = generate(card_id, seed, level, symbolic)
                assert q.dims["S"] != q.dims["T"] and min(q.dims["S"], q.dims["T"]) > 1, q.dims
                assert check(q, q.answer_text()), (card_id, level, seed, q.answer_text())
                if q.kind == "shape":  # the answer is the traced shape, and swapping S and T is wrong
                    record = q.evidence["record"]
                    assert q.answer == record.value.shape
                    if "S" in record.symbolic and "T" in record.symbolic:
                        i, j = record.symbolic.index("S"), record.symbolic.index("T")
                        swapped = list(q.answer)
                        swapped[i], swapped[j] = swapped[j], swapped[i]
                        assert not check(q, str(tuple(swapped)))
                if q.kind == "works" and q.answer == answers.NO:
                    a, b = q.evidence["a"].value, q.evidence["b"].value
                    with pytest.raises(ValueError):
                        a + b


@pytest.mark.parametrize("card_id", CARDS)
def test_each_review_draws_fresh_dims(card_id):
    assert len({generate(card_id, s, 1).prompt for s in SEEDS}) > 1


def test_cross_attention_rows_are_target_positions():
    for seed in SEEDS:
        q = generate("translation.cross_scores_shape", seed, 1)
        if q.subject.endswith("att_scores"):
            B, nh, T, S = q.answer
            assert (T, S) == (q.dims["T"], q.dims["S"])
            return
    pytest.fail("no att_scores question in 8 seeds")


def test_a_decoder_layer_has_cross_attention_more_than_an_encoder_layer():
    for seed in SEEDS:
        q = generate("translation.layer_params", seed, 1)
        model = q.evidence["arrays"]
        C = q.dims["C"]
        cross = 4 * C * C + 4 * C + 2 * C  # c_q, c_kv, c_proj with biases, and one more LayerNorm
        enc = (4 * C * C + 4 * C) + (2 * C * q.dims["d_ff"] + q.dims["d_ff"] + C) + 4 * C
        want = enc + cross if next(iter(model)).startswith("dec.") else enc
        assert q.answer == want
