"""The app on a terminal that cannot show box drawing: ASCII lines instead of ``\\u2502``.

Textual writes its screen to ``sys.__stderr__``. Under ``PYTHONIOENCODING=ascii`` (or an old
locale) that stream cannot encode ``│``, and Python's error handler for stderr,
``backslashreplace``, writes the six characters ``\\u2502`` in its place: every border of every
panel becomes a row of escapes. The CLI falls back to ASCII (rich draws its tables with ``+``,
``-`` and ``|`` when the encoding lacks box drawing); the app does the same here, with an
encoding error handler that draws each line, corner and block in ASCII and any other character
as ``?``: one character for one, so the layout stays where Textual put it.
"""

from __future__ import annotations

import codecs
import sys

HANDLER = "kqv-ascii"

# box drawing (U+2500-U+257F) by the direction of its strokes; the rest by what it looks like
_HORIZONTAL = set("─━═╌╍┄┅┈┉╴╶╸╺╼╾")
_VERTICAL = set("│┃║╎╏┆┇┊┋╵╷╹╻╽╿")
_LOOKS_LIKE = {"…": ".", "·": ".", "•": "*", "●": "*", "○": "o", "→": ">", "←": "<", "↑": "^", "↓": "v",
               "▶": ">", "◀": "<", "▲": "^", "▼": "v", "✓": "v", "✔": "v", "✗": "x", "✘": "x", "×": "x",
               "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "≈": "~", "≤": "<", "≥": ">",
               "\u00a0": " "}


def ascii_for(char: str) -> str:
    """One ASCII character that stands for ``char`` on screen."""
    if char in _HORIZONTAL:
        return "-"
    if char in _VERTICAL:
        return "|"
    code = ord(char)
    if 0x2500 <= code <= 0x257F:  # corners, tees and crosses
        return "+"
    if 0x2580 <= code <= 0x259F:  # block elements: bars, shades, scroll thumbs
        return "#"
    if 0x2800 <= code <= 0x28FF:  # braille: the dots of a chart
        return "." if code != 0x2800 else " "
    return _LOOKS_LIKE.get(char, "?")


def _replace(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(ascii_for(c) for c in error.object[error.start:error.end]), error.end


def draws_boxes(stream) -> bool:
    """Whether ``stream``'s encoding has the box-drawing characters."""
    try:
        "│┌█".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def use_ascii_where_needed(*streams) -> None:
    """Give each stream (default: Textual's, ``sys.__stderr__``, and ``sys.__stdout__``) that cannot
    draw boxes the ASCII error handler; streams that can are left as they are."""
    try:
        codecs.lookup_error(HANDLER)
    except LookupError:
        codecs.register_error(HANDLER, _replace)
    for stream in streams or (sys.__stderr__, sys.__stdout__):
        if stream is not None and not draws_boxes(stream) and callable(getattr(stream, "reconfigure", None)):
            stream.reconfigure(errors=HANDLER)
