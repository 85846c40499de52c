"""``kqv learn``: a misspelt lesson is one line naming the real ones and exit code 2."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from lessons import load_lessons


def test_unknown_lesson_names_the_known_ones():
    result = CliRunner().invoke(app, ["learn", "badname"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "badname" in lines[0]
    for lesson in load_lessons():
        assert lesson.id in lines[0]
    assert "Traceback" not in result.output


def test_learn_without_a_terminal_says_so():
    result = CliRunner().invoke(app, ["learn", load_lessons()[0].id])
    assert result.exit_code == 2
    assert "terminal" in result.output


def test_plain_kqv_in_a_pipe_prints_help():
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0
    assert "learn" in result.output


def test_an_error_inside_the_app_ends_kqv_with_a_non_zero_status(monkeypatch):
    """Textual shows an unhandled error and closes the app; kqv's exit status must say so too."""
    import asyncio

    import kqv_cli.commands.learn as learn_command
    from kqv_cli.tui.app import KqvApp
    from kqv_cli.tui.screens.home import HomeScreen

    def broken_quiz(self):
        raise RuntimeError("a handler that fails")

    def run_headless(self, *args, **kwargs):
        async def drive():
            async with self.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                await pilot.press("t")
                await pilot.pause()

        try:
            asyncio.run(drive())
        except RuntimeError:  # the pilot re-raises what the app caught; a terminal run does not
            pass

    monkeypatch.setattr(HomeScreen, "action_quiz", broken_quiz)
    monkeypatch.setattr(KqvApp, "run", run_headless)
    monkeypatch.setattr(learn_command, "is_interactive", lambda: True)
    result = CliRunner().invoke(app, ["learn"])
    assert result.exit_code not in (0, 2), result.output


def test_help_lists_the_lessons_first_and_every_command():
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    listed = [line.split()[1] for line in result.output.splitlines()
              if line.startswith("│ ") and len(line.split()) > 2 and line.split()[1].isalpha()
              and line.split()[1] in app_commands()]
    assert listed[0] == "learn", listed
    assert sorted(listed) == sorted(app_commands())


def app_commands() -> list[str]:
    import typer.main

    return list(typer.main.get_command(app).commands)


@pytest.mark.slow
def test_a_worker_that_fails_ends_kqv_in_one_line_and_its_exit_code_not_a_textual_traceback(
        monkeypatch, capsys):
    """A lesson step's worker that dies of something the engine does not refuse (here a
    MemoryError) closes the app; kqv then says so as any command does: one line, exit 70 and
    the traceback in a log, instead of Textual's full-screen traceback and exit 1."""
    import asyncio

    import kqv_cli.commands.learn as learn_command
    from kqv_cli.exit_codes import EXIT_INTERNAL_ERROR
    from kqv_cli.last_resort import run_guarded
    from kqv_cli.tui.app import KqvApp
    from lessons import LessonSession

    def out_of_memory(self, index, costly=True):
        raise MemoryError("Unable to allocate 12.0 TiB for an array")

    apps = []

    def run_headless(self, *args, **kwargs):
        apps.append(self)

        async def drive():
            async with self.run_test(size=(100, 30)) as pilot:
                for _ in range(50):  # until the worker's failure has closed the app
                    await pilot.pause(0.02)

        try:
            asyncio.run(drive())
        except Exception:  # the pilot re-raises what the app caught; a terminal run does not
            pass

    monkeypatch.setattr(LessonSession, "run", out_of_memory)
    monkeypatch.setattr(KqvApp, "run", run_headless)
    monkeypatch.setattr(learn_command, "is_interactive", lambda: True)
    with pytest.raises(SystemExit) as ended:
        run_guarded(lambda: app(["learn", "attention"], prog_name="kqv"))
    assert ended.value.code == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("kqv: internal error: MemoryError: Unable to allocate"), err
    assert "Traceback" not in err
    assert isinstance(apps[0].failure, MemoryError) and apps[0].return_code == 1


def test_a_gpt2_folder_too_big_for_the_machine_is_refused_before_the_app_opens(tmp_path):
    import json
    import shutil
    from pathlib import Path

    folder = tmp_path / "huge"
    shutil.copytree(Path(__file__).parent / "data" / "gpt2-tiny", folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "n_layer": 1_000_000_000}))
    result = CliRunner().invoke(app, ["learn", "attention", "--model", str(folder)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "n_layer 1000000000" in result.output
    assert "bigger model than this machine can hold" in result.output
