"""The Lab and Train screens driven by Textual's pilot: a tiny experiment runs to its verdict,
and a live training keeps the keys responsive and can be cancelled."""

from __future__ import annotations

import asyncio
import io
import re
import time

import pytest
from pilot import pilot_test, record_notes
from rich.console import Console
from test_lab import tiny_text
from textual.app import App
from textual.geometry import Region
from textual.widgets import OptionList, RichLog, Static

from engine.data.synthetic_digits import load_synthetic
from engine.data.text import TextData
from engine.digits.network import load_network
from engine.gpt.checkpoint import load_gpt
from engine.gpt.model import GPTConfig
from engine.gpt.train import TrainConfig
from kqv_cli.lab import runner as lab_runner
from kqv_cli.lab.experiments import get_experiment
from kqv_cli.services.models import models_dir
from kqv_cli.tui import STYLESHEET
from kqv_cli.tui.screens.lab import LabScreen
from kqv_cli.tui.screens.train import TrainScreen
from kqv_cli.tui.widgets.curves import CurvesPlot

pytestmark = pytest.mark.slow  # real training runs in the Train and Lab screens

SIZE = (100, 32)


class ScreenApp(App):
    """Just the screen under test, without the lessons the full app loads."""

    CSS_PATH = STYLESHEET

    def __init__(self, screen):
        super().__init__()
        self.first = screen
        self.notes = record_notes(self)  # what the screen told the learner

    def on_mount(self) -> None:
        self.push_screen(self.first)


async def wait_until(pilot, condition, timeout: float = 120.0) -> None:
    """Poll with plain sleeps: ``pilot.pause`` waits for an idle app, which a training run never is.
    ``timeout`` only guards against a hang: it is no budget (the machine may be shared)."""
    end = time.perf_counter() + timeout
    while not condition():
        assert time.perf_counter() < end, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture(scope="module")
def text_data():
    return TextData.from_text(tiny_text(), 32, "tiny test text")


@pilot_test
async def test_lab_screen_runs_an_experiment_to_its_verdict(text_data, monkeypatch):
    monkeypatch.setattr(lab_runner, "SAMPLE_CHARS", 24)
    monkeypatch.setattr(lab_runner, "PROBE_WINDOWS", 16)
    monkeypatch.setitem(lab_runner.GPT_TRAIN, "eval_iters", 2)
    screen = LabScreen(budget=3, data_for=lambda exp: text_data)
    app = ScreenApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        menu = screen.query_one(OptionList)
        menu.highlighted = [o.id for o in menu.options].index("heads")
        await pilot.pause()
        assert "one big head" in str(screen.query_one("#lab-question", Static).render())
        await press_while_training(pilot, "enter", lambda: screen.result is not None)
        await pilot.pause(0.3)  # one redraw of the plot
        plot = screen.query_one(CurvesPlot)
        assert plot.points("4 heads") == 3 and plot.points("1 head") == 3
        verdict = str(screen.query_one("#lab-verdict", Static).render())
        assert verdict.replace("\n", " ").split()[:6] == screen.result.verdict.split()[:6]
        assert "done in" in str(screen.query_one("#lab-status", Static).render())
        await pilot.press("enter")  # again: every variant comes from the cache
        await wait_until(pilot, lambda: screen.running is None and screen.result is not None)
        assert all(v.cached for v in screen.result.variants)
        # another experiment highlighted: this one's chart and verdict must not sit under it
        menu.highlighted = (menu.highlighted + 1) % len(menu.options)
        await pilot.pause()
        assert screen.result is None and plot.points("4 heads") == 0
        assert str(screen.query_one("#lab-verdict", Static).render()) == ""
        # back on the experiment run in this visit: its own result again, chart included
        menu.highlighted = [o.id for o in menu.options].index("heads")
        await pilot.pause()
        assert screen.result is not None and screen.result.experiment.name == "heads"
        assert plot.points("4 heads") == 3 and plot.points("1 head") == 3
        assert str(screen.query_one("#lab-verdict", Static).render()).split()[:6] == verdict.split()[:6]
        await pilot.press("escape")
        assert not isinstance(app.screen, LabScreen)


def prompt_of(screen, name: str) -> str:
    menu = screen.query_one(OptionList)
    return str(menu.get_option(name).prompt)


