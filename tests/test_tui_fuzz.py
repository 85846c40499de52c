"""Random keys in the app: whatever is pressed, in whatever order, nothing escapes.

The keys are read from the app at every step (the app's and the current screen's bindings,
plus what widgets take: arrows, enter, tab, letters and digits for a text box), so a key added
or moved later is pressed too. Seeded, so a failure replays (its message names the seed and
the last keys pressed); bounded by a number of presses, never by the clock, so a run presses
the same keys on a fast machine and a slow one. Between presses the terminal is sometimes
resized, and some presses come without waiting for the app to settle, as a fast typist's would.
"""

import os
import random

import pytest
from pilot import pilot_test

from kqv_cli.tui.app import KqvApp

PRESSES = 40  # per seed: the same keys whatever the machine's speed
# more seeds for a longer hunt: KQV_FUZZ_SEEDS=1-50 pytest tests/test_tui_fuzz.py
FIRST, _, LAST = os.environ.get("KQV_FUZZ_SEEDS", "1").partition("-")
SEEDS = list(range(int(FIRST), int(LAST or FIRST) + 1))
WIDGET_KEYS = ["up", "down", "enter", "tab", "1", "2", "x", "comma", "space", "backspace"]
SIZES = [(80, 24), (120, 40), (40, 12), (200, 50), (60, 20)]


def bound_keys(app) -> list[str]:
    keys = set(app.active_bindings)  # the app's, the screen's and the focused widget's
    return sorted(k for k in keys if not k.startswith("ctrl+"))  # ctrl+c/ctrl+q: quit, pressed as q


async def drive(seed: int, log: list[str]) -> None:
    """Press random keys for ``PRESSES`` steps (restarting the app after it quits), each one
    written to ``log`` before it is pressed."""
    rng = random.Random(seed)
    while len(log) < PRESSES:
        app = KqvApp()
        async with app.run_test(size=rng.choice(SIZES)) as pilot:
            await pilot.pause()
            while len(log) < PRESSES and not app.exiting:
                roll = rng.random()
                if roll < 0.08:
                    size = rng.choice(SIZES)
                    log.append(f"resize {size}")
                    await pilot.resize_terminal(*size)
                    continue
                key = rng.choice(bound_keys(app) if roll < 0.75 else WIDGET_KEYS)
                log.append(f"{type(app.screen).__name__}: {key}")
                await pilot.press(key)
                if rng.random() < 0.7:  # otherwise the next key comes before the app settles
                    await pilot.pause()
        # run_test re-raises what the app met; reaching here means nothing escaped
        assert app.return_code in (None, 0), log


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # screens that make files in the current folder (practice) make them here


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pilot_test
async def test_random_keys_never_crash_the_app(seed):
    log: list[str] = []
    try:
        await drive(seed, log)
    except BaseException as error:  # say how to replay it: the seed picks every key
        error.add_note(f"seed {seed}, after {len(log)} presses, the last {log[-5:]}: replay with "
                       f"KQV_FUZZ_SEEDS={seed} pytest tests/test_tui_fuzz.py")
        raise
    assert len(log) == PRESSES


@pilot_test
async def test_quit_then_a_key_at_once_on_home():
    app = KqvApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("q", "t", "m", "l", "enter")
    assert app.return_code in (None, 0)
