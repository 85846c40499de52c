"""The Textual lesson player. Only this package imports Textual; nothing below it does.

``from kqv_cli.tui.app import KqvApp`` is the one way in, for the CLI and for the tests.
"""

from pathlib import Path

# The one stylesheet of every screen and widget (KqvApp's, and a test's host app's)
STYLESHEET = Path(__file__).with_name("kqv.tcss")
