"""`kqv practice run`: the learner's passed functions train real models inside kqv's engine.

With the reference solutions the learner's run is the engine's run (same accuracy, same loss
curve to float rounding); with a function that is wrong yet returns the right shapes it is
not; a function not passed is refused; the learner's code stays in its sandbox; Ctrl-C ends
the run cleanly.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from conftest import MNIST_DIR, needs_mnist
from engine.data.synthetic_digits import load_synthetic
from engine.data.text import TextData
from kqv_cli.cli import app
from kqv_cli.practice.learner_process import LearnerCodeFailed, LearnerProcess
from kqv_cli.practice.practice_progress import PracticeProgress
from kqv_cli.practice.run_plan import RunPlan
from kqv_cli.practice.side_by_side import ENGINE, YOURS, run_digits, run_gpt
from kqv_cli.practice.workspace import Workspace, init_workspace
from kqv_cli.services.datasets import BUILTIN_TEXT
from lessons.practice import find_exercise, solution_file

runner = CliRunner()
DIGITS = ("sigmoid", "feedforward", "backprop", "update_mini_batch")
GPT = ("embedding", "layernorm", "heads", "softmax", "attention", "attention_backward", "adamw")


def invoke(*args):
    return runner.invoke(app, ["practice", *args])


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A workspace whose digit and GPT exercises hold the reference solutions, marked passed."""
    monkeypatch.chdir(tmp_path)
    folder = init_workspace(tmp_path / "kqv-practice").folder
    progress = PracticeProgress.for_workspace(Workspace(folder))
    for name in DIGITS + GPT:
        shutil.copy(solution_file(find_exercise(name)), folder / f"{name}.py")
        progress.record_check(name, True, "passed")
    return folder


def files_of(folder: Path, names) -> dict[str, Path]:
    return {n: folder / f"{n}.py" for n in names}