@pilot_test
async def test_lab_list_marks_an_experiment_cached_once_its_run_finished(text_data, monkeypatch):
    from pilot import screen_lines

    from kqv_cli.lab import cache

    monkeypatch.setattr(lab_runner, "SAMPLE_CHARS", 24)
    monkeypatch.setattr(lab_runner, "PROBE_WINDOWS", 16)
    monkeypatch.setitem(lab_runner.GPT_TRAIN, "eval_iters", 2)

    def lab(key="tiny text"):
        return LabScreen(budget=2, data_for=lambda exp: text_data, data_key_for=lambda exp: key)

    screen = lab()
    app = ScreenApp(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert screen_lines(app)[-1].startswith(" enter Run "), screen_lines(app)[-1]
        assert not any("cached" in prompt_of(screen, e) for e in ("heads", "no-scale"))
        menu = screen.query_one(OptionList)
        menu.highlighted = [o.id for o in menu.options].index("heads")
        await press_while_training(pilot, "enter", lambda: screen.result is not None)
        await pilot.pause()
        assert prompt_of(screen, "heads").startswith("heads\ncached · 4 heads")
        assert "cached" not in prompt_of(screen, "no-scale")
        app.push_screen(again := lab())  # the lab opened again: the mark is read from the cache
        await pilot.pause()
        assert "cached" in prompt_of(again, "heads") and "cached" not in prompt_of(again, "no-scale")
        app.push_screen(other := lab("another text"))  # other data: its run is not in the cache
        await pilot.pause()
        assert "cached" not in prompt_of(other, "heads")
    for path in (cache.lab_cache_dir()).glob("gpt-*.json"):
        path.unlink()  # a variant's result gone: the experiment is no longer marked
    screen = lab()
    async with ScreenApp(screen).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "cached" not in prompt_of(screen, "heads")


@pilot_test
async def test_lab_screen_shows_a_missing_data_error():
    def no_data(exp):
        from engine.errors import KqvError

        raise KqvError("Tiny Shakespeare is not on this machine")

    screen = LabScreen(budget=1, data_for=no_data)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.running is None)
        assert "not on this machine" in str(screen.query_one("#lab-status", Static).render())


def tiny_gpt_setup(text_data):
    cfg = GPTConfig(vocab_size=text_data.vocab.size, block_size=32, n_layer=2, n_head=4, n_embd=64)
    return lambda: (text_data, cfg, TrainConfig(batch_size=8, max_iters=1_000_000, eval_interval=20,
                                                eval_iters=2, threads=1))


async def press_while_training(pilot, key: str, until) -> None:
    """Press ``key`` while a run trains in a worker, then wait until ``until()`` holds.

    ``pilot.press`` waits, after each key, for the process to go idle (Textual's wait_for_idle,
    up to a second, twice), and a process whose worker thread trains never does: two seconds a
    key spent waiting for nothing. ``until`` says what the key does, so the test waits for that
    only (and fails, after ``wait_until``'s guard, if it never happens). It must not hold
    before the key: then the wait would prove nothing (use ``pilot.press`` there)."""
    assert not until(), f"{key}: what it should bring about already holds"
    pilot.app.simulate_key(key)
    await wait_until(pilot, until)


async def key_latency(pilot, screen, key: str, timeout: float = 120.0) -> float:
    """Seconds from a key event entering the app's queue to the key's action running (the
    tests only need it handled; benchmarks/tui_latency.py reports the seconds)."""
    before = screen.key_handled_at
    t0 = time.perf_counter()
    pilot.app.simulate_key(key)  # unlike pilot.press, does not wait for the app to go idle
    await wait_until(pilot, lambda: screen.key_handled_at != before, timeout=timeout)
    return screen.key_handled_at - t0


@pilot_test
async def test_train_screen_stays_responsive_and_cancels_a_gpt_run(text_data):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data))
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 3)
        steps = screen.steps_seen
        for _ in range(3):  # each key handled while the worker trains (benchmarks/tui_latency.py: how fast)
            await key_latency(pilot, screen, "l")
        await wait_until(pilot, lambda: screen.steps_seen > steps)
        assert screen.running is not None
        status = str(screen.query_one("#train-status", Static).render())
        assert "tokens/s" in status and "GPT iteration" in status
        pilot.app.simulate_key("c")
        await wait_until(pilot, lambda: screen.running is None)
        status = str(screen.query_one("#train-status", Static).render())
        assert "GPT cancelled at iteration" in status
        assert screen.query_one(CurvesPlot).points("loss") >= 3
        log = "".join(line.text for line in screen.query_one(RichLog).lines)  # lines wrap
    # the cancelled run is kept where the log says, at the iteration it stopped, ready to sample
    path = models_dir() / "gpt.npz"
    assert f"saved to {path}" in log, log
    model, vocab, meta = load_gpt(path)
    assert vocab.chars == text_data.vocab.chars
    assert f"at iteration {meta['iter']}:" in status and meta["iter"] >= 3
    # the loss it reports is the latest training loss, not the iteration-0 evaluation
    recent = meta["losses"][-20:]
    assert f"loss {sum(recent) / len(recent):.4f} (mean of the last {len(recent)} iterations)" in status


