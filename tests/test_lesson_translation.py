"""The translation lesson: its own untrained model says so, and a kept trained model is read.

The shapes of every step at every check-dims line are tests/test_lessons.py's; the walk of every
step at 80x24 is tests/test_tui_pilot.py's (both cover every lesson of the curriculum). Here: what
the decode and pizza steps say about the model they ran, with and without a trained checkpoint
where the app keeps it (KQV_STATE_DIR is a fresh folder in every test).
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from lessons import load_lessons
from lessons.session import LessonSession
from lessons.steps import translation as script

TINY = Path(__file__).parent / "data" / "translate-tiny.npz"
LESSON = next(lesson for lesson in load_lessons() if lesson.id == "translation")


def _step(session: LessonSession, step_id: str):
    return session.run(LESSON.step_index(step_id))


def test_without_a_trained_model_the_pizza_step_says_untrained_and_how_to_train():
    view = _step(LessonSession(LESSON), "pizza")
    notes = "\n".join(view.notes)
    assert "UNTRAINED" in notes and "kqv train translate --out" in notes
    assert str(script.kept_path()) in notes
    assert "chance, not grammar" in notes
    assert "prefers" not in notes  # no verdict drawn from random weights


def test_a_kept_trained_model_answers_the_pizza_and_decode_steps():
    script.kept_path().parent.mkdir(parents=True)
    shutil.copy(TINY, script.kept_path())
    session = LessonSession(LESSON)
    assert session.check() == []
    pizza = _step(session, "pizza")
    notes = "\n".join(pizza.notes)
    assert "kqv's own trained model" in notes and "UNTRAINED" not in notes
    assert "prefers" in notes and "p(elle) = " in notes and "p(il) = " in notes
    cross = pizza.record("dec.h0.cross.att")
    assert cross.shape[-2:] == (pizza.dims["T"], pizza.dims["S"])
    decode = _step(session, "decoding")
    assert decode.record("beam_tokens").shape == (1, script.BEAMS, decode.dims["t"])
    assert any(n.startswith("beam 4: ") for n in decode.notes)


def test_a_damaged_kept_model_falls_back_to_the_untrained_one_and_says_why():
    script.kept_path().parent.mkdir(parents=True)
    script.kept_path().write_bytes(b"not a checkpoint")
    notes = "\n".join(_step(LessonSession(LESSON), "pizza").notes)
    assert "UNTRAINED" in notes and "cannot be read" in notes


def test_a_word_of_several_pieces_gets_the_weight_of_all_its_pieces():
    pieces = ["The", "▁p", "izza", "▁o", "ven", ".", "</s>", "<pad>"]
    row = np.array([0.1, 0.2, 0.05, 0.3, 0.15, 0.1, 0.1, 0.0])
    assert script.word_weight(pieces, row, "pizza") == pytest.approx(0.25)
    assert script.word_weight(pieces, row, "oven") == pytest.approx(0.45)
    assert script.word_weight(pieces, row, "cat") == 0.0


def test_the_pronoun_probability_multiplies_its_pieces():
    """p(word) is the product of its pieces' probabilities, each given the ones before."""
    d = script.full_dims({})
    model, vocab = script.model_for(d, 0), script.lesson_vocab()
    src = np.array([vocab.encode(script.PIZZA[0][0]) + [2]])
    prefix = vocab.encode(script.PRONOUN_PREFIX)
    word = vocab.encode(" il")
    assert len(word) > 1  # in the lesson's small vocabulary, il is two pieces
    logits = model.forward(src, np.array([[1] + prefix + word[:-1]]))[0].astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    expected = p[len(prefix), word[0]] * p[len(prefix) + 1, word[1]]
    assert script.word_probability(model, src, prefix, word) == pytest.approx(expected, rel=1e-9)


