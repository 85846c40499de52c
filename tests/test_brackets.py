"""Brackets in anything the user names are printed as they are, by every command.

Rich reads ``[...]`` as a style tag: printed as markup, ``kqv[x]yy.npz`` would come out as
``kqvyy.npz`` (kqv naming a file that does not exist) and ``kqv[/]zz.npz`` would stop the command
with a MarkupError, sometimes after it had written its file. :mod:`kqv_cli.messages` prints
every line as text; this test holds every command to it by walking typer's command tree and
giving each argument and option, one at a time, a value with brackets.
"""

import json
import shutil
import urllib.error
import urllib.request

import pytest
import typer.main
from pilot import pilot_test
from typer.testing import CliRunner

import kqv_cli.main  # registers the commands
from kqv_cli.cli import app

runner = CliRunner()

TOKENS = ("kqv[/]zz.npz", "kqv[x]yy.npz")
MANGLED = ("kqvzz", "kqvyy")  # what markup would leave of them
TEXT = "".join(f"the {w} sat on the mat.\n" for w in ["cat", "dog", "hen", "fox", "owl"] * 30)
SMALL = {"--block-size": "16", "--batch-size": "4", "--n-layer": "1", "--n-head": "2", "--n-embd": "16"}
TRAIN = {**SMALL, "--eval-interval": "1", "--eval-iters": "1", "--threads": "1", "--max-iters": "2"}
PAIRS = "".join(f"The {a} is {c}.\tLe {b} est {d}.\n" for a, b in [("cat", "chat"), ("dog", "chien")]
                for c, d in [("black", "noir"), ("white", "blanc"), ("big", "grand")])
TX = {"--pairs": "pairs.txt", "--n-embd": "16", "--n-head": "2", "--n-layer": "1", "--batch-size": "2",
      "--vocab-size": "300", "--max-iters": "2", "--eval-interval": "1", "--bleu-sentences": "1",
      "--beam": "2"}

# Per command: its arguments in order, its options, its flags: a quick run that would succeed
# (or be refused quickly). The parameter under test replaces its own entry here.
BASE = {
    "export": (["g.npz"], {"--hf": "hfout"}, []),
    "sample": (["g.npz"], {"--tokens": "3"}, []),
    "quiz": ([], {"-n": "1", "--seed": "1"}, []),
    "learn": (["backprop"], {}, []),
    "train digits": ([], {"--limit": "50", "--epochs": "1", "--sizes": "784,8,10", "--out": "d.npz"},
                     ["--synthetic"]),
    "train gpt": ([], {"--text": "play.txt", **TRAIN, "--out": "g2.npz"}, []),
    "eval digits": (["d.npz"], {}, ["--synthetic"]),
    "trace digits": ([], {"--sizes": "784,8,10", "--batch-size": "2"}, ["--synthetic"]),
    "trace gpt": ([], {"--text": "play.txt", **SMALL}, []),
    "data mnist": ([], {"--dir": "datadir"}, []),
    "data shakespeare": ([], {"--dir": "datadir"}, []),
    "data gpt2": ([], {}, []),
    "data eng-fra": ([], {"--dir": "datadir"}, []),
    "data marian": ([], {}, []),
    "train translate": ([], {**TX, "--out": "t2.npz"}, []),
    "translate": (["t.npz", "The cat is black."], {"--beam": "2"}, ["--show-attention"]),
    "trace translate": ([], {"--n-embd": "16", "--n-head": "2"}, []),
    # a GPT experiment without --text: its data is Tiny Shakespeare, not downloaded here, so a
    # bracketed --data (which GPT experiments do not read) is refused quickly too
    "lab run": (["squared-dot"], {"--iters": "1"}, []),
    "lessons check": ([], {"--sets": "0"}, []),
    "lessons show": (["backprop"], {"-s": "1"}, []),
    "practice": ([], {"-d": "ws"}, []),
    "practice list": ([], {"-d": "ws"}, []),
    "practice init": (["ws2"], {}, []),
    "practice check": (["sigmoid"], {"-d": "ws"}, []),
    "practice hint": (["sigmoid"], {"-d": "ws"}, []),
    "practice reset": (["sigmoid"], {"-d": "ws"}, []),
    "practice solution": (["sigmoid"], {}, ["--give-up"]),
    "practice level": (["sigmoid"], {"-d": "ws"}, []),
    # sigmoid has not passed in the fresh workspace: refused at once, before any training
    "practice run": (["sigmoid"], {"-d": "ws", "--iters": "1", "--limit": "1"}, []),
}


def all_commands() -> dict[str, object]:
    """Every command and group in typer's tree, by its words ("train gpt")."""
    found = {}

    def walk(command, words):
        found[" ".join(words)] = command
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*words, name])

    walk(typer.main.get_command(app), [])
    return found


COMMANDS = all_commands()
CASES = [(words, param.opts[-1] if param.param_type_name == "option" else param.name,
          param.param_type_name == "argument", token)
         for words, command in COMMANDS.items() for param in command.params
         if not getattr(param, "is_flag", False) and not param.is_eager
         for token in TOKENS]


