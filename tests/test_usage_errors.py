"""A command line typer cannot parse ends in one line on stderr and exit code 2, for every command.

The table is built by walking the app's command tree, so a command added later is covered
without touching this file: for each group a missing and an unknown command, for each command
an unknown option, every option left without its value, every number option given ``abc``,
and a missing required argument.
"""

import json
import os
import subprocess
import sys
import typing

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import REPO
from kqv_cli.cli import KqvTyper, app
from kqv_cli.usage_errors import OneLineUsage

ROOT = get_command(app)


def walk(command=ROOT, path=()):
    """(path, command) for the root and every group and command under it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def numeric(param) -> bool:
    annotation = param.type_descriptor.annotation
    return bool({int, float} & {annotation, *typing.get_args(annotation)})


def long_name(param) -> str:
    return max(param.opts, key=len)


def bad_invocations():
    """(args, command path the line must point to) for every way to miss the parser."""
    for path, command in walk():
        where = " ".join(("kqv", *path))
        if hasattr(command, "commands"):
            yield [*path, "no-such-command"], where
            if command.no_args_is_help:  # `kqv train` alone lacks its command (`kqv lab` lists)
                yield list(path), where
        yield [*path, "--no-such-option"], where
        for param in command.params:
            if param.param_type_name == "argument" and param.required:
                yield list(path), where
            if param.param_type_name != "option" or param.is_flag:
                continue
            yield [*path, long_name(param)], where
            if numeric(param):
                yield [*path, long_name(param), "abc"], where


CASES = list(bad_invocations())


def test_the_table_covers_every_command():
    leaves = {" ".join(("kqv", *p)) for p, c in walk() if not hasattr(c, "commands")}
    assert {where for _, where in CASES} >= leaves
    assert {"kqv train gpt", "kqv quiz", "kqv practice check", "kqv sample"} <= leaves
    assert len(CASES) > 100


@pytest.mark.parametrize(("args", "where"), CASES, ids=[" ".join(a) or "kqv" for a, _ in CASES])
def test_a_usage_error_is_one_line_and_exit_2(args, where):
    result = CliRunner().invoke(app, args, prog_name="kqv")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(f"see {where} --help")
    assert "Traceback" not in result.output and "╭" not in result.stderr


@pytest.mark.parametrize(("args", "line"), [
    (["train", "gpt", "--lr", "abc"], "error: --lr: 'abc' is not a number; see kqv train gpt --help"),
    (["train", "digits", "--epochs", "1e20"],
     "error: --epochs: '1e20' is not a whole number; see kqv train digits --help"),
    (["train", "gpt", "--bia"],
     "error: kqv train gpt has no option --bia (did you mean --bias?); see kqv train gpt --help"),
    (["quiz", "-n"], "error: -n needs a value; see kqv quiz --help"),
    (["eval", "digits"], "error: kqv eval digits needs CHECKPOINT; see kqv eval digits --help"),
    (["lessons", "check", "--sets", "-1"],
     "error: --sets: must be at least 0, got '-1'; see kqv lessons check --help"),
    (["train"], "error: kqv train needs a command: digits, gpt, translate; see kqv train --help"),
    (["quiz", "-n", "9" * 5000],
     "error: --count: '99999999999999999999999999999...9999999' (5000 characters) has too many digits for "
     "a whole number; see kqv quiz --help"),
    (["trian", "gpt"], "error: kqv has no command 'trian' (did you mean train?); see kqv --help"),
    (["train", "xyz"],
     "error: kqv train has no command 'xyz'; its commands: digits, gpt, translate; see kqv train --help"),
])
def test_the_line_says_what_was_wrong(args, line):
    result = CliRunner().invoke(app, args, prog_name="kqv")
    assert (result.exit_code, result.stderr.strip()) == (2, line)


HELPS = [list(path) for path, _ in walk()]


@pytest.mark.parametrize("path", HELPS, ids=[" ".join(p) or "kqv" for p in HELPS])
def test_every_help_page_is_rich_on_stdout_and_exits_0(path):
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="kqv")
    assert (result.exit_code, result.stderr) == (0, "")
    assert f"Usage: {' '.join(('kqv', *path))} " in result.stdout and "╭─ Options" in result.stdout


def test_a_command_s_return_value_is_not_read_as_the_exit_code():
    scratch = KqvTyper(cls=OneLineUsage)

    @scratch.command("answer")
    def answer() -> int:
        return 5

    @scratch.command("other")
    def other() -> None:
        pass

    assert CliRunner().invoke(scratch, ["answer"]).exit_code == 0


def test_an_abort_is_one_line():
    scratch = KqvTyper(cls=OneLineUsage)

    @scratch.command("ask")
    def ask() -> None:
        raise typer.Abort()

    @scratch.command("other")
    def other() -> None:
        pass

    result = CliRunner().invoke(scratch, ["ask"])
    assert (result.exit_code, result.stderr) == (1, "error: aborted\n")


@pytest.mark.slow
def test_the_installed_command_says_it_in_one_line():
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "60"}
    done = subprocess.run([sys.executable, "-m", "kqv_cli", "train", "gpt", "--max-iters", "1e20"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: --max-iters: '1e20' is not a whole number; see kqv train gpt --help\n"


@pytest.mark.parametrize(("args", "code"), [
    (["train", "gpt", "--text", "no-such.txt", "--json"], 2),  # a KqvError in the command
    (["train", "gpt", "--lr", "abc", "--json"], 2),  # typer's parser
    (["quiz", "--json"], 2),  # a fail() of the command's own
    (["eval", "digits", "missing.npz", "--json"], 2),
])
def test_with_json_an_error_is_one_json_object_on_stdout_too(args, code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code
    (line,) = result.stderr.splitlines()
    assert json.loads(result.stdout) == {"error": line.removeprefix("error: ")}


def test_without_json_an_error_leaves_stdout_empty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["eval", "digits", "missing.npz"])
    assert result.exit_code == 2 and result.stdout == ""


def test_an_error_after_a_json_result_leaves_stdout_one_object(capsys):
    """A Ctrl-C after ``--json`` printed the summary of what was done: said on stderr only."""
    from kqv_cli import messages

    messages.errors_as_json(True)
    try:
        messages.print_json({"epochs": 3})
        messages.error("interrupted (Ctrl-C) in epoch 4")
    finally:
        messages.errors_as_json(False)
    out, err = capsys.readouterr()
    assert json.loads(out) == {"epochs": 3}
    assert err.strip() == "error: interrupted (Ctrl-C) in epoch 4"
