"""`--help` and piped text (issue 24, item 15): no `<bool>` beside a flag, docstrings wrapped
once, examples on the top-level page, and no line padded with spaces or broken at 80 columns
when the output goes to a pipe."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers every command on the app)
from kqv_cli.cli import app
from kqv_cli.help_pages import unwrapped

runner = CliRunner()


def every_command() -> list[list[str]]:
    """The words of every command and group, the root first (``[]``, ``["train"]``, ...)."""
    found = []

    def walk(command, words):
        found.append(words)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = every_command()


def help_page(words, columns: int = 80) -> str:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": str(columns), "TERMINAL_WIDTH": None})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("words", COMMANDS, ids=lambda w: " ".join(w) or "kqv")
def test_help_pages_show_no_bool_and_no_trailing_spaces(words):
    page = help_page(words)
    assert "--help" in page  # the options table is there
    assert "<bool>" not in page  # a flag takes no value
    padded = [line for line in page.splitlines() if line != line.rstrip()]
    assert not padded, padded[:3]


def test_flags_keep_their_names_and_valued_options_their_types():
    page = help_page(["train", "digits"])
    json_line = next(line for line in page.splitlines() if "--json" in line)
    assert "<" not in json_line  # no type for a flag...
    assert "--synthetic" in page and "--no-synthetic" in page
    assert "<int>" in next(line for line in page.splitlines() if "--epochs" in line)  # ...but for a value


def test_the_top_level_help_has_examples():
    page = help_page([])
    assert "Examples:" in page
    for example in ("kqv learn attention", "kqv quiz --topic backprop -n 5", "kqv train digits --synthetic"):
        assert f"  {example}  " in page  # each on its own line, its gloss beside it
    assert max(len(line) for line in page.splitlines()) <= 80


def test_docstrings_are_wrapped_once_by_the_terminals_width():
    """At 500 columns a paragraph of a docstring is one line: the source's breaks are gone (typer
    kept them, then wrapped again at 80, which left ragged half-lines)."""
    page = help_page(["train", "gpt"], columns=500)
    paragraph = next(line for line in page.splitlines() if "The defaults are nanoGPT" in line)
    assert paragraph.rstrip().endswith("nanoGPT's is the exact erf form."), paragraph
    # the commands' one-line summaries in a group's list too (export's docstring breaks its first line)
    listing = help_page([], columns=500)
    assert any("MarianMT one, for transformers to load" in line for line in listing.splitlines())


def test_unwrapped_joins_a_paragraphs_lines_and_keeps_examples_as_written():
    text = """First line
    goes on.

    Second paragraph
    of two lines.

    \b
    kept   as
    written

    Example:
      kqv train gpt
      kqv sample gpt.npz
    """
    assert unwrapped(text).split("\n\n") == [
        "First line goes on.", "Second paragraph of two lines.", "\b\nkept   as\nwritten",
        "Example:\n  kqv train gpt\n  kqv sample gpt.npz"]
    assert unwrapped(None) is None


def test_piped_quiz_text_is_neither_wrapped_nor_padded():
    result = runner.invoke(app, ["quiz", "-n", "2", "--seed", "1"], input="1\n1\n")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert not [line for line in lines if line.endswith(" ")], result.output
    assert max(len(line) for line in lines) > 80, result.output  # the header is one line, not three


def test_piped_lessons_show_is_one_line_a_paragraph_unless_asked():
    unwrapped_text = runner.invoke(app, ["lessons", "show", "backprop", "--step", "1"]).output
    paragraph = next(line for line in unwrapped_text.splitlines() if line.startswith("Our weights are"))
    assert paragraph.endswith("shape ().")  # the whole paragraph on one line
    wrapped = runner.invoke(app, ["lessons", "show", "backprop", "--step", "1", "--width", "60"]).output
    first = next(line for line in wrapped.splitlines() if line.startswith("Our weights are stored"))
    assert len(first) <= 60 and "shape ()." not in first
    assert not [line for line in unwrapped_text.splitlines() + wrapped.splitlines() if line.endswith(" ")]