def test_every_command_is_walked():
    walked = {words for words, *_ in CASES}
    assert walked == set(BASE), "a command without a BASE entry (or one that is gone)"
    assert len(CASES) > 100


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A GPT checkpoint, a digit net, a text and a practice workspace, made once for the module."""
    made = tmp_path_factory.mktemp("made")
    (made / "play.txt").write_text(TEXT, encoding="utf-8")
    (made / "pairs.txt").write_text(PAIRS, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(made)
        mp.setenv("KQV_STATE_DIR", str(made / ".state"))
        mp.setenv("KQV_CACHE_DIR", str(made / ".cache"))
        for args in (["train", "gpt", "--text", "play.txt", *sum(TRAIN.items(), ()), "--out", "g.npz"],
                     ["train", "digits", "--synthetic", "--limit", "50", "--epochs", "1", "--sizes",
                      "784,8,10", "--out", "d.npz"],
                     ["train", "translate", *sum(TX.items(), ()), "--out", "t.npz"],
                     ["practice", "init", "ws"]):
            assert runner.invoke(app, args).exit_code == 0
    return made


@pytest.fixture
def folder(made, tmp_path, monkeypatch):
    """A copy of what ``made`` made, as the current folder; no network."""
    work = tmp_path / "work"
    shutil.copytree(made, work, ignore=shutil.ignore_patterns(".state", ".cache"))
    monkeypatch.chdir(work)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in this test")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return work


def command_line(words: str, param: str, is_argument: bool, token: str) -> list[str]:
    arguments, options, flags = BASE[words]
    arguments, options = list(arguments), dict(options)
    if is_argument:
        index = [p.name for p in COMMANDS[words].params if p.param_type_name == "argument"].index(param)
        if index < len(arguments):
            arguments[index] = token
        else:
            arguments.append(token)
    else:
        options[param] = token
    return [*words.split(), *arguments, *[x for kv in options.items() for x in kv], *flags]


@pytest.mark.slow  # every command's every path and name, each a CLI run
@pytest.mark.parametrize(("words", "param", "is_argument", "token"), CASES,
                         ids=[f"{w or 'kqv'} {p} {t}" for w, p, _, t in CASES])
def test_a_bracketed_value_is_printed_as_it_is(folder, words, param, is_argument, token):
    args = command_line(words, param, is_argument, token)
    result = runner.invoke(app, args, input="1\n")
    output = result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert result.exit_code in (0, 1, 2), (args, output)
    assert not any(m in output for m in MANGLED), (args, output)
    if "/" not in token:  # (with the slash, a path may also name its folder, "kqv[")
        # wherever kqv names the value, it names all of it
        assert output.count("kqv[") == output.count(token.removesuffix(".npz")), (args, output)


def test_the_files_the_issue_named_are_named_whole(folder):
    """``kqv sample 'model[final].npz'`` said "no checkpoint at model.npz"; a run saved to a
    bracketed --out, then ended in MarkupError saying where."""
    result = runner.invoke(app, ["sample", "model[final].npz"])
    assert result.exit_code == 2 and result.stderr == "error: no checkpoint at model[final].npz\n"
    (folder / "exp[v2]").mkdir()
    result = runner.invoke(app, ["train", "gpt", "--text", "play.txt", *sum(TRAIN.items(), ()),
                                 "--out", "exp[v2]/m.npz"])
    assert result.exit_code == 0, result.output
    assert "Saved to exp[v2]/m.npz; try: kqv sample exp[v2]/m.npz" in result.stdout
    (folder / "q[").mkdir()
    result = runner.invoke(app, ["train", "digits", "--synthetic", "--limit", "50", "--epochs", "1",
                                 "--sizes", "784,8,10", "--out", "q[/]dd.npz", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["checkpoint"] == "q[/]dd.npz"
    result = runner.invoke(app, ["export", "g.npz", "--hf", "q[/]hfout"])
    assert result.exit_code == 0 and result.stdout.startswith("Wrote q[/]hfout: config.json")


@pilot_test
async def test_the_app_shows_a_bracketed_state_folder_in_its_warning_as_it_is(tmp_path, monkeypatch):
    """The app's notifications name paths and exceptions: a ``[/]`` in one is text, not a tag
    that stops the app with a MarkupError."""
    from kqv_cli.tui.app import KqvApp

    state = tmp_path / "st[/]ate[x]"
    state.mkdir(parents=True)
    (state / "lessons.json").write_text("{oops")  # damaged: the app warns, naming the path
    monkeypatch.setenv("KQV_STATE_DIR", str(state))
    app = KqvApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        (note,) = [n for n in app._notifications if "could not read" in n.message]
        assert str(state / "lessons.json") in note.message and not note.markup
        app.notify("plain [bold]text[/] from a screen")  # a screen's notify takes the same road
        await pilot.pause()
        assert app.is_running


def test_every_console_is_made_by_messages():
    """By construction: a console made elsewhere would read markup again. step_plain's renders
    the lesson's own Markdown into a string (a Markdown object, never a string with markup)."""
    import re
    from pathlib import Path

    allowed = {"kqv_cli/messages.py", "kqv_cli/step_plain.py"}
    root = Path(kqv_cli.main.__file__).resolve().parent.parent
    makers = sorted(str(p.relative_to(root)) for p in (root / "kqv_cli").rglob("*.py")
                    if re.search(r"\bConsole\(", p.read_text(encoding="utf-8")))
    assert set(makers) <= allowed, makers
