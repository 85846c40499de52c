"""``KqvScreen``: the keys every screen shares, so one key means one thing everywhere.

* ``esc`` goes back. A screen where something runs (a training, an experiment) stops it on the
  first ``esc`` and says so; the next ``esc`` leaves.
* ``q`` goes back too, and quits on the home screen. Where a text box has the focus, ``q`` is a
  letter (Textual then leaves the binding out of the footer; ``esc`` still goes back).
* ``?`` opens help listing **this** screen's keys, read from its bindings (each binding's
  ``tooltip`` is the longer line help shows), so help and footer never disagree.
* Under 80×24 the footer would be cut mid-word: the screen shows one line instead, "make the
  terminal larger (needs 80×24; now 60×20) · ? help" (``?`` still lists every key).
* A short piece of information (``notify`` at its default severity, one line) shows for a few
  seconds in the footer's line (:meth:`KqvScreen.say`), not as a toast over the matrix or the
  answer box; warnings and errors stay toasts, to be read.

A new screen subclasses ``KqvScreen``, adds its own ``BINDINGS`` (Textual merges them with these),
lists in ``WIDGET_KEYS`` the keys its widgets handle without a binding (``↑ ↓`` in a list,
``enter``), and overrides :meth:`stop_running` if it runs anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from itertools import groupby
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingsMap
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Static

BACK = "back"  # esc
CLOSE = "close"  # q: the same as esc, except on home (quit) and while a text box takes letters
HELP = "help"
SHARED = (BACK, CLOSE, HELP, "app.quit")
# Textual's own tab bindings, in the words the rest of help uses
FOCUS_WORDS = {"app.focus_next": "move the focus to the next pane",
               "app.focus_previous": "move the focus to the previous pane"}


MIN_SIZE = (80, 24)  # columns, rows: every screen is laid out to fit this
SAY_SECONDS = 3.0  # how long a piece of information stays in the footer's line


def too_small(size) -> bool:
    return size[0] < MIN_SIZE[0] or size[1] < MIN_SIZE[1]


def footer_width(app, bindings: Iterable[Binding]) -> int:
    """The columns Textual's Footer takes to draw ``bindings`` (those it shows), as it draws them:
    one item per action, " c Code " for a key alone, " n p Step " for a group of keys. A footer
    wider than the terminal is cut at its edge, so a screen that adds a key where there is room
    asks this first."""
    first = {}  # the footer draws an action once, with its first key
    for binding in bindings:
        if binding.show:
            first.setdefault(binding.action, binding)
    width = 0
    for group, items in groupby(first.values(), lambda binding: binding.group):
        items = list(items)
        keys = sum(cell_len(app.get_key_display(binding)) for binding in items)
        if group is not None and len(items) > 1:  # each key and a space, the group's name, spaces
            width += keys + len(items) + cell_len(group.description) + 2
        else:  # " key description "
            width += keys + sum(cell_len(binding.description) + 3 for binding in items)
    return width


# the keys every screen shares; the footer shows them after a screen's own keys
SHARED_BINDINGS = [
    Binding("escape", BACK, "Back", tooltip="back (stops what runs first, if anything does)"),
    Binding("q", CLOSE, "Back", show=False, tooltip="back, as esc (on home: quit)"),
    # priority: heard before a focused text box; a box that takes "?" must not say it consumes it
    Binding("question_mark", HELP, "Help", priority=True, tooltip="this page: the keys of this screen"),
]


class KqvScreen(Screen):
    HELP_TITLE: ClassVar[str] = ""  # the heading of this screen's help page
    HELP_NOTE: ClassVar[str] = ""  # how to read the screen, under the keys
    WIDGET_KEYS: ClassVar[list[tuple[str, str]]] = []  # (key, what it does) for keys with no binding
    _say_timer = None  # hides the information in the footer's line (KqvScreen.say)

    BINDINGS = [*Screen.BINDINGS, *SHARED_BINDINGS]

    def __init_subclass__(cls, **kwargs):
        """A screen's ``BINDINGS`` become all its keys in footer order: what it inherits, its own,
        then the shared ones, where a screen's own ``esc``, ``q`` or ``?`` takes the shared one's
        place (``n Next  p Prev ...  esc Home  ? Help``). Textual then reads that list alone
        (``inherit_bindings=False``), so the footer, help and the tests read one list."""
        parent = next(base for base in cls.__mro__[1:] if issubclass(base, Screen))
        own = list(cls.__dict__.get("BINDINGS", []))
        shared_keys = {b.key for b in SHARED_BINDINGS}
        shared = {b.key: b for b in [*parent.BINDINGS, *own] if b.key in shared_keys}  # the latest wins
        keys: dict[str, Binding] = {}  # as Textual merges: a key keeps its first place, the last binding
        for b in [*parent.BINDINGS, *own]:
            if b.key not in shared_keys:
                for key in b.key.split(","):
                    keys[key] = dataclasses.replace(b, key=key)
        cls.BINDINGS = [*keys.values(), *(shared[b.key] for b in SHARED_BINDINGS)]
        super().__init_subclass__(inherit_bindings=False, **kwargs)

    # -- a terminal under 80x24 -------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.fit_terminal()

    def on_screen_resume(self) -> None:
        self.fit_terminal()  # the terminal may have changed size while another screen was in front

    def fit_terminal(self) -> None:
        """Under 80×24: the footer (cut mid-word at that size) gives its line to one saying so."""
        cramped = too_small(self.app.size)
        self.set_class(cramped, "-cramped")
        if not cramped:
            return
        width, height = self.app.size
        line = Text(f"make the terminal larger (needs {MIN_SIZE[0]}×{MIN_SIZE[1]}; now {width}×{height})"
                    " · ? help", style="bold", no_wrap=True, overflow="ellipsis")
        try:
            self.query_one("#too-small", Static).update(line)
        except NoMatches:  # the first time: the line is mounted
            self.mount(Static(line, id="too-small"))

    # -- short information, in the footer's line ----------------------------------------------

    def say(self, message: str, seconds: float | None = None) -> bool:
        """Show ``message`` in the footer's line for ``seconds``; False (nothing shown) when it does
        not fit that one line, and the caller shows a toast instead."""
        line = Text(message, style="bold", no_wrap=True)
        if "\n" in message or line.cell_len + 2 > self.app.size.width or not self.is_mounted:
            return False
        try:
            self.query_one("#status-line", Static).update(line)
        except NoMatches:  # the first time: the line is mounted
            self.mount(Static(line, id="status-line"))
        self.add_class("-saying")
        if self._say_timer is not None:
            self._say_timer.stop()
        self._say_timer = self.set_timer(seconds or SAY_SECONDS, self._said)
        return True

    def _said(self) -> None:
        self._say_timer = None
        self.remove_class("-saying")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """No key acts on a screen that is not the one shown (not yet mounted, or already being
        dismissed), nor once the app is quitting: a key typed fast after ``q`` or ``esc`` then
        lands on nothing, instead of on widgets that are half removed."""
        if getattr(self.app, "exiting", False) or not self.is_mounted or self.app.screen is not self:
            return False
        return super().check_action(action, parameters)

    def action_back(self) -> None:
        if self.stop_running():
            return
        self.leave()

    def action_close(self) -> None:
        self.action_back()

    def leave(self) -> None:
        """Go back to the screen this one was opened from."""
        self.dismiss()

    def stop_running(self) -> bool:
        """Stop whatever runs on this screen; True if something was running (so esc stays)."""
        return False

    def action_help(self) -> None:
        from kqv_cli.tui.screens.help import HelpScreen

        self.app.push_screen(HelpScreen(self.HELP_TITLE or self.sub_title or "kqv",
                                        self.help_keys(), self.HELP_NOTE))

    def help_keys(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every binding of this screen, the keys of one action together."""
        by_action: dict[tuple[str, str], list[str]] = {}
        for bindings in BindingsMap(self.BINDINGS).key_to_bindings.values():
            for binding in bindings:
                text = binding.tooltip or FOCUS_WORDS.get(binding.action) or binding.description
                if text and not binding.action.endswith("copy_text"):
                    # each key under its own name: a footer's key_display ("space" for
                    # "space,pagedown") would list one key twice and hide the other
                    by_action.setdefault((binding.action, text), []).append(
                        self.app.get_key_display(dataclasses.replace(binding, key_display=None)))
        rows = [(" or ".join(dict.fromkeys(keys)), text, action)
                for (action, text), keys in by_action.items()]
        return list(self.WIDGET_KEYS) + [(k, t) for k, t, _ in rows]