def mutate(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / f"{name}.py"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def digits():
    train, _, test = load_synthetic(seed=0, n_train=600, n_validation=0)
    return train, test


@pytest.fixture(scope="module")
def text():
    return TextData.from_text(BUILTIN_TEXT, 32, "a built-in paragraph")


# -- the same run as the engine's, with the reference solutions -----------------------------------


def test_digits_with_the_reference_solutions_is_the_engines_network(workspace, digits):
    outcome = run_digits(RunPlan("digits", DIGITS, ()), files_of(workspace, DIGITS), *digits)
    assert outcome.correct[YOURS] == outcome.correct[ENGINE] is not None
    assert outcome.weight_gap == pytest.approx(0.0, abs=1e-6)
    assert outcome.cost[YOURS] == pytest.approx(outcome.cost[ENGINE], rel=1e-6)


def test_digits_without_the_division_by_m_trains_another_network(workspace, digits):
    # update_mini_batch that forgets the 1/m: every shape right, the step m times too large
    mutate(workspace, "update_mini_batch", "w - (eta / m) * nw", "w - eta * nw")
    plan = RunPlan("digits", ("backprop", "update_mini_batch"), ("sigmoid", "feedforward"))
    outcome = run_digits(plan, files_of(workspace, plan.yours), *digits)
    assert outcome.weight_gap > 0.1
    assert outcome.cost[YOURS] != pytest.approx(outcome.cost[ENGINE], rel=1e-3)


def test_gpt_with_every_reference_solution_follows_the_engines_loss_curve(workspace, text):
    outcome = run_gpt(RunPlan("gpt", GPT, ()), files_of(workspace, GPT), text, iters=8)
    assert len(outcome.losses[YOURS]) == len(outcome.losses[ENGINE]) == 8
    assert outcome.largest_gap < 1e-5  # float32 rounding: the same sums in another order
    assert outcome.losses[YOURS][-1] < outcome.losses[YOURS][0]  # it learns
    assert outcome.val_loss[YOURS] == pytest.approx(outcome.val_loss[ENGINE], abs=1e-5)


@pytest.mark.parametrize("name", ["softmax", "layernorm", "attention"])
def test_gpt_with_one_reference_function_follows_the_engine(workspace, text, name):
    outcome = run_gpt(RunPlan("gpt", (name,), ()), files_of(workspace, [name]), text, iters=4)
    assert outcome.largest_gap < 1e-5


@pytest.mark.parametrize("name, old, new", [
    # AdamW without the bias correction of m: the first steps are ten times too small
    ("adamw", "m_hat = m / (1 - beta1**t)", "m_hat = m"),
    # the unbiased variance (C − 1): a slip torch.var's default invites
    ("layernorm", 'show("var", (xc * xc).mean(axis=-1))',
     'show("var", (xc * xc).sum(axis=-1) / (x.shape[-1] - 1))'),
])
def test_gpt_with_a_subtly_wrong_function_leaves_the_engines_curve(workspace, text, name, old, new):
    mutate(workspace, name, old, new)
    outcome = run_gpt(RunPlan("gpt", (name,), ()), files_of(workspace, [name]), text, iters=6)
    assert outcome.largest_gap > 1e-4


# -- the sandbox ------------------------------------------------------------------------------------


def test_a_learner_function_that_raises_mid_run_names_itself_and_its_line(workspace, text):
    mutate(workspace, "softmax", "    row = (dp * p)", "    raise ValueError('no')\n    row = (dp * p)")
    with pytest.raises(LearnerCodeFailed, match=r"your softmax_backward raised ValueError: no \(line \d+: "):
        run_gpt(RunPlan("gpt", ("softmax",), ()), files_of(workspace, ["softmax"]), text, iters=3)


def test_an_endless_loop_is_stopped_by_the_call_timeout(workspace):
    (workspace / "sigmoid.py").write_text("def sigmoid(z):\n    while True:\n        pass\n")
    with LearnerProcess(files_of(workspace, ["sigmoid"]), timeout=0.5) as learner:
        with pytest.raises(LearnerCodeFailed, match="ran longer than 0.5 s"):
            learner.call("sigmoid", "sigmoid", [1.0, 2.0])
        pid = learner._child.pid
    assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def test_the_learners_file_cannot_import_the_engine_in_a_run(workspace):
    (workspace / "softmax.py").write_text("from engine.layers import softmax_forward, softmax_backward\n")
    with pytest.raises(LearnerCodeFailed, match="part of kqv itself"):
        with LearnerProcess(files_of(workspace, ["softmax"])):
            pass


def test_a_shape_the_engine_cannot_use_is_said_at_the_seam(workspace, text):
    mutate(workspace, "layernorm", "return out, xhat, rstd", "return out.T, xhat, rstd")
    with pytest.raises(LearnerCodeFailed, match=r"your layernorm_forward returned out of shape \(64, 256\); "
                                                r"the engine needs shape \(256, 64\)"):
        run_gpt(RunPlan("gpt", ("layernorm",), ()), files_of(workspace, ["layernorm"]), text, iters=2)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# -- the command ------------------------------------------------------------------------------------


def test_run_digits_prints_both_accuracies_and_says_they_agree(workspace):
    result = invoke("run", "digits", "--synthetic", "--limit", "300")
    assert result.exit_code == 0, result.output
    yours = next(line for line in result.output.splitlines() if line.startswith("your network:"))
    engine = next(line for line in result.output.splitlines() if line.startswith("kqv's engine:"))
    assert yours.split(":", 1)[1] == engine.split(":", 1)[1]
    assert "/ 10,000" in yours
    assert "synthetic digits" in result.output and "MNIST" not in result.output
    assert "yours: sigmoid, feedforward, backprop, update_mini_batch" in result.output
    assert "to the last bit" in result.output


def test_run_gpt_piped_prints_the_two_losses_every_n_iterations(workspace):
    result = invoke("run", "softmax", "--iters", "6", "--every", "2")
    assert result.exit_code == 0, result.output
    assert "yours: softmax   the engine's: embedding, layernorm" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 4, 6]
    assert all(abs(float(r[1]) - float(r[2])) < 1e-3 for r in rows)
    assert "validation loss after 6 iterations" in result.output
    samples = [line.split(":", 1)[1].strip() for line in result.output.splitlines()
               if line.startswith(("  yours:", "  kqv's engine:"))]
    assert len(samples) == 2 and samples[0] == samples[1] and samples[0]


