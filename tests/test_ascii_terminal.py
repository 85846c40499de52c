"""The app on a terminal without box drawing (PYTHONIOENCODING=ascii): ASCII, one for one."""

import io

from kqv_cli.tui.ascii_terminal import ascii_for, draws_boxes, use_ascii_where_needed


def test_an_ascii_stream_draws_a_panel_in_ascii_one_character_for_one():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="backslashreplace")
    use_ascii_where_needed(stream)
    panel = "┌──┐\n│ok│ ▇▁ … ✓ é\n└──┘"
    stream.write(panel)
    stream.flush()
    shown = raw.getvalue().decode("ascii")
    assert shown == "+--+\n|ok| ## . v ?\n+--+"
    assert len(shown) == len(panel)  # the layout stays where Textual put it
    assert "\\u" not in shown


def test_a_utf8_stream_is_left_as_it_is():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict")
    use_ascii_where_needed(stream)
    assert stream.errors == "strict" and draws_boxes(stream)


def test_every_box_drawing_character_has_an_ascii_stand_in():
    for code in range(0x2500, 0x25A0):
        assert ascii_for(chr(code)) in "-|+#", hex(code)
