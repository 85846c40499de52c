"""kqv's user-facing side: the typer CLI, the Textual app, the quiz and the progress store.

Data flows one way, engine -> trace -> screen: nothing here computes a gradient.
"""

__version__ = "0.1.0"
