"""Every number typed on the command line: one line and exit 2 for a value no command can use.

The commands and their options are read from the app itself, so a command or a flag added
later is attacked too without touching this file.
"""

import typing

import pytest
import typer
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from kqv_cli.quiz import answers

runner = CliRunner()

# what a required argument gets, so the command parses; values are refused before it is used
ARGUMENT_STAND_INS = {"checkpoint": "none.npz", "name": "learning-rate", "file": "none.md"}


def commands(group=None, path=()):
    """(words, click command) for every command of the app, however deep."""
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def python_type(param):
    """``int`` for an option declared ``int`` or ``int | None``."""
    annotation = param.type_descriptor.annotation
    return next((t for t in typing.get_args(annotation) if t is not type(None)), annotation)


def options_of_type(kind):
    for words, command in commands():
        args = [ARGUMENT_STAND_INS[p.name] for p in command.params
                if p.param_type_name == "argument" and p.required]
        for p in command.params:
            if p.param_type_name == "option" and python_type(p) is kind:
                yield words, args, max(p.opts, key=len), p.name


def one_line_refusal(result, flag):
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and flag in lines[0], result.output


SEEDED = [(w, a, flag) for w, a, flag, name in options_of_type(int) if name == "seed"]


def test_every_seeded_command_is_found():
    # the nine commands, at least: a test that found none could not fail
    found = {" ".join(w) for w, _, _ in SEEDED}
    assert {"sample", "train gpt", "train digits", "trace gpt", "trace digits", "quiz",
            "eval digits", "lab run", "lessons check"} <= found


@pytest.mark.parametrize(("words", "args", "flag"), SEEDED, ids=[" ".join(w) for w, _, _ in SEEDED])
@pytest.mark.parametrize("seed", ["-1", "-9223372036854775809", str(2**64)])
def test_a_seed_outside_numpys_range_is_one_line(words, args, flag, seed):
    one_line_refusal(runner.invoke(app, [*words, *args, flag, seed]), flag)


FLOATS = list(options_of_type(float))


@pytest.mark.parametrize(("words", "args", "flag", "name"), FLOATS,
                         ids=[f"{' '.join(w)} {f}" for w, _, f, _ in FLOATS])
@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "-inf", "1e-320", "-4e-324", "1e999"])
def test_no_float_flag_takes_a_non_finite_or_denormal_number(words, args, flag, name, value):
    one_line_refusal(runner.invoke(app, [*words, *args, flag, value]), flag)


def test_float_flags_are_found():
    flags = {f for _, _, f, _ in FLOATS}
    assert {"--temperature", "--eta", "--lmbda", "--lr", "--min-lr", "--dropout"} <= flags


INTS = [(w, a, f) for w, a, f, name in options_of_type(int) if name != "seed"]


@pytest.mark.parametrize(("words", "args", "flag"), INTS, ids=[f"{' '.join(w)} {f}" for w, _, f in INTS])
def test_no_whole_number_flag_takes_a_number_past_32_bits(words, args, flag):
    one_line_refusal(runner.invoke(app, [*words, *args, flag, str(10**12)]), flag)


@pytest.mark.parametrize(("flag", "value"), [("--epochs", "10001"), ("--epochs", "1" + "0" * 20)])
def test_epochs_are_bounded(flag, value):
    one_line_refusal(runner.invoke(app, ["train", "digits", "--synthetic", flag, value]), flag)


def test_a_value_at_the_bound_is_still_taken():
    from kqv_cli.services.numbers import MAX_COUNT, check_number

    check_number("--epochs", "epochs", MAX_COUNT["epochs"])
    check_number("--seed", "seed", 0)
    check_number("--eta", "eta", 1e-300)


HOSTILE_ANSWERS = {"5000 digits": "9" * 5000, "4400 digits in a shape": "(4, " + "9" * 4400 + ")",
                   "superscript": "4²", "arabic digits": "١٢, 3", "3000 nested products": "C*" * 3000 + "C",
                   "20 digits": "yes (" + "8" * 20 + ", 2)", "NUL bytes": "\x00" * 10}


def question(kind, answer):
    from lessons.cards.question import Question

    return Question("c", "t", 1, "", "", "", kind, answer, ("B", "T", "C"), ("", ""), (), ())


@pytest.mark.parametrize("text", HOSTILE_ANSWERS.values(), ids=HOSTILE_ANSWERS.keys())
def test_quiz_answers_never_crash_the_reader(text):
    for q in (question("count", 12), question("shape", (4, 8)), question("symbolic", ("B", "C")),
              question("works", answers.NO)):
        try:
            answers.check(q, text)
        except answers.Malformed as exc:
            assert len(str(exc)) < 300  # says how to answer, without echoing a megabyte back


def test_a_long_answer_piped_to_the_quiz_is_asked_again(tmp_path):
    result = runner.invoke(app, ["quiz", "-n", "1", "--seed", "3"], input="9" * 6000 + "\n")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output


def test_digit_settings_are_refused_by_one_rule_named_as_each_caller_calls_them():
    """kqv train digits (flags), the Train screen (settings) and Network.SGD (its arguments)
    refuse the same settings by the engine's one rule, each in its own words."""
    import numpy as np

    from engine.digits.network import Network
    from engine.errors import KqvError
    from kqv_cli.services.numbers import DIGITS_SETTINGS, check_digits_training

    cases = [({"lmbda": -0.1}, "--lmbda cannot be negative", "lmbda cannot be negative"),
             ({"eta": 0.0}, "--epochs, --batch-size and --eta must all be positive",
              "epochs, mini-batch size and eta must all be positive"),
             ({"schedule": "step"}, "--schedule must be one of constant, cosine, not step",
              "schedule must be one of constant, cosine, not step")]
    net = Network([784, 3, 10])
    data = (np.zeros((4, 784), np.float32), np.zeros(4, np.int64))
    for change, as_flags, as_settings in cases:
        settings = {"epochs": 1, "batch_size": 2, "eta": 1.0, "lmbda": 0.0, "schedule": "constant", **change}
        with pytest.raises(KqvError, match=f"^{as_flags}$"):
            check_digits_training([784, 3, 10], **settings)
        with pytest.raises(KqvError, match=f"^{as_settings}$"):
            check_digits_training([784, 3, 10], **settings, names=DIGITS_SETTINGS)
        with pytest.raises(KqvError, match=f"^{as_settings}$"):
            net.SGD(data, settings["epochs"], settings["batch_size"], settings["eta"],
                    lmbda=settings["lmbda"], schedule=settings["schedule"])
    with pytest.raises(KqvError, match="^sizes 784,3,9 does not fit the digits"):
        check_digits_training([784, 3, 9], 1, 2, 1.0, names=DIGITS_SETTINGS)
