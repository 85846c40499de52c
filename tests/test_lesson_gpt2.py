"""The attention lesson on a real GPT-2: `kqv learn attention --model PATH` and the g key.

Driven by the tiny random GPT-2 in tests/data/gpt2-tiny. The ranking of heads is held against
the attention matrices transformers computed (tests/data/gpt2-tiny-golden.npz): the lesson's
sentence, less its last token, is the golden prompt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pilot import pilot_test, settle
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from engine.errors import KqvError
from kqv_cli.cli import app as cli
from kqv_cli.tui.app import KqvApp
from kqv_cli.tui.widgets.figures import array_view
from kqv_cli.tui.widgets.step_text import StepText
from lessons import LessonSession, load_lessons

DATA = Path(__file__).parent / "data"
TINY = DATA / "gpt2-tiny"
LESSONS = {lesson.id: lesson for lesson in load_lessons()}


@pytest.fixture(scope="module")
def golden():
    with np.load(DATA / "gpt2-tiny-golden.npz", allow_pickle=False) as g:
        return {k: g[k] for k in g.files}


def test_every_step_runs_on_the_real_model_with_the_shapes_its_text_states():
    session = LessonSession(LESSONS["attention"], model=str(TINY))
    assert session.check() == []
    view = session.run(0)
    assert view.dims["C"] == 16 and view.dims["V"] == 320 and view.dims["n_layer"] == 2
    assert view.record("idx").value[0, 0] == 0  # <|endoftext|> first: id 0 in the tiny tokenizer
    assert any("GPT-2 from" in n for n in view.notes)
    # the attention matrices' rows and columns are named by the BPE pieces the model read
    assert len(view.tokens) == 1 and len(view.tokens[0]) == view.dims["T"]
    assert view.tokens[0][0] == "<|endoftext|>" and " pizza" in view.tokens[0]
    mask = session.run(LESSONS["attention"].step_index("mask"))
    record = mask.record("h0.att_masked")
    text = array_view(record.value, "", 200, 20, axes=record.symbolic, tokens=mask.tokens).plain
    assert text.splitlines()[1].split()[2:5] == ["<|endoftext|>", "The", "pizza"]


def test_tokens_embedding_and_positions_steps_say_what_is_true_of_gpt2():
    """On GPT-2 these steps explain BPE and a learned wpe (n_positions rows), with the folder's
    own sizes; the lesson's own model keeps its words and sine waves."""
    lesson = LESSONS["attention"]
    real, own = LessonSession(lesson, model=str(TINY)), LessonSession(lesson)
    tokens, tokens_own = (s.run(lesson.step_index("tokens")).step.markdown for s in (real, own))
    assert "byte-pair encoding" in tokens and "50,257 tokens; this model's has V = 320" in tokens
    assert "<|endoftext|>" in tokens and "(B, T) = (1, 12)" in tokens
    assert "sorted list" not in tokens and "sorted list of" in tokens_own
    embedding = real.run(lesson.step_index("embedding")).step.markdown
    assert "(V, C) = (320, 16)" in embedding and "√C" not in embedding
    positions, positions_own = (s.run(lesson.step_index("positions")).step.markdown for s in (real, own))
    assert "**learns**" in positions and "(block_size, C) =\n(32, 16)" in positions
    assert "n_positions, 1,024 tokens" in positions and "PE(pos, 2i)" not in positions
    assert "PE(pos, 2i)" in positions_own and "n_positions" not in positions_own
    assert real.check() == [] and own.check() == []


def test_the_pizza_step_ranks_every_head_as_transformers_measured(golden):
    lesson = LESSONS["attention"]
    view = LessonSession(lesson, model=str(TINY)).run(lesson.step_index("it"))
    ids = list(golden["ids"])
    assert list(view.record("idx").value[0]) == ids
    it, pizza, oven = 9, 2, 7  # ' it', ' pizza', ' oven' in the golden prompt
    att = np.stack([golden["att_h0"], golden["att_h1"]])  # (L, nh, T, T), by transformers
    score = (att[:, :, it, pizza] - att[:, :, it, oven]).ravel()
    order = np.argsort(score)[::-1]
    best = f"{order[0] // 4}.{order[0] % 4}"
    notes = "\n".join(view.notes)
    assert "all 8 heads (layer.head) ranked" in notes
    assert f"1. head {best}: pizza {att.reshape(8, 12, 12)[order[0], it, pizza]:.2f}" in notes
    assert f"in {int(np.sum(score > 0))} of 8 heads" in notes
    assert "cannot see ' tasted', ' good' yet" in notes and "' tasted' (position 10" in notes
    assert "lands on <|endoftext|> (position 0): an attention sink" in notes
    query, tokens, weights = view.extra["attends"]
    assert query == " it" and tokens[0] == "<|endoftext|>" and tokens[-1] == " it"
    np.testing.assert_allclose(weights[0], att.reshape(8, 12, 12)[order[0], it, : it + 1], atol=1e-4)


def test_without_weights_the_step_says_how_to_get_them_and_keeps_the_small_model():
    lesson = LESSONS["attention"]
    view = LessonSession(lesson).run(lesson.step_index("it"))
    assert view.dims["C"] == 32  # the lesson's own model
    assert any("kqv data gpt2 (about 550 MB)" in n for n in view.notes)


def test_the_first_step_sees_gpt2_in_the_cache_by_its_folder_alone(isolated_dirs):
    """The hint on the tokens step looks at the Hugging Face cache's folder (importing the hub's
    downloader would hold the lesson's opening up) and agrees with the downloader's own look-up."""
    from engine.hf.hub import MODELS, cached_snapshot, fetch_model

    hub = MODELS["gpt2"]
    folder = isolated_dirs / "hf" / "models--openai-community--gpt2" / "snapshots" / hub.revision
    folder.mkdir(parents=True)
    for name in hub.files[:-1]:
        (folder / name).write_text("{}")
    assert cached_snapshot("gpt2") is None  # the weights are not there yet
    with pytest.raises(KqvError):
        fetch_model("gpt2", local_only=True)
    (folder / hub.files[-1]).write_bytes(b"")
    assert cached_snapshot("gpt2") == folder == fetch_model("gpt2", local_only=True)
    lesson = LESSONS["attention"]
    view = LessonSession(lesson).run(lesson.step_index("tokens"))
    assert any("GPT-2 small is on this machine: press g" in n for n in view.notes)


def test_only_the_attention_lesson_takes_a_model():
    with pytest.raises(KqvError, match="--model is for attention"):
        LessonSession(LESSONS["backprop"], model=str(TINY))
    result = CliRunner().invoke(cli, ["learn", "backprop", "--model", str(TINY)])
    assert result.exit_code == 2 and "kqv learn attention --model" in result.output
    result = CliRunner().invoke(cli, ["learn", "attention", "--model", "gpt2"])  # empty HF cache
    assert result.exit_code == 2 and "kqv data gpt2" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pilot_test
async def test_g_switches_the_lesson_between_gpt2_and_its_own_model():
    app = KqvApp("attention", model=str(TINY))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = app.screen
        shown = screen.query_one(StepText)
        assert screen.view.dims["V"] == 320  # started on the real model
        assert "byte-pair encoding" in shown.markdown and "sorted list" not in shown.markdown
        await pilot.press("g")
        await settle(pilot)
        assert screen.view.dims["C"] == 32 and screen.session.model is None
        assert "sorted list" in shown.markdown  # the tokens step's own text again
        await pilot.press("g")
        await settle(pilot)
        assert screen.view.dims["V"] == 320 and screen.session.model == str(TINY)
        assert "byte-pair encoding" in shown.markdown
