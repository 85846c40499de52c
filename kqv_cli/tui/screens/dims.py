"""The dims dialog: new sizes for the lesson's model, checked before the dialog closes."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from engine.errors import KqvError


class DimsScreen(ModalScreen[dict | None]):
    """Returns the new dims, or ``None`` when cancelled.

    ``fields`` are the lesson's ``DimField``\\ s (name, label, minimum, maximum). ``check`` is
    given the typed text by name and returns the dims as numbers, or raises :class:`KqvError`
    saying what is wrong (not a whole number, out of a field's range, a combination the model
    cannot build such as ``C`` not divisible by ``n_head``): the lesson's own check, the one
    ``kqv learn --dims`` runs, so the dialog has no rules of its own. It stays open until the
    dims pass.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "apply", "Apply", show=True)]

    def __init__(self, fields, dims: dict[str, int], check: Callable[[dict[str, str]], dict[str, int]]):
        super().__init__()
        self.fields = list(fields)
        self.dims = dict(dims)
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dims-box"):
            yield Static("Change the dimensions", id="dims-title")
            for f in self.fields:
                with Horizontal(classes="dim-row"):
                    yield Label(f"{f.label} ({f.name})", classes="dim-label")
                    yield Input(
                        str(self.dims.get(f.name, f.minimum)),
                        type="integer",
                        id=f"dim-{f.name}",
                        compact=True,
                        select_on_focus=True,
                    )
                    yield Label(f"{f.minimum}..{f.maximum}", classes="dim-range")
            yield Static("", id="dims-error")
            with Horizontal(id="dims-buttons"):
                yield Button("Apply", id="dims-apply", variant="primary", compact=True)
                yield Button("Cancel", id="dims-cancel", compact=True)
        yield Footer()  # the dialog's own keys, not those of the lesson behind it

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "dims-apply":
            self.apply()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def read(self) -> tuple[dict[str, int], str | None]:
        """The typed dims and the first problem with them (``None`` when they are fine)."""
        typed = {f.name: self.query_one(f"#dim-{f.name}", Input).value.strip() for f in self.fields}
        try:
            dims = self.check(typed)
        except KqvError as exc:
            return {}, str(exc)
        return {f.name: dims[f.name] for f in self.fields}, None

    def action_apply(self) -> None:
        self.apply()

    def apply(self) -> None:
        dims, problem = self.read()
        if problem:
            self.query_one("#dims-error", Static).update(Text(problem))  # it quotes what was typed
            return
        self.dismiss(dims)
