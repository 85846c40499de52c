"""Generated text on its way out: on a terminal, control characters are shown, never obeyed.

A model writes whatever its tokens decode to. A tokenizer may hold entries such as
``"\x1b]2;...\x07"`` (an escape sequence that retitles the terminal window; others move the
cursor, clear the screen or, on some terminals, answer back into the input), and even GPT-2's
own byte-level BPE, sampled from a random model, emits raw ``\x00``, ``\x03`` or ``\x16``. On
a terminal every control character but the newline and the tab is therefore written as its
escape (``\x1b``, ``\r``), so what the learner sees is what the model produced. A pipe or a
file gets the bytes unchanged: that is the model's output, for a script to read.
"""

from __future__ import annotations

import sys

# C0 controls but newline and tab, DEL, and the C1 controls (U+0080-U+009F: \x9b is a
# one-character CSI, the start of an escape sequence, on terminals that read 8-bit controls)
_SHOWN = {c: ("\\r" if c == 0x0D else f"\\x{c:02x}")
          for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in "\n\t"}


def visible(text: str) -> str:
    """``text`` with every control character except newline and tab written as its escape."""
    return text.translate(_SHOWN)


def on_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no stream, a closed one, or not a real file
        return False


class GeneratedTextOut:
    """Standard output for sampled text: escaped on a terminal, the bytes as they are otherwise."""

    def __init__(self, stream=None):
        self.stream = sys.stdout if stream is None else stream
        self.escape = on_terminal(self.stream)

    def write(self, text: str) -> None:
        self.stream.write(visible(text) if self.escape else text)

    def flush(self) -> None:
        self.stream.flush()