@pilot_test
async def test_escape_on_the_train_screen_cancels_first_then_goes_back(text_data):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data))
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
        # stops the run, stays to show how it ended
        await press_while_training(pilot, "escape", lambda: screen.running is None)
        assert pilot.app.screen is screen
        assert "GPT cancelled at iteration" in str(screen.query_one("#train-status", Static).render())
        await pilot.press("escape")  # nothing runs now: back
        await pilot.pause()
        assert pilot.app.screen is not screen


def digits_screen(data, hidden: int, epochs: int, **kwargs) -> TrainScreen:
    """A Train screen whose digits run is a 784-hidden-10 net on ``data`` for ``epochs``."""
    return TrainScreen(digits_setup=lambda: (data, {"sizes": [784, hidden, 10], "epochs": epochs,
                                                    "batch_size": 10, "eta": 3.0}), **kwargs)


@pilot_test
async def test_train_screen_cancels_a_digits_run():
    data = load_synthetic(seed=0, n_train=2000, n_validation=200, n_test=0)
    screen = digits_screen(data, 30, 1000)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "d", lambda: screen.steps_seen >= 3)
        await key_latency(pilot, screen, "l")  # handled mid-run (how fast: benchmarks/tui_latency.py)
        assert screen.running is not None
        running = str(screen.query_one("#train-status", Static).render())
        assert re.search(r"images/s · about \d+ (s|min) left · c cancels", running), running  # an ETA
        assert "synthetic digits, not MNIST" in screen.query_one(CurvesPlot).title  # issue 24
        pilot.app.simulate_key("c")
        await wait_until(pilot, lambda: screen.running is None)
        status = str(screen.query_one("#train-status", Static).render())
        assert "digits cancelled" in status
    # saved after each epoch, the cancelled one included, so the file matches the status line
    epochs = int(re.search(r"after (\d+) epoch", status).group(1))
    path = models_dir() / "digits.npz"
    if epochs:
        assert load_network(path)[1]["epochs_done"] == epochs
    else:
        assert not path.exists()


@pilot_test
async def test_train_screen_keeps_each_finished_digits_epoch(tmp_path):
    data = load_synthetic(seed=0, n_train=200, n_validation=100, n_test=0)
    screen = digits_screen(data, 12, 2, save_dir=tmp_path / "models")
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "d", lambda: screen.running is None and screen.steps_seen > 0)
        assert "digits done after 2 epoch(s)" in str(screen.query_one("#train-status", Static).render())
        assert x_ticks(screen.query_one(CurvesPlot)) == ["0", "1", "2"]  # the 2 epochs, whole numbers
        log = "".join(line.text for line in screen.query_one(RichLog).lines)
        assert "digits.npz--synthetic" in log.replace(" ", "")  # trained on synthetic, tested on them
    net, meta = load_network(tmp_path / "models" / "digits.npz")
    assert net.sizes == [784, 12, 10] and meta["epochs_done"] == 2


@pilot_test
async def test_train_screen_refuses_digits_settings_by_the_commands_rules(tmp_path):
    """The screen's settings pass the check kqv train digits' flags pass (kqv_cli.services.numbers),
    named as settings, and nothing is trained or kept."""
    data = load_synthetic(seed=0, n_train=50, n_validation=20, n_test=0)
    screen = digits_screen(data, 12, 0, save_dir=tmp_path / "models")
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await wait_until(pilot, lambda: screen.running is None)
        status = str(screen.query_one("#train-status", Static).render())
        assert status.startswith("could not start: epochs, mini-batch size and eta must all be positive ·")
        assert screen.steps_seen == 0
    assert not (tmp_path / "models" / "digits.npz").exists()


@pilot_test
async def test_home_opens_the_lab_and_the_train_screens():
    from kqv_cli.tui.app import KqvApp

    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("l")
        assert isinstance(app.screen, LabScreen)
        await pilot.press("escape")
        await pilot.press("m")
        assert isinstance(app.screen, TrainScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, (LabScreen, TrainScreen))


