"""The installed ``kqv``'s last-resort handler: a bug is one line, a log file and exit 70."""

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import REPO
from engine.files.paths import cache_dir
from kqv_cli.cli import app
from kqv_cli.exit_codes import EXIT_INTERNAL_ERROR
from kqv_cli.last_resort import run_guarded


def test_a_bug_is_one_line_naming_a_log_with_the_traceback(capsys):
    def broken():
        {}["no such key"]

    with pytest.raises(SystemExit) as exit_:
        run_guarded(broken)
    assert exit_.value.code == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kqv: internal error: KeyError")
    assert "please report it" in err[0]
    (log,) = (cache_dir() / "errors").iterdir()
    assert str(log) in err[0]
    assert "Traceback" in log.read_text() and "broken" in log.read_text()


def test_ctrl_c_outside_a_command_is_one_line(capsys):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_:
        run_guarded(interrupted)
    assert exit_.value.code == 130 and capsys.readouterr().err.strip() == "error: interrupted (Ctrl-C)"


CTRL_C_WHILE_IMPORTING = """
import builtins, runpy, sys
real_import = builtins.__import__
def interrupted(name, *args, **kwargs):
    if name == sys.argv[1]:
        raise KeyboardInterrupt  # as a Ctrl-C in the half second kqv spends importing
    return real_import(name, *args, **kwargs)
builtins.__import__ = interrupted
runpy.run_module("kqv_cli", run_name="__main__")
"""


# kqv_cli.commands: behind the guard; kqv_cli.exit_codes: imported by last_resort itself, before
# the guard is up (kqv_cli's excepthook says it)
@pytest.mark.parametrize("module", ["kqv_cli.commands", "kqv_cli.exit_codes"])
def test_ctrl_c_while_kqv_is_still_importing_is_one_line(module):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", CTRL_C_WHILE_IMPORTING, module, "quiz"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (130, "error: interrupted (Ctrl-C)\n")


def test_a_file_of_the_current_folder_hiding_the_engine_is_one_line(tmp_path):
    """python -m puts the current folder first: its engine.py is imported instead of kqv's engine."""
    (tmp_path / "engine.py").write_text("# someone's own script\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "kqv_cli", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: cannot start: ") and str(tmp_path / "engine.py") in line


def test_a_bug_whose_message_spans_lines_is_still_one_line(capsys):
    def broken():
        raise RuntimeError("first line\nsecond line")

    with pytest.raises(SystemExit):
        run_guarded(broken)
    (line,) = capsys.readouterr().err.splitlines()
    assert "RuntimeError: first line second line;" in line


@pytest.mark.slow  # a kqv process per case
@pytest.mark.parametrize("args", [["lab"], ["quiz", "--stats"], ["train", "gpt", "--help"]], ids=" ".join)
def test_a_terminal_that_cannot_show_unicode_gets_question_marks_not_a_crash(args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "ascii"}
    done = subprocess.run([sys.executable, "-m", "kqv_cli", *args], capture_output=True, text=True, env=env,
                          timeout=60)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert "?" in done.stdout


@pytest.mark.slow
def test_columns_0_still_shows_the_output_and_the_error_line():
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "0"}
    listing = subprocess.run([sys.executable, "-m", "kqv_cli", "lab"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert listing.returncode == 0 and "learning-rate" in listing.stdout
    refused = subprocess.run([sys.executable, "-m", "kqv_cli", "train", "gpt", "--lr", "x"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr == "error: --lr: 'x' is not a number; see kqv train gpt --help\n"


def test_a_full_disk_is_one_line_not_a_bug(capsys):
    def full():
        raise OSError(28, "No space left on device")

    with pytest.raises(SystemExit) as exit_:
        run_guarded(full)
    assert exit_.value.code == 2 and "No space left on device" in capsys.readouterr().err
    assert not (cache_dir() / "errors").exists()


def test_tests_still_see_the_real_exception(monkeypatch):
    import kqv_cli.commands.gpt as gpt_command

    def broken(path):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(gpt_command, "load_gpt", broken)
    result = CliRunner().invoke(app, ["sample", "x.npz"])
    assert isinstance(result.exception, ZeroDivisionError)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
@pytest.mark.slow
def test_output_to_a_full_device_is_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "kqv_cli", "lab"], stdout=full, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "error: cannot write the output: No space left on device"


def run_in_shell(command: str, tmp_path) -> subprocess.CompletedProcess:
    """``python -m kqv_cli`` under bash, so a redirection such as ``>&-`` closes a stream."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(["bash", "-c", f"{sys.executable} -m kqv_cli {command}"], capture_output=True,
                          text=True, env=env, timeout=120, cwd=tmp_path)


@pytest.mark.slow  # a kqv process per case
@pytest.mark.parametrize(("command", "code", "line"), [
    ("sample no.npz >&-", 2, "error: standard output is closed, so kqv has nowhere to print"),
    ("quiz -n 1 --seed 1 <&-", 0, None),
    ("<&-", 0, None),
    ("sample no.npz 2>&-", 2, None),
])
def test_a_closed_standard_stream_is_not_a_crash(tmp_path, command, code, line):
    done = run_in_shell(command, tmp_path)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "internal error" not in done.stderr
    if line is not None:
        assert done.stderr.startswith(line) and len(done.stderr.splitlines()) == 1
    if command.startswith("quiz"):
        assert "input ended" in done.stdout  # a closed stdin reads as an empty input
    if command == "<&-":
        assert "Usage" in done.stdout  # not a terminal: the help, as for a pipe


def test_ctrl_c_in_clicks_own_code_is_130_and_one_line(monkeypatch, capsys):
    """A Ctrl-C that lands outside a command's guard (while click parses, say) comes back from
    click as Abort; it is still one line and 130, as everywhere else."""
    import kqv_cli.usage_errors as usage_errors

    def parse_interrupted(self, ctx, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(usage_errors.TyperGroup, "parse_args", parse_interrupted)
    with pytest.raises(SystemExit) as exit_:
        app(["quiz"], prog_name="kqv")
    assert exit_.value.code == 130
    assert capsys.readouterr().err.strip() == "error: interrupted (Ctrl-C)"
