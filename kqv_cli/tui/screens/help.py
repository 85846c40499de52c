"""The keys, on one page."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# kqv: keys

**Home**

| key | does |
|---|---|
| ↑ ↓ | choose a lesson |
| enter | open it where you left it |
| t | quiz on the chosen lesson's topic |
| ? | this help |
| q | quit |

**Lesson**

| key | does |
|---|---|
| n or → | next step |
| p or ← | previous step |
| ↑ ↓ | choose a variable; its values show on the right |
| tab | move between panes (scroll with ↑ ↓, page up/down) |
| z | zoom: the focused pane fills the screen (z or esc puts it back) |
| f | on a step with its own figure: figure or selected variable |
| r | run the step again on a new random input |
| d | change the dimensions and watch every shape follow |
| t | quiz on this lesson's topic |
| q or esc | back home (your step and dims are kept) |

In the variables pane, **●** marks what this step created or changed, and a shape reads
`(4, 8, 8) = (B, T, T)`: the numbers numpy produced, then the same shape in the names the
lesson uses. Mouse clicks and scrolling work everywhere.

*Press esc, q or ? to close.*
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