@pilot_test
async def test_quitting_mid_training_stops_the_worker(text_data):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data))
    app = ScreenApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
        workers = list(app.workers)
        assert workers and not any(w.is_finished for w in workers)
        app.exit()
    # the worker notices the exit and ends (how soon: benchmarks/tui_latency.py)
    await wait_until(pilot, lambda: all(w.is_finished for w in workers))


def test_gpt_data_for_the_app_downloads_or_says_how_to_get_it(monkeypatch):
    """Offline with nothing cached, the Lab and Train screens get one line naming the fix."""
    import engine.data.shakespeare
    from engine.errors import KqvError
    from kqv_cli.tui.screens.lab import default_data
    from kqv_cli.tui.train_runs import default_gpt_setup

    monkeypatch.setattr(engine.data.shakespeare, "SHAKESPEARE_URLS", ["http://127.0.0.1:9/input.txt"])
    for setup in (default_gpt_setup, lambda: default_data(get_experiment("heads"))):
        with pytest.raises(KqvError, match="run `kqv data shakespeare` when online") as refused:
            setup()
        assert "--text" not in str(refused.value)  # the app has no --text to offer


@pilot_test
async def test_train_screen_says_so_when_it_cannot_save(tmp_path, text_data):
    blocked = tmp_path / "models"
    blocked.write_text("a file where the models folder should be")
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data), save_dir=blocked)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await wait_until(pilot, lambda: screen.running is None)
        status = str(screen.query_one("#train-status", Static).render())
        assert status.startswith("could not start:") and str(blocked) in status
        assert screen.steps_seen == 0  # nothing trained, and the file is left as it was
    assert blocked.read_text() == "a file where the models folder should be"


@pilot_test
async def test_a_short_cancelled_gpt_run_never_replaces_a_longer_kept_model(text_data):
    from engine.files.checkpoint import load_checkpoint, save_checkpoint

    path = models_dir() / "gpt.npz"

    async def cancelled_run() -> str:
        screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data))
        async with ScreenApp(screen).run_test(size=SIZE) as pilot:
            await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
            await press_while_training(pilot, "c", lambda: screen.running is None)
            return "".join(line.text for line in screen.query_one(RichLog).lines)

    await cancelled_run()
    arrays, meta = load_checkpoint(path, "gpt")
    save_checkpoint(path, arrays, {**meta, "iter": 50_000})  # as if trained for hours
    log = await cancelled_run()
    assert load_checkpoint(path, "gpt")[1]["iter"] == 50_000  # kept
    assert "gpt.npz keeps the longer model, 50,000 iterations" in log.replace("\n", "")
    assert load_checkpoint(models_dir() / "gpt-run.npz", "gpt")[1]["iter"] < 50_000


def log_text(screen) -> str:
    return "".join(line.text for line in screen.query_one(RichLog).lines)  # lines wrap


@pilot_test
async def test_s_samples_the_gpt_just_trained_in_the_screen(text_data):
    screen = TrainScreen(gpt_setup=tiny_gpt_setup(text_data))
    async with ScreenApp(screen).run_test(size=(80, 24)) as pilot:
        await pilot.press("s")  # nothing trained yet: said, nothing started
        await pilot.pause()
        assert screen.running is None and "nothing trained yet" in str(app_notes(pilot.app))
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 2)
        await press_while_training(pilot, "c", lambda: screen.running is None)
        await pilot.press("l")  # the log hidden: s shows it again to write the sample there
        await pilot.press("s")  # in a worker, as a run: c would stop it
        await wait_until(pilot, lambda: screen.running is None)
        status = str(screen.query_one("#train-status", Static).render())
        assert "sampled 300 characters from gpt.npz" in status
        assert screen.query_one(RichLog).display
        log = log_text(screen)
    assert "sample of gpt.npz (temperature 0.8, as kqv sample" in log
    sample = log.split("gpt.npz):", 1)[1].split("sampled 300 characters")[0]
    assert len(sample) >= 250 and set(sample) <= set(text_data.vocab.chars)  # RichLog drops the ⏎s


@pilot_test
async def test_s_with_only_a_digit_net_kept_says_how_to_test_it(tmp_path):
    from engine.digits.network import Network, save_network

    save_network(Network([784, 12, 10]), tmp_path / "digits.npz", {"epochs_done": 3})
    screen = TrainScreen(save_dir=tmp_path)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert screen.running is None
        assert f"kqv eval digits {tmp_path / 'digits.npz'} tests the digit net" in str(app_notes(pilot.app))


