"""``KqvApp``: the lesson player, as ``kqv`` and ``kqv learn [LESSON]`` open it.

The app holds what every screen shares: the lessons (loaded and validated once), the progress
store, and the ways to open a lesson, the quiz and the help. The lessons package computes;
the screens only show.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading

from textual.app import App
from textual.binding import Binding

from kqv_cli.lesson_progress import LessonProgress
from kqv_cli.tui import STYLESHEET
from kqv_cli.tui.screens.base import KqvScreen
from kqv_cli.tui.screens.home import HomeScreen
from lessons import LessonSession, load_lessons


class KqvApp(App):
    CSS_PATH = STYLESHEET
    TITLE = "kqv"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(self, lesson_id: str | None = None, *, lessons=None, seed: int = 0,
                 model: str | None = None):
        """``lessons`` defaults to :func:`lessons.load_lessons` (the CLI passes what it checked);
        ``model`` is a GPT-2 folder the attention lesson runs on from its first step."""
        super().__init__()
        self.lessons = list(load_lessons() if lessons is None else lessons)
        self.start_lesson = lesson_id
        self.seed = seed
        self.model = model
        self.progress = LessonProgress.load()
        self.exiting = False  # set by exit: from then on no screen acts on a key (KqvScreen.check_action)
        self.failure: BaseException | None = None  # what ended the app, for kqv learn to report
        self._save_timer = None
        self.save_delay = 1.0  # seconds from a change of progress to its save

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification, from every screen, as plain text (``markup`` is ignored): they name
        paths, exercises and exceptions, and a ``[`` in one is the user's, never a style tag.

        A one-line piece of information goes in the footer's line for a few seconds
        (:meth:`KqvScreen.say`) instead of a toast over the values or the answer box; warnings,
        errors and longer messages are toasts."""
        if severity == "information" and not title and threading.get_ident() == self._thread_id:
            screen = self.screen if self.screen_stack else None
            if isinstance(screen, KqvScreen) and screen.say(str(message), timeout):
                return
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        # a closed terminal (SIGHUP) or a kill (SIGTERM) saves the last second's progress first
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self._hang_up)
        self.push_screen(HomeScreen())
        if self.progress.warning:
            self.notify(self.progress.warning, severity="warning", timeout=10)
        if not self.start_lesson:
            self.call_after_refresh(self.warm_lesson_screen)  # once home is drawn
        if self.start_lesson:
            if any(lesson.id == self.start_lesson for lesson in self.lessons):
                self.open_lesson(self.start_lesson)
            else:  # the CLI checks names first; this is for anyone building the app directly
                known = ", ".join(lesson.id for lesson in self.lessons)
                self.notify(f"no lesson named {self.start_lesson!r}; the lessons are: {known}",
                            severity="error")

    # -- what the screens share ------------------------------------------------------------

    def lesson(self, lesson_id: str):
        for lesson in self.lessons:
            if lesson.id == lesson_id:
                return lesson
        raise KeyError(lesson_id)

    def finished(self, lesson) -> bool:
        """Every step of the lesson seen."""
        ids = [step.id for step in lesson.steps]
        return self.progress.seen_count(lesson.id, ids) == len(ids)

    def next_lesson(self, lesson_id: str):
        """The first lesson after ``lesson_id`` not finished yet (wrapping round); when all are
        finished, the one after it in order; ``None`` after the last."""
        ids = [lesson.id for lesson in self.lessons]
        at = ids.index(lesson_id)
        after = self.lessons[at + 1:] + self.lessons[:at]
        return next((lesson for lesson in after if not self.finished(lesson)),
                    self.lessons[at + 1] if at + 1 < len(self.lessons) else None)

    def new_session(self, lesson, dims):
        session = LessonSession(lesson, dims=dims, seed=self.seed)
        if self.model is not None and session.offers_model:
            session.use_model(self.model)
        return session

    def warm_lesson_screen(self) -> None:
        """While the learner reads the home screen, import what opening a lesson needs, in a
        thread: the lesson screen and its widgets, the Markdown parser, pygments' Python lexer and
        every exercise's spec (~0.1 s in all on an idle machine, a fifth of the 0.5 s an opening
        may take). A key pressed meanwhile waits for no more than the import under way."""
        self.run_worker(_import_lesson_screen, thread=True, group="warm", exit_on_error=False)

    def open_lesson(self, lesson_id: str) -> None:
        # imported here: the lesson screen's widgets are not needed to draw home (~0.1 s at start)
        from kqv_cli.tui.screens.lesson import LessonScreen

        self.push_screen(LessonScreen(self.lesson(lesson_id)))

    def progress_changed(self) -> None:
        """Save soon: a burst of n presses makes one write (fsync costs 10-20 ms), not one each."""
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(self.save_delay, self.save_progress)

    def exit(self, *args, **kwargs) -> None:
        self.exiting = True
        super().exit(*args, **kwargs)

    def _handle_exception(self, error: Exception) -> None:
        """An error no screen or worker handled (a MemoryError in a worker loading weights):
        Textual closes the app with its code 1 and prints a full-screen traceback. The app still
        closes, but the error is kept in :attr:`failure` instead of shown, and ``kqv learn``
        raises it once the terminal is restored, so it ends as any command's error ends: one
        line, and exit 2 for bad input (a KqvError) or 70 with the traceback in a log for a bug."""
        from textual.worker import WorkerFailed

        if self.failure is None:  # a worker's error arrives wrapped: the error itself is what to say
            self.failure = error.error if isinstance(error, WorkerFailed) else error
        super()._handle_exception(error)  # closes the app; the pilot re-raises it in tests
        self._exit_renderables.clear()  # Textual's traceback, printed at exit: not shown

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return False if self.exiting else super().check_action(action, parameters)

    def _hang_up(self) -> None:
        self.save_progress()
        self.exit(return_code=128 + signal.SIGHUP)

    def on_unmount(self) -> None:
        self.save_progress()  # however the app ends, a pending delayed save is written now

    def save_progress(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
            self._save_timer = None
        try:
            self.progress.save()
        except OSError as exc:
            self.notify(f"could not save progress ({exc}); it will be tried again", severity="error")

    def quiz_scores(self) -> dict[str, str]:
        """Per quiz topic, a short score for the home screen ("4/9 cards right · 2 due")."""
        try:
            from kqv_cli.quiz import progress_summary

            summary = progress_summary()
        except Exception:  # a broken quiz store must not keep the lessons from opening
            return {}
        scores = {}
        for topic, s in summary.items():
            if s.get("seen"):
                text = f"{s['right']}/{s['total']} cards right"
                if s.get("due"):
                    text += f" · {s['due']} due"
                scores[topic] = text
        return scores

    def open_quiz(self, topic: str) -> None:
        from kqv_cli.tui.screens.quiz import QuizScreen  # imported when first asked for

        self.push_screen(QuizScreen(topic))

    def open_practice(self, exercise: str | None = None) -> None:
        """The Practice screen on ``exercise`` (default: the first one not passed yet)."""
        from kqv_cli.tui.screens.practice import PracticeScreen  # imported when first asked for

        self.push_screen(PracticeScreen(exercise))

    def action_help(self) -> None:
        """The help of the screen in front (a dialog has none of its own: its keys are in its footer)."""
        if isinstance(self.screen, KqvScreen):
            self.screen.action_help()


def _import_lesson_screen() -> None:
    """What opening the first lesson would otherwise import on the event loop (KqvApp.warm_lesson_screen)."""
    import numpy.random  # noqa: F401  (numpy imports it on first use: every engine run draws from it)
    from rich.markdown import Markdown  # noqa: F401  (markdown-it: StepText)

    from kqv_cli.tui.screens.lesson import LessonScreen  # noqa: F401  (its widgets come with it)
    from kqv_cli.tui.widgets.code_view import highlighted
    from lessons.practice import load_exercises

    load_exercises()
    highlighted(("import numpy as np",))  # pygments loads its Python lexer the first time