def test_a_function_not_passed_is_refused_with_how_to_pass_it(workspace):
    (workspace / ".kqv-progress.json").unlink()
    result = invoke("run", "digits")
    assert result.exit_code == 2
    assert error_line(result).startswith("error: backprop has not passed yet; `kqv practice check backprop`")
    result = invoke("run", "layernorm")
    assert result.exit_code == 2 and "`kqv practice check layernorm`" in error_line(result)
    result = invoke("run", "gpt")
    assert result.exit_code == 2 and "none of the character GPT's exercises has passed" in error_line(result)


def test_a_function_failing_since_its_pass_is_refused(workspace):
    progress = PracticeProgress.for_workspace(Workspace(workspace))
    progress.record_check("adamw", False, "failing at m: wrong values")
    result = invoke("run", "adamw")
    assert result.exit_code == 2
    assert "adamw passed before but its last check did not (failing at m: wrong values)" in error_line(result)


@pytest.mark.parametrize("name, said", [
    ("gtp", "did you mean gpt?"),
    ("layrnorm", "did you mean layernorm?"),
    ("sinusoidal", "sinusoidal does not run inside a model yet"),
])
def test_a_name_run_does_not_take_suggests_the_close_one(workspace, name, said):
    result = invoke("run", name)
    assert result.exit_code == 2
    assert said in error_line(result)


def test_learner_code_failing_mid_run_is_one_line_and_exit_1(workspace):
    mutate(workspace, "layernorm", "    dw = (dout * xhat)", "    dw = 1 / 0\n    dw = (dout * xhat)")
    result = invoke("run", "layernorm", "--iters", "2")
    assert result.exit_code == 1
    assert "your layernorm_backward raised ZeroDivisionError" in error_line(result)
    assert "Traceback" not in result.output


def test_ctrl_c_stops_between_iterations_exit_130_and_one_line(workspace, monkeypatch):
    calls = []

    @contextmanager
    def pressed_after_three():
        yield lambda: calls.append(1) or len(calls) > 3

    monkeypatch.setattr("kqv_cli.ctrl_c.stop_on_ctrl_c", pressed_after_three)
    result = invoke("run", "softmax", "--iters", "20")
    assert result.exit_code == 130
    assert error_line(result) == ("error: practice run stopped (Ctrl-C) after iteration 3 of 20; "
                                  "nothing was written")


