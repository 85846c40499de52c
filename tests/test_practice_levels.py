"""The derive level: starters that state the forward only, hints that follow what fails now.

A backward exercise at the derive level gives the forward computation and the shapes, never the
backward's formula (the guided starter's formula lines are absent); its hints are steps on the
rung of the variable that fails first, so a real wrong solution failing at dx gets a dx step and
one failing at dw a dw step. The level is the learner's choice (`init --level`, `level NAME`,
`d` on the Practice screen), recorded per workspace, listed, and a switch never loses a file.
"""

from __future__ import annotations

import ast
import asyncio
import time

import pytest
from pilot import pilot_test, record_notes
from typer.testing import CliRunner

import kqv_cli.main  # noqa: F401  (registers the commands)
from kqv_cli.cli import app
from kqv_cli.practice.grader import check_file
from kqv_cli.practice.levels import choose_rung, next_derive_hint
from kqv_cli.practice.practice_progress import PracticeProgress
from kqv_cli.practice.workspace import Workspace, find_workspace, init_workspace
from lessons.practice import find_exercise, load_exercises, solution_file, starter_file

runner = CliRunner()
SEED = 0  # the random input set's sizes, fixed so a run replays
DERIVED = [e for e in load_exercises() if e.derive is not None]

# Lines of each guided starter that give the backward (or the update) as a formula: each must be
# in the guided starter (so the check means something) and in neither the derive starter nor the
# derive level's text.
FORMULAS = {
    "layernorm": ["dw    = Σ_rows dout ⊙ xhat", "dxhat = dout ⊙ w",
                  "dx    = rstd · (dxhat − mean_c(dxhat) − xhat ⊙ mean_c(dxhat ⊙ xhat))"],
    "softmax": ["dx = p ⊙ (dp − Σⱼ dpⱼ pⱼ)"],
    "attention_backward": ["= dy @ vᵀ", "= attᵀ @ dy", "= att ⊙ (datt − Σ_row datt ⊙ att)",
                           "= (datt_scores / √hs) @ k", "= (datt_scores / √hs)ᵀ @ q"],
    "cross_entropy": ["dlogits (N, V) = (probs − onehot(targets)) / N"],
    "label_smoothing": ["dlogits (N, V) = (probs − q) / n"],
    "adamw": ["p ← p · (1 − lr·weight_decay)", "m ← β₁·m + (1 − β₁)·g", "v ← β₂·v + (1 − β₂)·g²",
              "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)", "update = lr · m̂ / (√v̂ + ε)", "p ← p − update"],
    "backprop": ["δᴸ = (aᴸ − y) ⊙ σ′(zᴸ)", "δˡ = ((wˡ⁺¹)ᵀ @ δˡ⁺¹) ⊙ σ′(zˡ)", "nabla_bˡ = δˡ summed over",
                 "nabla_wˡ = δˡ @ (aˡ⁻¹)ᵀ"],
    "update_mini_batch": ["wˡ − (η/m)·nabla_wˡ", "bˡ − (η/m)·nabla_bˡ"],
    "quadratic_cost": ["= (a − y) ⊙ σ′(zᴸ)"],
    "cross_entropy_cost": ["for sigmoid outputs and this cost: a − y", "see how σ′(zᴸ) cancels"],
    "sigmoid": ["σ′(z) = σ(z)(1 − σ(z)): how fast"],
}

# A real wrong solution per exercise and the variable it fails at first: (mutation of the
# solution, failing variable). The derive hint must be a step of that variable's rung.
WRONG = {
    "layernorm": [("the mean terms left out", "dx"), ("dw without x̂", "dw"), ("dx̂ without w", "dxhat")],
    "softmax": [("the Σ term left out", "dx"), ("overflow: the max not subtracted", "p")],
    "attention_backward": [("att where attᵀ belongs", "dv"),
                           ("softmax backward without the Σ term", "datt_scores"),
                           ("1/√hs left out of the backward", "dq")],
    "cross_entropy": [("one-hot not subtracted", "dlogits"), ("log left out", "loss")],
    "label_smoothing": [("the gradient against the one-hot target", "dlogits"), ("no smoothing", "loss")],
    "adamw": [("β₁ and β₂ swapped", "m"), ("no bias correction", "update"), ("update added", "p")],
    "backprop": [("no σ′ at the output", "delta3"), ("mean where the engine sums", "nabla_b3"),
                 ("σ′ left out going back", "delta2")],
    "update_mini_batch": [("η instead of η/m", "w2")],
    "quadratic_cost": [("no σ′", "delta3"), ("½ left out", "C")],
    "cross_entropy_cost": [("σ′ kept", "delta3")],
    "sigmoid": [("1 + σ instead of 1 − σ", "sigmoid_prime(z)"), ("e^z instead of e^−z", "sigmoid(z)")],
}