def test_the_padding_mask_note_is_minus_inf_exactly_where_the_source_is_padding():
    view = _step(LessonSession(LESSON), "encoder-input")
    src = view.record("src_pad").value
    rows = [n for n in view.notes if n.startswith("row ")]
    assert len(rows) == src.shape[0]
    for b, line in enumerate(rows):
        marks = line.split(":", 1)[1].split("(")[0].split()
        assert marks == ["−inf" if pad else "0" for pad in src[b]]


# -- on MarianMT: kqv learn translation --model PATH, and the g key ------------------------------

MARIAN = Path(__file__).parent / "data" / "marian-tiny"


def test_every_step_runs_on_marian_with_the_shapes_its_text_states():
    session = LessonSession(LESSON, model=str(MARIAN))
    assert session.check() == []
    pizza = _step(session, "pizza")
    assert "asked of a real translation model" in pizza.markdown and "UNTRAINED" not in "\n".join(pizza.notes)
    assert any(n.startswith("the MarianMT weights in") for n in pizza.notes)
    assert pizza.dims["V"] == 397  # Marian's vocabulary, not the lesson's BPE
    assert pizza.record("dec.h0.cross.att").shape[-2:] == (pizza.dims["T"], pizza.dims["S"])
    decode = _step(session, "decoding")
    assert "Marian starts from its" in decode.markdown
    assert _step(session, "task").dims["V"] == script.full_dims({})["V"]  # the walk-through stays small


def test_marian_needs_its_weights_and_only_two_lessons_take_a_model():
    from typer.testing import CliRunner

    import kqv_cli.main  # noqa: F401  (registers the commands)
    from kqv_cli.cli import app as cli

    result = CliRunner().invoke(cli, ["lessons", "show", "translation", "--step", "10", "--model",
                                      "opus-mt-en-fr"])  # an empty Hugging Face cache
    assert result.exit_code == 2 and "kqv data marian" in result.output
    show = ["lessons", "show", "translation", "--step", "10", "--model"]
    result = CliRunner().invoke(cli, [*show, str(MARIAN)])
    assert result.exit_code == 0 and "the MarianMT weights in" in result.output
    result = CliRunner().invoke(cli, ["learn", "translation", "--model", str(Path(__file__).parent / "data"
                                                                              / "gpt2-tiny")])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


# -- the Train screen trains the translator the lesson reads ---------------------------------------


def tiny_translate_setup(tmp_path):
    """A few dozen made-up pairs and a model small enough to train six iterations in a second."""
    from engine.data.pairs import load_pairs
    from engine.translation.train import TranslateTrainConfig

    nouns = [("cat", "chat"), ("dog", "chien"), ("oven", "four"), ("bread", "pain"), ("car", "voiture")]
    lines = [f"The {e} is {a}.\tLe {f} est {b}." for e, f in nouns
             for a, b in [("here", "ici"), ("there", "là"), ("small", "petit"), ("big", "grand"),
                          ("new", "neuf"), ("old", "vieux"), ("good", "bon"), ("hot", "chaud")]]
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sizes = {"n_embd": 16, "n_head": 2, "n_layer": 1, "n_dec_layer": 1, "d_ff": 32, "dropout": 0.1}
    tc = TranslateTrainConfig(batch_size=4, max_iters=6, eval_interval=3, warmup_iters=2, vocab_size=300,
                              bleu_sentences=2, beam=2, threads=1)
    return lambda: (load_pairs(path), sizes, tc)


@pytest.mark.slow
def test_the_train_screen_trains_the_translator_and_the_lesson_reads_it(tmp_path):
    import asyncio

    from test_tui_lab import ScreenApp, wait_until
    from textual.widgets import RichLog, Static

    from kqv_cli.services.models import models_dir
    from kqv_cli.tui.screens.train import TrainScreen

    async def run():
        screen = TrainScreen(translate_setup=tiny_translate_setup(tmp_path))
        async with ScreenApp(screen).run_test(size=(100, 32)) as pilot:
            await pilot.press("t")
            await wait_until(pilot, lambda: screen.steps_seen >= 1)
            await wait_until(pilot, lambda: screen.running is None)
            status = str(screen.query_one("#train-status", Static).render())
            log = "".join(line.text for line in screen.query_one(RichLog).lines)
            return status, log

    status, log = asyncio.run(run())
    assert "translator done at iteration 6" in status and "test BLEU greedy" in status, status
    assert "The pizza came out of the oven. →" in log  # a translation at every evaluation
    kept = models_dir() / "translate.npz"
    assert f"saved to {kept}" in log and kept == script.kept_path() and kept.is_file()
    notes = "\n".join(_step(LessonSession(LESSON), "pizza").notes)
    assert "kqv's own trained model" in notes and "trained 6 iterations" in notes