@pytest.mark.slow
def test_a_real_ctrl_c_ends_the_run_and_the_learners_process(workspace):
    env = {**os.environ, "KQV_PRACTICE_DIR": str(workspace), "COLUMNS": "100"}
    proc = subprocess.Popen([sys.executable, "-m", "kqv_cli", "practice", "run", "gpt", "--iters", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    # wait until it trains (the first table row), then press Ctrl-C
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip().startswith("1 "):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: practice run stopped (Ctrl-C) after iteration")
    time.sleep(0.2)
    leftovers = subprocess.run(["pgrep", "-f", "run_child.py"], capture_output=True, text=True).stdout.split()
    assert [p for p in leftovers if _works_in(p, workspace)] == []


def _works_in(pid: str, folder: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == folder
    except OSError:
        return False


def test_help_and_list_name_what_run_takes(workspace):
    result = invoke("run", "--help")
    assert result.exit_code == 0
    assert "digits" in result.output and "gpt" in result.output and "attention_backward" in result.output
    result = invoke("list")
    assert "kqv practice run digits" in result.output and "gpt" in result.output


def test_in_a_terminal_the_two_curves_are_drawn_and_tabled(workspace, monkeypatch):
    import io

    from rich.console import Console

    import kqv_cli.commands.practice_run as command

    screen = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(command, "console", screen)
    result = invoke("run", "adamw", "--iters", "4", "--every", "2")
    assert result.exit_code == 0, result.output
    shown = screen.file.getvalue()
    assert "training loss" in shown and "kqv's engine" in shown and "iteration" in shown  # the chart
    assert "the loss, every 2 iterations" in shown
    assert "validation loss after 4 iterations" in shown


def test_a_print_in_every_call_floods_the_output_cap_and_stops_the_run(workspace, text):
    mutate(workspace, "softmax", "    row = (dp * p)", "    print('x' * 2000)\n    row = (dp * p)")
    with pytest.raises(LearnerCodeFailed, match="your softmax_backward: your code printed more than 64 KB"):
        run_gpt(RunPlan("gpt", ("softmax",), ()), files_of(workspace, ["softmax"]), text, iters=20)


@needs_mnist
@pytest.mark.slow
def test_run_digits_on_mnist_says_mnist_and_agrees(workspace, monkeypatch):
    monkeypatch.setenv("KQV_DATA_DIR", str(MNIST_DIR))
    result = invoke("run", "digits", "--limit", "2000")
    assert result.exit_code == 0, result.output
    assert "2,000 training images of MNIST" in result.output
    assert "to the last bit" in result.output


def test_json_is_one_object_with_both_runs(workspace):
    import json

    result = invoke("run", "digits", "--synthetic", "--limit", "200", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["model"] == "digits" and doc["correct"]["yours"] == doc["correct"]["engine"]
    assert doc["test_images"] == 10_000 and doc["weight_gap"] == pytest.approx(0.0, abs=1e-6)
    result = invoke("run", "layernorm", "--iters", "3", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["yours"] == ["layernorm"] and "adamw" in doc["engine"]
    assert len(doc["losses"]["yours"]) == len(doc["losses"]["engine"]) == 3 and doc["largest_gap"] < 1e-5


def test_a_gap_beyond_float_rounding_is_not_called_rounding(workspace):
    # a softmax backward with its row sum 0.1% short: invisible in a few iterations' loss to the eye
    mutate(workspace, "softmax", "return p * (dp - row)", "return p * (dp - 0.999 * row)")
    result = invoke("run", "softmax", "--iters", "60")
    assert result.exit_code == 0, result.output
    assert "more than float32 rounding" in result.output
    assert "train it as the engine's do" not in result.output


def test_junk_written_into_the_reply_pipe_is_refused_not_read(workspace):
    (workspace / "sigmoid.py").write_text(
        "import os, struct, sys\n\n"
        "def sigmoid(z):\n"
        "    head = (b'{\"status\": \"ok\", \"returns\": 0, '\n"
        "            b'\"arrays\": [{\"dtype\": \"|O\", \"shape\": [1]}]}')\n"
        "    os.write(int(sys.argv[3]), struct.pack('<Q', len(head)) + head + b'12345678')\n"
        "    while True:\n"
        "        pass\n")
    with LearnerProcess(files_of(workspace, ["sigmoid"]), timeout=5) as learner:
        with pytest.raises(LearnerCodeFailed, match="sent back something kqv cannot read during sigmoid"):
            learner.call("sigmoid", "sigmoid", [1.0])


def test_a_process_that_ends_itself_is_one_line(workspace):
    (workspace / "sigmoid.py").write_text("import os\n\ndef sigmoid(z):\n    os._exit(3)\n")
    with LearnerProcess(files_of(workspace, ["sigmoid"])) as learner:
        with pytest.raises(LearnerCodeFailed, match="during sigmoid: .*exit code 3"):
            learner.call("sigmoid", "sigmoid", [1.0])
