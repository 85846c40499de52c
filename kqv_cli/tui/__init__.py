"""The Textual lesson player. Only this package imports Textual; nothing below it does.

``from kqv_cli.tui.app import KqvApp`` is the one way in, for the CLI and for the tests.
"""
