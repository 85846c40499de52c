"""The Train screen's run controls (issue 24, item 11): a quick GPT run beside the full one,
escape asking before it ends a long run, the chart's x axis after a cancel, and one count of
validation images for the digits chart and its log."""

from __future__ import annotations

import re

import pytest
from pilot import pilot_test
from test_tui_lab import (
    SIZE,
    ScreenApp,
    digits_screen,
    log_text,
    press_while_training,
    text_data,
    tiny_gpt_setup,
    wait_until,
    x_ticks,
)
from textual.widgets import Static

from engine.data.synthetic_digits import load_synthetic
from engine.gpt.checkpoint import load_gpt
from kqv_cli.tui.screens.confirm import ConfirmScreen
from kqv_cli.tui.screens.train import CONFIRM_AFTER_SECONDS, TrainScreen
from kqv_cli.tui.train_runs import QUICK_GPT_ITERS, duration, quick_run
from kqv_cli.tui.widgets.curves import CurvesPlot

__all__ = ["text_data"]  # the fixture, shared with test_tui_lab


def status(screen) -> str:
    return str(screen.query_one("#train-status", Static).render())


@pytest.mark.slow  # a GPT run in a worker
@pilot_test
async def test_the_quick_gpt_run_trains_a_few_hundred_iterations_and_keeps_them(text_data, tmp_path):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data), save_dir=tmp_path)  # a full run: 1,000,000
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        assert "G: a quick 200 iterations" in status(screen)
        await press_while_training(pilot, "G", lambda: screen.running is None and screen.steps_seen > 0)
        assert status(screen).startswith(f"GPT done at iteration {QUICK_GPT_ITERS}:"), status(screen)
        assert x_ticks(screen.query_one(CurvesPlot))[-1] == f"{QUICK_GPT_ITERS:,}"  # its own length
        assert f"iter {QUICK_GPT_ITERS:>5}  train" in log_text(screen)  # its last evaluation
    # a quick run never replaces a longer model: the first one is kept as gpt.npz
    assert load_gpt(tmp_path / "gpt.npz")[2]["iter"] == QUICK_GPT_ITERS


@pytest.mark.slow  # a GPT run in a worker
@pilot_test
async def test_escape_asks_before_ending_a_run_older_than_a_minute(text_data, tmp_path):
    now = [1000.0]
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data), save_dir=tmp_path)
    screen.clock = lambda: now[0]

    def asked() -> bool:  # the question is up, or the key did something else (asserted next)
        app_screen = screen.app.screen
        return (isinstance(app_screen, ConfirmScreen) and bool(app_screen.query(Static))) or (
            app_screen is screen and screen.stop_event.is_set())

    def answered() -> bool:
        return screen.app.screen is screen

    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
        now[0] += CONFIRM_AFTER_SECONDS + 61  # two minutes and a second of training, on the fake clock
        await press_while_training(pilot, "escape", asked)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        question = " ".join(str(w.render()) for w in pilot.app.screen.query(Static))
        assert "End the GPT run?" in question and "trained for 2 min 1 s" in question
        await press_while_training(pilot, "n", answered)  # no: the run goes on
        assert pilot.app.screen is screen and screen.running == "gpt" and not screen.stop_event.is_set()
        steps = screen.steps_seen
        await wait_until(pilot, lambda: screen.steps_seen > steps)
        assert screen.running == "gpt" and not screen.stop_event.is_set()  # still, a step later
        await press_while_training(pilot, "escape", asked)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await press_while_training(pilot, "escape", answered)  # esc on the question answers no as well
        steps = screen.steps_seen
        await wait_until(pilot, lambda: screen.steps_seen > steps)
        assert pilot.app.screen is screen and screen.running == "gpt" and not screen.stop_event.is_set()
        await press_while_training(pilot, "escape", asked)
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await press_while_training(pilot, "y", lambda: screen.running is None)
        assert pilot.app.screen is screen and "GPT cancelled at iteration" in status(screen)