def ids(value):
    return value.name if hasattr(value, "name") else None


def invoke(*args):
    return runner.invoke(app, ["practice", *args])


def signatures(path) -> dict[str, list[str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {f.name: [a.arg for a in f.args.args] for f in tree.body if isinstance(f, ast.FunctionDef)}


def mutated(exercise, mistake_name: str, folder) -> object:
    """The reference solution with one named mistake written in: a real wrong solution."""
    old, new = exercise.mistake(mistake_name).mutation
    file = folder / f"{exercise.name}.py"
    file.write_text(solution_file(exercise).read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return file


def test_the_backward_exercises_have_a_derive_level():
    assert set(FORMULAS) <= {e.name for e in DERIVED}
    assert set(WRONG) <= {e.name for e in DERIVED}
    assert {e.name for e in DERIVED} <= set(FORMULAS) | set(WRONG), "give each derive level its tests"


@pytest.mark.parametrize("exercise", DERIVED, ids=ids)
def test_derive_starter_states_no_backward_formula_and_keeps_the_signatures(exercise):
    guided, derive = starter_file(exercise), starter_file(exercise, "derive")
    assert derive.name == "derive.py" and derive.is_file()
    assert signatures(derive) == signatures(guided), "the same functions with the engine's arguments"
    for line in FORMULAS.get(exercise.name, []):
        assert line in guided.read_text(encoding="utf-8"), f"not in the guided starter any more: {line!r}"
        assert line not in derive.read_text(encoding="utf-8"), f"the derive starter gives {line!r}"
    text = exercise.derive.text
    for line in FORMULAS.get(exercise.name, []):
        assert line.split("=", 1)[-1].strip() not in text


@pytest.mark.parametrize("exercise", DERIVED, ids=ids)
def test_every_graded_variable_is_on_one_rung_with_steps(exercise):
    on_rungs = [n for rung in exercise.derive.rungs for n in rung.names]
    assert len(on_rungs) == len(set(on_rungs)), "a variable on two rungs"
    for case in exercise.cases():
        missing = [r.name for r in case.expected if exercise.derive.rung(r.name, case.dims) is None]
        assert not missing, f"no rung for {missing} on {case.dims}"
    assert all(len(rung.steps) >= 2 and all(s.strip() for s in rung.steps) for rung in exercise.derive.rungs)


@pytest.mark.parametrize("exercise", DERIVED, ids=ids)
def test_untouched_derive_starter_is_not_written_yet_and_the_solution_passes_at_derive(exercise):
    report = check_file(exercise, starter_file(exercise, "derive"), level="derive")
    assert report.status == "not_written", report.story
    assert check_file(exercise, solution_file(exercise), seed=SEED, level="derive").passed


CASES = [(find_exercise(name), mistake, variable) for name, wrongs in WRONG.items()
         for mistake, variable in wrongs]


@pytest.mark.parametrize(("exercise", "mistake", "variable"), CASES,
                         ids=[f"{e.name}-{v}" for e, _, v in CASES])
def test_the_derive_hint_is_a_step_for_the_variable_failing_now(exercise, mistake, variable, tmp_path):
    report = check_file(exercise, mutated(exercise, mistake, tmp_path), seed=SEED, level="derive")
    assert report.status == "failing" and report.first_wrong.name == variable, report.story
    story = " ".join(report.story)
    assert f'mistake "{mistake}"' in story and exercise.mistake(mistake).hint not in story  # no formula
    assert "look at how the engine computes it" not in story
    progress = PracticeProgress.load(tmp_path, "progress.json")
    first = next_derive_hint(progress, exercise, report)
    assert first.rung is exercise.derive.rung(variable, report.dims) is not None
    assert first.variable == variable and first.index == 0 and variable in first.why
    second = next_derive_hint(progress, exercise, report)
    assert second.rung is first.rung and second.index == 1  # the next step on the same rung
    others = [r for r in exercise.derive.rungs if r is not first.rung]
    assert all(progress.derive_steps_shown(exercise.name, r.names[0]) == 0 for r in others)


def test_layernorm_dx_wrong_but_dw_right_is_told_about_the_mean_terms(tmp_path):
    exercise = find_exercise("layernorm")
    report = check_file(exercise, mutated(exercise, "the mean terms left out", tmp_path), seed=SEED,
                        level="derive")
    assert [r.name for r in report.rows if r.ok][-3:] == ["dw", "db", "dxhat"]
    progress = PracticeProgress.load(tmp_path, "progress.json")
    steps = [next_derive_hint(progress, exercise, report).text for _ in range(4)]
    assert "mean" in steps[0] and "mean terms" in steps[2]
    assert "keepdims" in steps[-1]  # the formula comes last


def test_with_nothing_failing_the_hint_starts_at_the_first_rung_not_yet_read():
    exercise = find_exercise("layernorm")
    rungs = exercise.derive.rungs
    assert choose_rung(exercise, None, {}) is rungs[0]
    assert choose_rung(exercise, None, {rungs[0].names[0]: len(rungs[0].steps)}) is rungs[1]
    assert choose_rung(exercise, "dx", {}) is exercise.derive.rung("dx")


def test_backprop_reads_delta3_as_the_output_error_in_three_layers_and_a_hidden_one_in_four():
    exercise = find_exercise("backprop")
    three, four = exercise.cases()[:2]
    assert exercise.derive.rung("delta3", three.dims).names == ("delta_out",)
    assert exercise.derive.rung("delta3", four.dims).names == ("delta_hidden",)
    assert exercise.derive.rung("delta4", four.dims).names == ("delta_out",)


def test_a_hand_edited_level_or_step_count_falls_back_to_guided_and_none(tmp_path):
    import json

    (tmp_path / "progress.json").write_text(json.dumps({"schema": 1, "data": {"exercises": {
        "layernorm": {"level": "ninja", "derive_hints": {"dx": "two", "dw": 2, "db": -1}, "tries": 3},
        "softmax": {"level": "derive", "derive_hints": [1, 2]}}}}))
    progress = PracticeProgress.load(tmp_path, "progress.json")
    assert progress.level("layernorm") == "guided" and progress.state("layernorm").derive_hints == {"dw": 2}
    assert progress.state("layernorm").tries == 3
    assert progress.level("softmax") == "derive" and progress.state("softmax").derive_hints == {}


# -- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def derive_workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "--level", "derive")
    assert result.exit_code == 0, result.output
    return tmp_path / "kqv-practice"


def test_init_at_derive_writes_derive_starters_records_and_lists_the_level(derive_workspace):
    progress = PracticeProgress.for_workspace(find_workspace())
    for exercise in load_exercises():
        level = "derive" if exercise.derive is not None else "guided"
        written = (derive_workspace / f"{exercise.name}.py").read_text()
        assert written == starter_file(exercise, level).read_text()
        assert progress.level(exercise.name) == level
    listing = invoke("list").output
    row = next(line for line in listing.splitlines() if " layernorm " in line)
    assert "derive" in row
    assert "guided" in next(line for line in listing.splitlines() if " feedforward " in line)


def test_init_again_never_changes_a_files_level_and_records_what_it_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert invoke("init").exit_code == 0  # guided
    folder = tmp_path / "kqv-practice"
    (folder / "softmax.py").unlink()
    result = invoke("init", "--level", "derive")
    assert result.exit_code == 0, result.output
    softmax, layernorm = find_exercise("softmax"), find_exercise("layernorm")
    assert (folder / "softmax.py").read_text() == starter_file(softmax, "derive").read_text()
    assert (folder / "layernorm.py").read_text() == starter_file(layernorm).read_text()  # kept
    assert "at the derive level: softmax" in result.output
    assert "kept at the guided level" in result.output and "layernorm" in result.output
    progress = PracticeProgress.for_workspace(find_workspace())
    assert progress.level("softmax") == "derive" and progress.level("layernorm") == "guided"
    (folder / "softmax.py").unlink()
    assert invoke("init").exit_code == 0  # written again, at the guided level this time
    assert (folder / "softmax.py").read_text() == starter_file(softmax).read_text()
    assert PracticeProgress.for_workspace(find_workspace()).level("softmax") == "guided"


def test_switching_level_keeps_an_edited_file_as_a_backup_and_an_untouched_one_not(derive_workspace):
    file = derive_workspace / "layernorm.py"
    result = invoke("level", "layernorm", "guided")  # the derive starter, untouched: no backup
    assert result.exit_code == 0, result.output
    assert file.read_text() == starter_file(find_exercise("layernorm")).read_text()
    assert not list(derive_workspace.glob("layernorm.py.*.bak"))
    assert PracticeProgress.for_workspace(find_workspace()).level("layernorm") == "guided"
    file.write_text("# my half-done derivation\n")
    result = invoke("level", "layernorm", "derive")
    assert result.exit_code == 0, result.output
    backups = list(derive_workspace.glob("layernorm.py.*.bak"))
    assert [b.read_text() for b in backups] == ["# my half-done derivation\n"]
    assert backups[0].name in result.output
    assert file.read_text() == starter_file(find_exercise("layernorm"), "derive").read_text()
    file.write_text("# mine again\n")
    result = invoke("level", "layernorm", "guided", "--keep-file")
    assert result.exit_code == 0 and file.read_text() == "# mine again\n"
    assert "guided" in invoke("level", "layernorm").output
    assert invoke("reset", "layernorm").exit_code == 0  # reset writes the recorded level's starter
    assert file.read_text() == starter_file(find_exercise("layernorm")).read_text()


def test_a_level_an_exercise_lacks_or_no_such_level_is_one_line_and_exit_2(derive_workspace):
    for args in (("level", "feedforward", "derive"), ("level", "layernorm", "ninja"),
                 ("init", "--level", "ninja")):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "layernorm" in invoke("level", "feedforward", "derive").output  # names those that have one
    assert (derive_workspace / "feedforward.py").read_text() == \
        starter_file(find_exercise("feedforward")).read_text()


def test_cli_hint_at_derive_checks_the_file_and_steps_the_failing_variable(derive_workspace):
    exercise = find_exercise("layernorm")
    result = invoke("hint", "layernorm")
    assert result.exit_code == 0 and "not written yet" in result.output
    assert "step 1 of" in result.output and "mean, var" in result.output
    mutated(exercise, "the mean terms left out", derive_workspace)
    check = invoke("check", "layernorm", "--seed", "0")
    assert check.exit_code == 1 and "the mean terms left out" in check.output
    assert "mean(dx̂)" not in check.output and "look at how the engine" not in check.output
    first, second = invoke("hint", "layernorm").output, invoke("hint", "layernorm").output
    assert "failing now at dx" in first and "step 1 of 4 for dx" in first
    assert "step 2 of 4 for dx" in second
    mutated(exercise, "dw without x̂", derive_workspace)  # now dw fails: its own rung, from step 1
    assert "step 1 of 3 for dw" in invoke("hint", "layernorm").output
    state = PracticeProgress.for_workspace(find_workspace()).state("layernorm")
    assert state.derive_hints == {"mean": 1, "dx": 2, "dw": 1} and state.hints_used == 4
    (derive_workspace / "layernorm.py").write_text(solution_file(exercise).read_text())
    assert invoke("check", "layernorm").exit_code == 0
    assert "passed (derived)" in invoke("list").output


# -- the Practice screen ---------------------------------------------------------------------


async def wait_for(pilot, condition, seconds: float = 120.0) -> None:  # a hang guard, no budget
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
        await pilot.pause()


@pytest.mark.slow
@pilot_test
async def test_the_screen_switches_level_with_d_and_hints_for_the_failing_variable(tmp_path):
    from test_practice_screen import PracticeHost
    from textual.widgets import Static

    from kqv_cli.tui.screens.practice_picker import PracticePicker

    folder = init_workspace(tmp_path / "ws").folder
    exercise = find_exercise("layernorm")
    mutated(exercise, "the mean terms left out", folder)
    host = PracticeHost(exercise="layernorm", folder=folder)
    notes = record_notes(host)
    async with host.run_test(size=(100, 34)) as pilot:
        screen = host.screen
        await wait_for(pilot, lambda: screen.report is not None and not screen.checking)
        assert " guided " in str(screen.query_one("#practice-bar", Static).render())
        await pilot.press("d")
        await pilot.pause()
        assert PracticeProgress.for_workspace(Workspace(folder)).level("layernorm") == "derive"
        assert (folder / "layernorm.py").read_text() == starter_file(exercise, "derive").read_text()
        backups = list(folder.glob("layernorm.py.*.bak"))
        assert len(backups) == 1 and any(backups[0].name in note for note in notes)
        assert " derive " in str(screen.query_one("#practice-bar", Static).render())
        backups[0].replace(folder / "layernorm.py")  # the learner's wrong solution back, at derive
        await wait_for(pilot, lambda: screen.report is not None and not screen.checking
                       and screen.report.status == "failing")
        await pilot.press("h")
        await pilot.pause()
        hint = str(screen.query_one("#practice-hint", Static).render())
        assert "step 1 of 4 for dx" in hint and "failing now at dx" in hint
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(host.screen, PracticePicker)
        row = str(host.screen.row(9, exercise))
        assert "derive" in row
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("n")  # heads has no derive level: d says so and changes nothing
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert any("no derive level" in note for note in notes)
        assert PracticeProgress.for_workspace(Workspace(folder)).level(screen.exercise.name) == "guided"