def app_notes(app) -> list[str]:
    return app.notes


@pilot_test
async def test_s_after_a_digits_run_shows_the_nets_guesses():
    data = load_synthetic(seed=0, n_train=200, n_validation=100, n_test=0)
    screen = digits_screen(data, 12, 1)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "d", lambda: screen.running is None and screen.steps_seen > 0)
        await pilot.press("s")
        await pilot.pause()
        log = log_text(screen)
    net = screen.last_model[1][0]
    right = int((net.predict(data[1].x[:20]) == data[1].labels[:20]).sum())
    assert "reads 20 validation images (label→guess)" in log and f"{right}/20 right" in log


@pilot_test
async def test_leaving_the_train_screen_and_coming_back_shows_the_last_run(text_data, monkeypatch):
    import kqv_cli.tui.screens.train as train_screen
    from kqv_cli.tui.app import KqvApp

    monkeypatch.setattr(train_screen, "default_gpt_setup", tiny_gpt_setup(text_data))
    app = KqvApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.gpt_setup = tiny_gpt_setup(text_data)
        await press_while_training(pilot, "g", lambda: screen.steps_seen >= 3)
        await press_while_training(pilot, "escape", lambda: screen.running is None)  # stops the run first
        status = str(screen.query_one("#train-status", Static).render())
        points = screen.query_one(CurvesPlot).points("loss")
        await pilot.press("escape")  # back home
        await pilot.pause()
        assert not isinstance(app.screen, TrainScreen)
        await pilot.press("m")
        await pilot.pause()
        assert app.screen is screen  # the same screen, not an empty new one
        assert str(screen.query_one("#train-status", Static).render()) == status
        assert "GPT cancelled at iteration" in status
        assert screen.query_one(CurvesPlot).points("loss") == points
        assert "saved to" in log_text(screen)


@pilot_test
async def test_a_short_digits_run_never_replaces_a_longer_kept_one_and_says_so(tmp_path):
    from engine.digits.network import Network, save_network

    data = load_synthetic(seed=0, n_train=100, n_validation=50, n_test=0)
    folder = tmp_path / "models"
    folder.mkdir()
    save_network(Network([784, 12, 10]), folder / "digits.npz", {"epochs_done": 30})  # as if the book's run
    screen = digits_screen(data, 12, 1, save_dir=folder)
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await press_while_training(pilot, "d", lambda: screen.running is None and screen.steps_seen > 0)
        status = str(screen.query_one("#train-status", Static).render())
        log = log_text(screen)
    assert load_network(folder / "digits.npz")[1]["epochs_done"] == 30  # kept
    assert load_network(folder / "digits-run.npz")[1]["epochs_done"] == 1  # the run, beside it
    assert "digits.npz keeps the longer model, 30 epochs" in status.replace("\n", " ")
    assert "saved to" in log and "digits-run.npz" in log


def test_time_left_at_the_pace_so_far():
    from kqv_cli.tui.train_runs import time_left

    assert time_left(10, 40, 5.0) == "about 15 s left"
    assert time_left(100, 2000, 60.0) == "about 19 min left"  # 1,900 more at 0.6 s each
    assert time_left(0, 2000, 0.1) == "time left unknown yet"


def test_whole_ticks_are_round_integers_over_the_whole_budget():
    from kqv_cli.tui.widgets.curves import whole_ticks

    assert whole_ticks(500) == [0, 100, 200, 300, 400, 500]
    assert whole_ticks(3) == [0, 1, 2, 3]
    assert whole_ticks(156) == [0, 50, 100, 150]
    assert whole_ticks(2000) == [0, 500, 1000, 1500, 2000]
    for budget in (1, 7, 30, 156, 999, 5000):
        ticks = whole_ticks(budget)
        assert ticks[0] == 0 and ticks[-1] <= budget < ticks[-1] + (ticks[1] - ticks[0]) and len(ticks) <= 6


