"""The rich progress bars: one while a data set downloads, one while a model trains.

The engine reports bytes through a plain callback, ``on_progress(done, total, label)``, and
never imports rich; this module turns those calls into one bar per file on stderr (so a
command's own output on stdout stays clean). The bar appears only once bytes start to flow:
when the data is already on disk, nothing is shown; when the download fails, the bars are
cleared so the error stands alone.

    with download_progress(enabled=not as_json) as on_progress:
        train, validation, test = load_mnist(data, on_progress=on_progress)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from kqv_cli.messages import err_console

OnProgress = Callable[[int, int | None, str], None]


@contextmanager
def download_progress(enabled: bool = True, console: Console | None = None) -> Iterator[OnProgress | None]:
    """Yield an ``on_progress`` callback drawing a bar per file, or None when not ``enabled``."""
    if not enabled:
        yield None
        return
    progress = Progress(
        TextColumn("downloading {task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console or err_console,
    )
    tasks: dict[str, int] = {}

    def on_progress(done: int, total: int | None, label: str) -> None:
        if not tasks:
            progress.start()
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=total)
        progress.update(tasks[label], completed=done, total=total)  # done drops to 0 on a retry

    try:
        yield on_progress
    except BaseException:
        progress.live.transient = True  # a failed download's bars vanish; the error line stays
        raise
    finally:
        if tasks:
            progress.stop()


def iteration_progress(console: Console, total: int, completed: int, enabled: bool = True,
                       loss_format: str = ".4f") -> tuple[Progress, Callable]:
    """A training run's bar (iteration, loss, tokens/s, time left) and the ``on_step`` that moves it.

    The bar is redrawn every fifth iteration and at the last: often enough to watch, rarely
    enough to cost nothing against a step. ``kqv train gpt`` and ``kqv train translate`` share it.
    """
    progress = Progress(
        TextColumn("iter"), BarColumn(), MofNCompleteColumn(),
        TextColumn(f"loss {{task.fields[loss]:{loss_format}}}  {{task.fields[tps]:,.0f}} tokens/s"),
        TimeRemainingColumn(), console=console, transient=True, disable=not enabled,
    )
    task = progress.add_task("train", total=total, completed=completed, loss=float("nan"), tps=0.0)

    def on_step(info) -> None:
        if info.iter % 5 == 0 or info.iter == total:
            progress.update(task, completed=info.iter, loss=info.loss, tps=info.tokens_per_s)

    return progress, on_step