@pytest.mark.slow
def test_g_switches_the_last_steps_between_marian_and_the_lessons_own_model():
    import asyncio

    from kqv_cli.tui.app import KqvApp
    from kqv_cli.tui.screens.lesson import LessonScreen
    from kqv_cli.tui.widgets.step_text import StepText

    async def settle(pilot) -> None:
        await pilot.pause()
        while isinstance(pilot.app.screen, LessonScreen) and pilot.app.screen.busy:
            await asyncio.sleep(0.002)

    async def run():
        app = KqvApp("translation", model=str(MARIAN))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            screen = app.screen
            for _ in range(len(LESSON.steps) - 1):
                screen.action_step(1)
                await settle(pilot)
            shown = screen.query_one(StepText)
            seen = [(screen.view.step.id, screen.view.dims["V"], "asked of a real translation model" in
                     shown.markdown)]
            await pilot.press("g")
            await settle(pilot)
            seen.append((screen.view.step.id, screen.view.dims["V"], "asked of a real translation model" in
                         shown.markdown))
            await pilot.press("g")
            await settle(pilot)
            seen.append((screen.view.step.id, screen.view.dims["V"], screen.session.model == str(MARIAN)))
            return seen

    own_V = script.full_dims({})["V"]
    assert asyncio.run(run()) == [("pizza", 397, True), ("pizza", own_V, False), ("pizza", 397, True)]


def test_the_cross_attention_step_shows_a_kept_models_alignment_only_when_there_is_one():
    step = LESSON.step_index("cross-attention")
    assert not any("the kept trained model" in n for n in LessonSession(LESSON).run(step).notes)
    script.kept_path().parent.mkdir(parents=True)
    shutil.copy(TINY, script.kept_path())
    notes = LessonSession(LESSON).run(step).notes
    line = next(n for n in notes if n.startswith("the kept trained model on 'The cat is asleep.'"))
    vocab = script.kept_translator()[0][1]
    assert line.count("←") == len(script.LessonText(vocab).target("Le chat dort.")) + 1  # and </s>


def test_the_variables_pane_labels_source_and_target_axes_with_their_pieces():
    """enc.h0.att (B, nh, S, S) gets English pieces on both axes; dec.h0.cross.att (B, nh, T, S)
    French rows and English columns; dec.h0.att (B, nh, T, T) French on both."""
    from kqv_cli.tui.widgets.figures import array_view, label_text

    view = _step(LessonSession(LESSON, dims={"B": 2, "S": 5, "T": 3, "C": 8, "nh": 2}), "post-ln")
    english, french = view.source_tokens[0], view.tokens[0]
    assert len(english) == 5 and len(french) == 3 and english[0] == "The" and french[0] == "<s>"

    def labels(name):
        record = view.record(name)
        lines = array_view(record.value, "", 200, 20, axes=record.symbolic, tokens=view.tokens,
                           source_tokens=view.source_tokens).plain.splitlines()
        header, rows = lines[1], [line.split()[1] for line in lines[2:]]  # "0 <s>  0.231 ..."
        return header, rows

    header, rows = labels("dec.h0.cross.att")
    assert rows == [label_text(p) for p in french] and "pizza" in header and "▁came" in header
    header, rows = labels("enc.h0.att")
    assert rows == [label_text(p) for p in english] and "▁came" in header
    header, rows = labels("dec.h0.att")
    assert rows == [label_text(p) for p in french] and "La" in header and "▁came" not in header
