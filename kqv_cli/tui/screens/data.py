"""The data dialog (``D`` on home): which data sets are here, and the missing ones downloaded
with their progress, cancellable.

The downloads are ``kqv data``'s own (:data:`kqv_cli.services.datasets.DATA_SETS`: into the
cache, every byte verified), run one after another in a worker thread. The thread reports
through small messages; ``esc`` asks it to stop, which it does at its next chunk (the
downloader deletes the partial file). A failure is one line in the dialog, never a traceback.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from engine.errors import KqvError
from kqv_cli.services.datasets import DATA_SETS, DataSet
from kqv_cli.tui.workers import yield_to_the_interface

BAR = 24  # cells of the progress bar: the line fits the dialog at 60 columns
REPORT_EVERY = 0.1  # seconds between progress messages (a 64 KB chunk can arrive every millisecond)


class DownloadCancelled(Exception):
    """Raised from the progress callback when esc was pressed: the download stops at that chunk."""


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def progress_line(title: str, done: int, total: int | None, label: str) -> Text:
    """``Tiny Shakespeare  ████████░░░░  0.6 of 1.1 MB  input.txt`` (no bar when the size is unknown)."""
    line = Text(f"{title}  ", style="bold")
    if total:
        filled = min(BAR, BAR * done // total)
        line.append("█" * filled, style="green").append("░" * (BAR - filled), style="dim")
        line.append(f"  {megabytes(done)} of {megabytes(total)}")
    else:
        line.append(megabytes(done))
    return line.append(f"  {label}", style="dim")


def missing_sets() -> list[DataSet]:
    return [ds for ds in DATA_SETS if ds.find() is None]


class DataScreen(ModalScreen[None]):
    """Lists the data sets; ``enter`` downloads the missing ones, ``esc`` stops or closes."""

    BINDINGS = [Binding("enter", "download", "Download the missing"),
                Binding("D", "download", "Download the missing", show=False),  # D again, as on home
                Binding("escape", "close", "Stop / close")]

    @dataclass
    class Progress(Message):
        serial: int
        title: str
        done: int
        total: int | None
        label: str

    @dataclass
    class Finished(Message):
        serial: int
        error: str | None = None  # one line
        cancelled: bool = False

    def __init__(self):
        super().__init__()
        self.running = False
        self.stop_event = threading.Event()
        self._serial = 0  # of the latest download asked for; an older one's messages are dropped
        self._fetching = ""  # the title of the data set downloading now

    def compose(self) -> ComposeResult:
        with Vertical(id="data-box"):
            yield Static(Text("Data sets", style="bold"), id="data-title")
            yield Static(id="data-list")
            yield Static(id="data-status")
        yield Footer()  # the dialog's own keys

    def on_mount(self) -> None:
        self.show_sets()
        missing = missing_sets()
        if missing:
            self.set_status(Text(f"enter downloads the missing ({', '.join(ds.title for ds in missing)}) "
                                 "into kqv's cache; esc closes"))
        else:
            self.set_status(Text("every data set is here; esc closes", style="green"))

    def show_sets(self) -> None:
        rows = []
        for ds in DATA_SETS:
            found = ds.find()
            mark = ("✓ ", "bold green") if found is not None else ("✗ ", "bold yellow")
            where = f"here: {found}" if found is not None else f"not here · {ds.size} · `{ds.command}`"
            rows.append(Text.assemble(mark, (ds.title, "bold"), f"  for {ds.used_for}\n  ", (where, "dim")))
        self.query_one("#data-list", Static).update(Text("\n").join(rows))

    def set_status(self, text: Text) -> None:
        self.query_one("#data-status", Static).update(text)

    # -- downloading -------------------------------------------------------------------------

    def action_download(self) -> None:
        if self.running:
            return
        missing = missing_sets()
        if not missing:
            self.set_status(Text("every data set is here; esc closes", style="green"))
            return
        self.running = True
        self.stop_event = threading.Event()  # a cancelled thread still running keeps its own event
        self._serial += 1
        self.set_status(Text(f"starting the download of {missing[0].title}…"))
        self.refresh_bindings()
        self.fetch(missing, self._serial, self.stop_event)

    @work(thread=True, group="data", exit_on_error=False)
    def fetch(self, sets: list[DataSet], serial: int, stop: threading.Event) -> None:
        yield_to_the_interface()
        last = 0.0  # when progress was last posted: ten lines a second are plenty to read
        for ds in sets:
            def on_progress(done, total, label, title=ds.title):
                nonlocal last
                if stop.is_set():
                    raise DownloadCancelled
                if time.monotonic() - last >= REPORT_EVERY or done == total:
                    last = time.monotonic()
                    self.post_message(self.Progress(serial, title, done, total, label))

            try:
                ds.fetch(on_progress)
            except DownloadCancelled:
                self.post_message(self.Finished(serial, cancelled=True))
                return
            except KqvError as exc:
                self.post_message(self.Finished(serial, " ".join(str(exc).split())))
                return
            except Exception as exc:  # noqa: BLE001  (a worker must not die silently: said in a line)
                self.post_message(self.Finished(serial, f"{ds.title}: {type(exc).__name__}: {exc}"))
                return
        self.post_message(self.Finished(serial))

    def on_data_screen_progress(self, message: Progress) -> None:
        if message.serial == self._serial and self.running:
            if message.title != self._fetching:  # the one before is done: its row turns ✓
                self._fetching = message.title
                self.show_sets()
            self.set_status(progress_line(message.title, message.done, message.total, message.label))

    def on_data_screen_finished(self, message: Finished) -> None:
        if message.serial != self._serial or not self.running:
            return  # cancelled already, and said so
        self.running = False
        self.refresh_bindings()
        self.show_sets()
        if message.error is not None:
            self.set_status(Text(f"could not download: {message.error}", style="bold red"))
        elif not message.cancelled:
            self.set_status(Text("done: every data set is here, checked; esc closes", style="green"))
            forget_found_data()

    def action_close(self) -> None:
        if self.running:  # the first esc stops the download, the next one closes
            self.stop_event.set()
            self.running = False
            self.refresh_bindings()
            self.show_sets()
            self.set_status(Text("download stopped (no partial file is kept); enter starts it again, "
                                 "esc closes", style="yellow"))
            return
        self.dismiss(None)

    def on_unmount(self) -> None:
        self.stop_event.set()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "download" and self.running:
            return None  # shown dimmed while a download runs
        return super().check_action(action, parameters)


def forget_found_data() -> None:
    """The lessons remember what data they found for the app's life: after a download, the next
    lesson opened reads MNIST instead of the synthetic stand-ins, and its notes measure Tiny
    Shakespeare and quote a Tatoeba pair instead of saying how to get them."""
    from lessons.steps.digit_images import forget_loaded
    from lessons.steps.training import forget_found_text
    from lessons.steps.translation import forget_found_pairs

    forget_loaded()
    forget_found_text()
    forget_found_pairs()