@pytest.mark.slow  # a GPT run in a worker
@pilot_test
async def test_escape_ends_a_run_younger_than_a_minute_at_once(text_data, tmp_path):
    now = [1000.0]
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data), save_dir=tmp_path)
    screen.clock = lambda: now[0]
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
        now[0] += CONFIRM_AFTER_SECONDS - 1
        await press_while_training(pilot, "escape", lambda: screen.stop_event.is_set()
                                   or isinstance(pilot.app.screen, ConfirmScreen))
        assert pilot.app.screen is screen and screen.stop_event.is_set()
        await wait_until(pilot, lambda: screen.running is None)
        assert "GPT cancelled at iteration" in status(screen)


@pytest.mark.slow  # a GPT run in a worker
@pilot_test
async def test_after_a_cancel_the_x_axis_fits_the_run(text_data, tmp_path):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data), save_dir=tmp_path)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 3)
        plot = screen.query_one(CurvesPlot)
        assert x_ticks(plot)[-1] == "1,000,000"  # while it runs: the whole budget
        await press_while_training(pilot, "c", lambda: screen.running is None)
        last = max(plot.curves["loss"][0])
        assert plot.x_max == last < 1_000_000
        ticks = [int(t.replace(",", "")) for t in x_ticks(plot)]
        assert ticks[0] == 0 and 0 < ticks[-1] <= last, ticks


@pytest.mark.parametrize(("n_validation", "shown"), [(150, 150), (1500, 1000)])
@pilot_test
async def test_the_digits_chart_and_log_count_the_same_validation_images(tmp_path, n_validation, shown):
    data = load_synthetic(seed=0, n_train=200, n_validation=n_validation, n_test=0)
    screen = digits_screen(data, 12, 1, save_dir=tmp_path / "models")
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "d", lambda: screen.running is None and screen.steps_seen > 0)
        title = screen.query_one(CurvesPlot).title
        charted = screen.query_one(CurvesPlot).curves["accuracy"][1][-1]
        status_line = status(screen)
        log = log_text(screen)
    assert f"validation accuracy ({shown:,} synthetic digits" in title
    epoch = re.search(r"validation ([\d,]+)/([\d,]+)", log)
    assert epoch and epoch.group(2) == f"{shown:,}", log
    assert f"the first {shown:,} of its {n_validation:,} validation images" in log
    assert f"validation {epoch.group(1)}/{shown:,} (" in status_line
    # the chart's last point is the epoch line's accuracy: one set of images behind both
    accuracy = int(epoch.group(1).replace(",", "")) / shown
    assert abs(charted - accuracy) < 1e-9


def test_duration_says_how_long_a_run_has_trained():
    assert [duration(s) for s in (45, 60, 200, 3900)] == ["45 s", "1 min", "3 min 20 s", "1 h 5 min"]


def test_the_quick_run_scales_the_full_runs_schedule():
    from engine.gpt.train import TrainConfig

    full = TrainConfig()
    quick = quick_run(full)
    assert (quick.max_iters, quick.warmup_iters, quick.eval_interval) == (QUICK_GPT_ITERS, 20, 50)
    assert quick.decay_iters == QUICK_GPT_ITERS and quick.lr == full.lr and full.max_iters == 2000


@pilot_test
async def test_s_shows_a_sampled_control_byte_escaped_never_raw(tmp_path):
    """A model whose vocabulary holds ESC, BEL or NAK samples them; the log shows their escapes
    (as kqv sample does on a terminal) so the terminal under the app never obeys them."""
    from engine.data.text import CharVocab
    from engine.files.checkpoint import save_checkpoint
    from engine.gpt.model import GPT, GPTConfig

    vocab = CharVocab.from_text("\x1b\x07\x15ab")
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=8), seed=2)
    save_checkpoint(tmp_path / "gpt.npz", dict(model.params), {"kind": "gpt", "model": model.config.to_dict(),
                                                               "vocab": vocab.chars})
    screen = TrainScreen(save_dir=tmp_path)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.press("s")  # the kept gpt.npz: an untrained model, every character about as likely
        await wait_until(pilot, lambda: screen.running is None)
        log = log_text(screen)
    assert "\\x1b" in log and "\\x07" in log and "\\x15" in log
    assert not {"\x1b", "\x07", "\x15"} & set(log)