def rendered(widget) -> str:
    """What a widget shows, as text, at its size on screen."""
    console = Console(width=widget.size.width, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def x_ticks(plot) -> list[str]:
    """The labels under the chart's x axis (the line after the axis's ┬ line) in its next frame."""
    plot._redraw_if_stale()
    lines = re.sub(r"\x1b\[[0-9;]*m", "", plot.plt.build()).splitlines()  # colours off
    axis = next((i for i, line in enumerate(lines) if "┬" in line), None)
    return [] if axis is None else lines[axis + 1].split()


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
@pilot_test
async def test_lab_run_keeps_a_fixed_axis_shows_a_line_per_variant_and_fits(text_data, monkeypatch, size):
    monkeypatch.setattr(lab_runner, "SAMPLE_CHARS", 24)
    monkeypatch.setattr(lab_runner, "PROBE_WINDOWS", 16)
    monkeypatch.setitem(lab_runner.GPT_TRAIN, "eval_iters", 2)
    screen = LabScreen(budget=4, data_for=lambda exp: text_data)
    statuses, ticks = [], []
    original = LabScreen.show_progress

    def watched(self):
        original(self)
        statuses.append(rendered(self.query_one("#lab-status", Static)))
        ticks.append(x_ticks(self.query_one(CurvesPlot)))

    monkeypatch.setattr(LabScreen, "show_progress", watched)
    async with ScreenApp(screen).run_test(size=size) as pilot:
        menu = screen.query_one(OptionList)
        menu.highlighted = [o.id for o in menu.options].index("flipped-mask")  # three variants
        await pilot.pause()
        await press_while_training(pilot, "enter", lambda: screen.result is not None)
        await pilot.pause(0.3)
        # the x axis spans the whole budget from the first point: 0..4 in whole numbers, never rescaled
        drawn = [t for t in ticks if t]  # before the first point there is no axis yet
        assert len(drawn) > 4 and all(t == ["0", "1", "2", "3", "4"] for t in drawn), ticks
        # while it ran, each variant had its own progress line
        mid = next(s for s in statuses if " 2/4 · loss" in s)
        assert mid.startswith("flipped-mask · 4 iterations each · esc stops\n")
        for label in ("causal", "flipped", "none"):  # a line each, unwrapped, at 80 columns too
            assert re.search(rf"^{label} +[█░]+ \d/4 · loss \d\.\d+( ✓)?$", mid, re.M), mid
        # at the end: the verdict is on screen without scrolling, the table's figure names whole
        verdict = screen.query_one("#lab-verdict", Static)
        assert verdict.region.height > 0 and verdict.region.y + 1 < size[1] - 1
        first_line = Region(verdict.region.x, verdict.region.y, verdict.region.width, 1)
        assert screen.query_one("#lab-report").region.contains_region(first_line)
        table = rendered(screen.query_one("#lab-table", Static))
        assert "…" not in table
        for name in ("train loss", "val loss", "loss when generating", "real words /100 chars", "ms/iter"):
            assert name in table, table
        assert "causal" in table.splitlines()[0] and "flipped" in table.splitlines()[0]


@pilot_test
async def test_lab_screen_runs_a_translation_experiment_and_shows_its_translations():
    from kqv_cli.lab.pairs import builtin_lab_pairs

    pairs = builtin_lab_pairs()
    pairs.splits.test = pairs.splits.test[:8]
    screen = LabScreen(budget=4, data_for=lambda exp: pairs)
    app = ScreenApp(screen)
    async with app.run_test(size=SIZE) as pilot:
        menu = screen.query_one(OptionList)
        menu.highlighted = [o.id for o in menu.options].index("tx-no-cross")
        await pilot.pause()
        await press_while_training(pilot, "enter", lambda: screen.result is not None)
        await pilot.pause(0.3)
        plot = screen.query_one(CurvesPlot)
        assert plot.points("cross-attention") == 4 and plot.points("no cross-attention") == 4
        samples = str(screen.query_one("#lab-samples", Static).render())
        assert "no cross-attention translates:" in samples and " → " in samples
        assert "built-in pairs" in str(screen.query_one("#lab-status", Static).render())


@pilot_test
async def test_train_screen_never_says_mnist_over_synthetic_digits(tmp_path, monkeypatch):
    # issue 24: with no MNIST on the machine the Train screen trained synthetic digits under
    # "d: train the digit net (MNIST)"; it says what it trains on, and how to get MNIST
    monkeypatch.setenv("KQV_DATA_DIR", str(tmp_path / "no-data"))  # and the test's empty cache
    screen = TrainScreen()
    async with ScreenApp(screen).run_test(size=SIZE) as pilot:
        await pilot.pause()
        status = str(screen.query_one("#train-status", Static).render())
        assert "(MNIST)" not in status and "synthetic digits" in status, status
        assert "kqv data mnist" in status
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        status = str(screen.query_one("#train-status", Static).render())
        assert "kqv data mnist" in status and "sample the model trained" in status, status
        assert screen.query_one("#train-status", Static).size.height == 3  # all of it, not cut at 2
