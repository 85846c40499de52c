"""The Train screen: ``train digits``, ``train gpt`` or ``train translate`` in a background worker, live.

The training loop runs in a worker thread and reports through its callbacks; the callbacks
post small messages (a loss point, an evaluation, a sample, the end), and only the screen
touches widgets. Between iterations the loop polls a stop flag, so ``c`` (or escape) ends a
run at the next iteration without the interface ever waiting on the numpy work; once a run has
trained for a minute, escape asks first (a key pressed once too often should not throw that away).
``g`` starts the full GPT run, ``G`` a quick one of a few hundred iterations. Each run keeps
its model in the user's data folder (``models/gpt.npz``, ``models/digits.npz`` or
``models/translate.npz``, kept by the rules of :mod:`kqv_cli.services.models`: a short or
cancelled run never replaces a longer one), so ``kqv sample``, ``kqv eval digits``, ``kqv
translate`` and the translation lesson can pick it up afterwards.
``s`` samples the model just trained without leaving the app: the GPT writes text the way ``kqv
sample`` does, the digit net reads a row of validation images.

The app keeps one Train screen (installed by the home screen), so leaving with esc and coming
back shows the last run: its chart, its log and how it ended.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Header, RichLog, Static
from textual.worker import get_current_worker

from kqv_cli.generated_text import visible
from kqv_cli.services import models, numbers, sampling
from kqv_cli.services.datasets import digits_data_label
from kqv_cli.tui.screens.base import KqvScreen
from kqv_cli.tui.screens.confirm import ConfirmScreen
from kqv_cli.tui.train_runs import (
    QUICK_GPT_ITERS,
    default_digits_setup,
    default_gpt_setup,
    default_translate_setup,
    digits_guesses,
    duration,
    gpt_summary,
    quick_run,
    time_left,
)
from kqv_cli.tui.widgets.curves import CurvesPlot
from kqv_cli.tui.workers import yield_to_the_interface

DIGITS_POINTS_PER_EPOCH = 20
TRANSLATE_PROBE = "The pizza came out of the oven."  # translated at every evaluation of a translate run
STEP_MESSAGE_SECONDS = 0.1  # at most ~10 loss messages a second reach the screen
CONFIRM_AFTER_SECONDS = 60.0  # a run older than this asks before escape ends it
RUN_NAMES = {"gpt": "GPT", "digits": "digit net", "translate": "translator"}
DIGITS_CHART_IMAGES = 1000  # validation images behind both the chart and the log's epoch lines


SAMPLE_CHARS = 300  # what `s` writes, at `kqv sample`'s temperature and top-k


class TrainScreen(KqvScreen):
    SUB_TITLE = "train"

    HELP_TITLE = "Train"
    HELP_NOTE = ("A run keeps its model in the user data folder (the log names the file), for s here, "
                 "or kqv sample and kqv eval digits afterwards. A shorter or cancelled run never "
                 "replaces a longer one: it stays beside it as gpt-run.npz or digits-run.npz.")
    BINDINGS = [
        Binding("g", "start('gpt')", "GPT", tooltip="train the character GPT on Tiny Shakespeare"),
        Binding("G", "start('gpt', True)", "Quick GPT",
                tooltip=f"a quick GPT run of {QUICK_GPT_ITERS} iterations: the loss falling and a first "
                "sample, long before the full run would end"),
        Binding("d", "start('digits')", "Digits", tooltip="train the digit net (MNIST if here)"),
        Binding("t", "start('translate')", "Translator",
                tooltip="train the English-French Transformer the translation lesson reads"),
        Binding("c", "cancel", "Cancel", tooltip="cancel the run at the next iteration"),
        Binding("s", "sample", "Sample", tooltip="sample the model just trained: GPT text, or the digit "
                "net's guesses on validation images"),
        Binding("l", "toggle_log", "Log", tooltip="show or hide the log"),
        Binding("escape", "back", "Stop / back", tooltip="cancel the run (after a minute of training, "
                "it asks first); when none runs, back"),
    ]

    @dataclass
    class Step(Message):
        x: float
        loss: float
        status: str

    @dataclass
    class Line(Message):
        text: Text

    @dataclass
    class Budget(Message):
        x_max: float  # the run's whole length on the chart's x axis (iterations, epochs)
        title: str | None = None  # the chart's title, once the data it draws is known

    @dataclass
    class Ended(Message):
        status: str

    clock = staticmethod(time.monotonic)  # how long a run has trained (a test puts a fake clock here)

    def __init__(self, gpt_setup=default_gpt_setup, digits_setup=default_digits_setup, save_dir=None,
                 translate_setup=default_translate_setup):
        super().__init__()
        self.gpt_setup, self.digits_setup, self.translate_setup = gpt_setup, digits_setup, translate_setup
        self.save_dir = save_dir  # None: models_dir(), looked up when a run starts
        self.stop_event = threading.Event()
        self.running: str | None = None
        self.steps_seen = 0
        self.started_at: float | None = None  # when the training run going now began (clock())
        self.key_handled_at = 0.0  # when the last key action ran (the responsiveness test reads it)
        # what `s` samples: ("gpt", checkpoint path) or ("digits", (net, validation data))
        self.last_model: tuple[str, object] | None = None
        self.keys_shown = True  # the status line is still the one compose wrote, no run's

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="")
        yield Static(self.keys_line(), id="train-status")
        yield CurvesPlot(id="train-plot")
        yield RichLog(id="train-log", wrap=True, markup=False)
        yield Footer()

    @staticmethod
    def keys_line() -> str:
        """The status line before any run: what each key trains, the digits' data said truly."""
        return (f"g: train the GPT on Tiny Shakespeare (G: a quick {QUICK_GPT_ITERS} iterations) · "
                f"d: the digit net ({digits_data_label()}) · t: the translator (English-French) · "
                "c: cancel · s: sample the model trained")

    def on_screen_resume(self) -> None:  # (Textual calls KqvScreen's too)
        # the app keeps this screen: MNIST fetched from home's D dialog since it was made
        if self.keys_shown:
            self.set_status(self.keys_line())
            self.keys_shown = True

    # -- starting and stopping ---------------------------------------------------------------

    def action_start(self, what: str, quick: bool = False) -> None:
        """Start a ``what`` run ("gpt", "digits", "translate"); ``quick``: the short GPT run."""
        self.key_handled_at = time.perf_counter()
        if self.running is not None:
            self.notify(f"{self.running} is running; c cancels it first", severity="warning")
            return
        self.running = what
        self.steps_seen = 0
        self.started_at = self.clock()
        self.stop_event.clear()
        plot = self.query_one(CurvesPlot)
        if what == "digits":
            plot.reset("validation accuracy", "epoch", ["accuracy"])  # the Budget says on how many images
        else:
            plot.reset("training loss", "iteration", ["loss"])
        self.query_one(RichLog).clear()
        self.set_status(f"starting {'a quick ' if quick else ''}{what}...")
        if what == "gpt":
            self.train_gpt(quick)
        else:
            {"digits": self.train_digits, "translate": self.train_translate}[what]()

    def action_cancel(self) -> None:
        self.key_handled_at = time.perf_counter()
        if self.running is None:
            self.notify("nothing is training")
            return
        self.stop_event.set()
        self.set_status(f"cancelling {self.running} at the next iteration... (esc again goes back)")

    def action_sample(self) -> None:
        """Sample the model just trained (or, before any run here, the GPT kept from an earlier one)."""
        self.key_handled_at = time.perf_counter()
        if self.running is not None:
            self.notify(f"{self.running} is running; c cancels it first", severity="warning")
            return
        last = self.last_model
        if last is None:
            gpt = models.kept("gpt", self.save_dir)
            if gpt is None:
                digits = models.kept("digits", self.save_dir)
                said = "nothing trained yet: g trains the GPT, d the digit net"
                if digits is not None:  # its validation images are not loaded until a run needs them
                    said = f"no GPT kept yet: g trains one; kqv eval digits {digits} tests the digit net"
                self.notify(said, severity="warning")
                return
            last = ("gpt", gpt)
        log = self.query_one(RichLog)
        log.display = True  # the sample is written there
        if last[0] == "translate":
            log.write(Text(f"the translator is {last[1]}: try kqv translate {last[1]} \"The cat is "
                           "asleep.\", or kqv learn translation (its last two steps read it)",
                           style="italic"))
            return
        if last[0] == "digits":
            net, validation = last[1]
            log.write(digits_guesses(net, validation))
            self.set_status("the digit net's guesses are in the log · s: again · g: GPT · d: digits")
            return
        self.running = "sampling"
        self.stop_event.clear()
        self.set_status(f"sampling {SAMPLE_CHARS} characters from {last[1].name}... (c stops)")
        self.sample_worker(last[1])

    def action_toggle_log(self) -> None:
        self.key_handled_at = time.perf_counter()
        log = self.query_one(RichLog)
        log.display = not log.display

    def stop_running(self) -> bool:
        """Escape: a run younger than a minute (or a sample) ends at once; an older one asks first."""
        if self.running is None:
            return False
        trained = self.trained_seconds()
        if trained < CONFIRM_AFTER_SECONDS or self.stop_event.is_set():
            self.action_cancel()
            return True
        what = self.running

        def answered(yes: bool | None) -> None:
            if yes and self.running == what:
                self.action_cancel()
            elif self.running == what:
                self.notify(f"{what} goes on; c cancels it, esc asks again")

        self.app.push_screen(ConfirmScreen(
            f"End the {RUN_NAMES.get(what, what)} run?",
            f"It has trained for {duration(trained)}. "
            + ("Its finished epochs are kept; the epoch under way is lost." if what == "digits" else
               "The model is kept as it is now, short of the run's planned end.")), answered)
        return True

    def trained_seconds(self) -> float:
        """How long the training run going now has run (0 for a sample)."""
        if self.running in (None, "sampling") or self.started_at is None:
            return 0.0
        return self.clock() - self.started_at

    def on_unmount(self) -> None:
        self.stop_event.set()  # a run left behind would keep a core busy (and the app from exiting)

    def should_stop(self) -> bool:
        """Polled by the training loop between iterations, in the worker thread."""
        return self.stop_event.is_set() or get_current_worker().is_cancelled

    # -- the workers -------------------------------------------------------------------------

    @work(thread=True, group="train", exclusive=True)
    def sample_worker(self, path: Path) -> None:
        yield_to_the_interface()
        try:
            text = sampling.from_checkpoint(path, SAMPLE_CHARS, self.should_stop)
        except Exception as exc:  # noqa: BLE001  (a damaged file: said on screen)
            self.post_message(self.Ended(f"could not sample {path}: {exc}"))
            return
        line = Text(f"sample of {path.name} (temperature {sampling.TEMPERATURE}, as kqv sample {path}):\n",
                    style="bold")
        line.append(visible(text), style="italic")  # a control byte is shown, never sent to the terminal
        self.post_message(self.Line(line))
        self.post_message(self.Ended(f"sampled {len(text) - 1} characters from {path.name}: in the log"))

    def step_reporter(self, what: str, max_iters: int, first_iter: int, decimals: int):
        """A trainer's ``on_step`` that tells the screen the loss and the time left, at most once
        every STEP_MESSAGE_SECONDS and always at the last iteration (a resumed run counts its time
        from ``first_iter``)."""
        last = [0.0]

        def on_step(info):
            now = time.perf_counter()
            if now - last[0] >= STEP_MESSAGE_SECONDS or info.iter == max_iters:
                last[0] = now
                left = time_left(info.iter - first_iter, max_iters - first_iter, info.elapsed)
                self.post_message(self.Step(info.iter, info.loss, (
                    f"{what} iteration {info.iter}/{max_iters} · loss {info.loss:.{decimals}f} · "
                    f"{info.tokens_per_s:,.0f} tokens/s · {info.ms:.0f} ms/iter · {left} · c cancels")))

        return on_step

    @work(thread=True, group="train", exclusive=True)
    def train_gpt(self, quick: bool = False) -> None:
        from engine.gpt.train import GPTTrainer

        yield_to_the_interface()
        try:
            data, cfg, tc = self.gpt_setup()
            if quick:
                tc = quick_run(tc)
            keep = self.checkpoint_path("gpt")
            out = self.checkpoint_path("gpt-run")  # becomes gpt.npz at the end, unless shorter
            trainer = GPTTrainer(data, cfg, tc, out=out)  # saved at every evaluation and at the end
        except Exception as exc:  # noqa: BLE001  (shown on screen)
            self.post_message(self.Ended(f"could not start: {exc}"))
            return
        model = trainer.model
        self.post_message(self.Line(Text(
            f"GPT: {model.num_params:,} parameters, {cfg.n_layer} layers, {cfg.n_head} heads, "
            f"C={cfg.n_embd}, "
            f"T={cfg.block_size}, B={tc.batch_size}, on {data.source}", style="bold")))
        self.post_message(self.Budget(tc.max_iters))
        on_step = self.step_reporter("GPT", tc.max_iters, first_iter=trainer.iter, decimals=4)

        def on_eval(info):
            line = Text(f"iter {info.iter:>5}  train {info.train_loss:.4f}  val {info.val_loss:.4f}")
            if info.iter > 0:
                sample = sampling.text(model, data.vocab, 80, top_k=None, seed=info.iter)[1:]
                line.append("\n  " + visible(sample.replace("\n", " ⏎ ")), style="italic")
            self.post_message(self.Line(line))

        try:
            result = trainer.run(on_step=on_step, on_eval=on_eval, should_stop=self.should_stop)
        except Exception as exc:  # noqa: BLE001  (a diverged run: say so on screen)
            self.post_message(self.Ended(f"GPT stopped: {exc}"))
            return
        saved, note = models.keep_longer(out, keep, result.iters, "gpt")
        self.last_model = ("gpt", saved)
        self.post_message(self.Line(Text(f"saved to {saved} · try: kqv sample {saved}{note}", style="green")))
        self.post_message(self.Ended(gpt_summary(result) + note))

    @work(thread=True, group="train", exclusive=True)
    def train_translate(self) -> None:
        from engine.translation.evaluate import translate_texts
        from engine.translation.train import TranslateTrainer

        yield_to_the_interface()
        try:
            splits, sizes, tc = self.translate_setup()
            keep = self.checkpoint_path("translate")
            out = self.checkpoint_path("translate-run")  # becomes translate.npz at the end, unless shorter
            trainer = TranslateTrainer(splits, sizes, tc, out=out,
                                       on_note=lambda n: self.post_message(self.Line(Text(n))))
        except Exception as exc:  # noqa: BLE001  (shown on screen)
            self.post_message(self.Ended(f"could not start: {exc}"))
            return
        model, cfg = trainer.model, trainer.config
        self.post_message(self.Line(Text(
            f"Transformer: {model.num_params:,} parameters, {cfg.n_layer}+{cfg.n_dec_layer} layers, "
            f"{cfg.n_head} heads, C={cfg.n_embd}, {cfg.norm}-LN, B={tc.batch_size}, shared BPE of "
            f"{trainer.vocab.size:,} pieces; {splits.describe()}", style="bold")))
        self.post_message(self.Budget(tc.max_iters))
        on_step = self.step_reporter("translator", tc.max_iters, first_iter=0, decimals=3)

        def on_eval(info):
            line = Text(f"iter {info.iter:>5}  train {info.train_loss:.3f}  val {info.val_loss:.3f}")
            said = translate_texts(model, trainer.vocab, [TRANSLATE_PROBE], beam=1)[0]
            line.append(f"\n  {TRANSLATE_PROBE} → {said}", style="italic")
            self.post_message(self.Line(line))

        try:
            result = trainer.run(on_step=on_step, on_eval=on_eval, should_stop=self.should_stop,
                                 on_bleu=lambda text: self.post_message(self.Line(Text(text + "..."))))
        except Exception as exc:  # noqa: BLE001  (a diverged run: say so on screen)
            self.post_message(self.Ended(f"translator stopped: {exc}"))
            return
        saved, note = models.keep_longer(trainer.out, keep, result.iters, "translate")
        self.last_model = ("translate", saved)
        self.post_message(self.Line(Text(f"saved to {saved} · try: kqv translate {saved} "
                                         f"\"{TRANSLATE_PROBE}\"{note}", style="green")))
        bleu, beam = result.bleu, f"beam{tc.beam}"
        scores = ""
        if bleu:
            beams = f", beam {tc.beam} {bleu[beam]:.1f}" if beam in bleu else ""
            scores = f", test BLEU greedy {bleu['greedy']:.1f}{beams} ({bleu['sentences']} sentences)"
        verb = "cancelled" if result.stopped else "done"
        self.post_message(self.Ended(f"translator {verb} at iteration {result.iters}: val "
                                     f"{result.val_loss:.3f}{scores}{note}"))

    @work(thread=True, group="train", exclusive=True)
    def train_digits(self) -> None:
        from engine.digits.network import Network, save_network
        from engine.runtime.blas import blas_threads

        yield_to_the_interface()
        try:
            (train, validation, _), s = self.digits_setup()
            numbers.check_digits_training(s["sizes"], s["epochs"], s["batch_size"], s["eta"],
                                          names=numbers.DIGITS_SETTINGS)
            net = Network(s["sizes"])
            keep = self.checkpoint_path("digits")
            out = self.checkpoint_path("digits-run")  # becomes digits.npz at the end, unless shorter
        except Exception as exc:  # noqa: BLE001  (shown on screen)
            self.post_message(self.Ended(f"could not start: {exc}"))
            return
        # one set of validation images for the chart's points and the log's epoch lines, so the
        # two count the same images (and 20 points an epoch cost little: 1,000 images, not 10,000)
        sub_x, sub_y = validation.x[:DIGITS_CHART_IMAGES], validation.labels[:DIGITS_CHART_IMAGES]
        self.post_message(self.Line(Text(
            f"digit net {'-'.join(map(str, s['sizes']))}: {s['epochs']} epochs, mini-batch "
            f"{s['batch_size']}, η = {s['eta']:g}, on {len(train):,} images of {train.source}; "
            f"accuracy on the first {len(sub_y):,} of its {len(validation):,} validation images",
            style="bold")))
        # the chart says what the images are: never "MNIST" over synthetic digits
        images = "MNIST images" if train.source.startswith("MNIST") else "synthetic digits, not MNIST"
        self.post_message(self.Budget(s["epochs"], f"validation accuracy ({len(sub_y):,} {images})"))
        epoch, t0 = [1], time.perf_counter()

        def on_batch(done, total):
            if done % max(1, total // DIGITS_POINTS_PER_EPOCH) == 0:
                acc = net.evaluate(sub_x, sub_y) / len(sub_y)
                batches = (epoch[0] - 1) * total + done
                elapsed = time.perf_counter() - t0
                rate = batches * s["batch_size"] / elapsed
                left = time_left(batches, s["epochs"] * total, elapsed)
                self.post_message(self.Step(epoch[0] - 1 + done / total, acc, (
                    f"digits epoch {epoch[0]}/{s['epochs']} · mini-batch {done:,}/{total:,} · accuracy "
                    f"{acc:.1%} · {rate:,.0f} images/s · {left} · c cancels")))

        def on_epoch(r):
            epoch[0] = r.epoch + 1
            save_network(net, out, {"epochs_done": r.epoch, "data": train.source})
            self.post_message(self.Line(Text(
                f"epoch {r.epoch:>3}  {r.seconds:5.2f}s  cost {r.train_cost:.4f}  validation "
                f"{r.validation_correct:,}/{r.validation_total:,}")))

        try:
            with blas_threads(1):  # small matrices: one BLAS thread is fastest (see engine.runtime.blas)
                results = net.SGD((train.x, train.labels), s["epochs"], s["batch_size"], s["eta"],
                                  validation_data=(sub_x, sub_y), on_batch=on_batch,
                                  on_epoch=on_epoch, should_stop=self.should_stop)
        except Exception as exc:  # noqa: BLE001  (a diverged run: say so on screen)
            self.post_message(self.Ended(f"digits stopped: {exc}"))
            return
        verb = "cancelled" if self.should_stop() else "done"
        last = results[-1] if results else None
        acc = (f", validation {last.validation_correct:,}/{last.validation_total:,} "
               f"({last.validation_correct / last.validation_total:.2%})" if last else "")
        note = ""
        if results:  # saved after every epoch, a cancelled one too (as `kqv train digits --out`)
            saved, note = models.keep_longer(out, keep, len(results), "digits")
            self.last_model = ("digits", (net, validation))
            flag = " --synthetic" if train.source.startswith("synthetic") else ""  # test on what it learned
            self.post_message(self.Line(Text(f"saved to {saved} · try: kqv eval digits {saved}{flag}{note}",
                                             style="green")))
        self.post_message(self.Ended(f"digits {verb} after {len(results)} epoch(s){acc}{note}"))

    def checkpoint_path(self, kind: str):
        """The file this screen's ``kind`` run saves to; raises KqvError if it cannot write there."""
        return models.writable_path(kind, self.save_dir)

    # -- messages from the workers -----------------------------------------------------------

    def on_train_screen_step(self, message: Step) -> None:
        self.steps_seen += 1
        label = "accuracy" if self.running == "digits" else "loss"
        self.query_one(CurvesPlot).add(label, message.x, message.loss)
        if not self.stop_event.is_set():
            self.set_status(message.status)

    def on_train_screen_budget(self, message: Budget) -> None:
        plot = self.query_one(CurvesPlot)
        if message.title is not None:
            plot.retitle(message.title)
        plot.span(message.x_max)

    def on_train_screen_line(self, message: Line) -> None:
        self.query_one(RichLog).write(message.text)

    def on_train_screen_ended(self, message: Ended) -> None:
        self.running = None
        self.started_at = None
        self.query_one(CurvesPlot).fit()  # a run ended early (cancelled, diverged) fills the frame
        keys = " · g: GPT · d: digits · t: translator" + (" · s: sample" if self.last_model else "")
        self.set_status(message.status + keys)
        self.query_one(RichLog).write(Text(message.status, style="bold"))

    def set_status(self, text: str) -> None:
        self.keys_shown = False  # a run's line from now on
        self.query_one("#train-status", Static).update(text)
