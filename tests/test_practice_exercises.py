"""Every registered practice exercise is consistent (rustlings' `dev check`, for kqv).

For each exercise lessons/curriculum.py lists (the GPT ones too, as they are added):
the untouched starter fails with "not written yet", the reference solution passes on every
input set, and each named mistake, written into the solution as code by its mutation, is
recognised by name at the variable it first makes wrong. The expected values always come from
the engine's trace; the input sets' dimensions must differ pairwise so shapes read one way.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.trace import eval_dim
from kqv_cli.practice.grader import check_file
from lessons import curriculum
from lessons.practice import PRACTICE_DIR, lesson_step, load_exercises, solution_file, starter_file

EXERCISES = load_exercises()
# the random input set's seed: fixed here so the suite gives the same answer every run (a sweep
# over seeds 100-103 and 200-205 found every solution passing and every mistake named)
SEED = 0
MISTAKES = [(e, m) for e in EXERCISES for m in e.mistakes]


def ids(value):
    return value.name if hasattr(value, "name") else None


def test_exercises_are_listed_in_lesson_order_with_unique_names():
    names = [e.name for e in EXERCISES]
    assert names[:2] == ["sigmoid", "feedforward"]
    assert len(set(names)) == len(names)
    # the curriculum lists each lesson's exercises in the order of the steps they follow
    for lesson in curriculum.CURRICULUM:
        numbers = [lesson_step(e)[0] for e in EXERCISES if e.lesson == lesson.id]
        assert numbers == sorted(numbers), f"reorder {lesson.id}'s practice line by step: {numbers}"


def test_every_exercise_folder_is_on_a_line_of_the_curriculum():
    folders = {f.name for f in PRACTICE_DIR.iterdir() if (f / "spec.py").is_file()}
    assert folders == set(curriculum.EXERCISES), "add the folder's name to its lesson's practice=(...)"


@pytest.mark.parametrize("exercise", EXERCISES, ids=ids)
def test_exercise_is_well_formed(exercise):
    assert exercise.phase in ("forward", "backward")
    assert lesson_step(exercise) is not None, f"no step {exercise.step!r} in lessons/{exercise.lesson}.md"
    assert len(exercise.hints) == 3 and all(h.strip() for h in exercise.hints)
    assert exercise.mistakes, "each exercise names at least one common mistake"
    assert exercise.function in starter_file(exercise).read_text(encoding="utf-8")
    cases = exercise.cases()
    assert len(cases) >= 2, "several input sets, so a solution cannot fit one by accident"
    for case in cases:
        sizes = [v for v in case.dims.values()]
        assert len(set(sizes)) == len(sizes), f"dims must differ pairwise: {case.dims}"
        assert 1 not in sizes
        assert case.expected, "something to grade"
        for record in case.expected:
            assert not np.isnan(record.value).any(), record.name  # ±inf only where a mask puts it
            assert tuple(eval_dim(s, case.dims) for s in record.symbolic) == record.shape, record.name
        names = [r.name for r in case.expected]
        assert len(set(names)) == len(names), f"graded names repeat: {names}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=ids)
def test_untouched_starter_fails_as_not_written_yet(exercise):
    report = check_file(exercise, starter_file(exercise))
    assert report.status == "not_written", report.story
    assert "not written yet" in report.story[0]


@pytest.mark.parametrize("exercise", EXERCISES, ids=ids)
def test_reference_solution_passes(exercise):
    report = check_file(exercise, solution_file(exercise), seed=SEED)
    assert report.passed, report.story
    assert [r.name for r in report.rows] == [r.name for r in exercise.cases()[0].expected]


@pytest.mark.parametrize(("exercise", "mistake"), MISTAKES,
                         ids=[f"{e.name}-{m.name}" for e, m in MISTAKES])
def test_each_mistake_written_as_code_is_recognised_by_name(exercise, mistake, tmp_path):
    source = solution_file(exercise).read_text(encoding="utf-8")
    old, new = mistake.mutation
    assert source.count(old) == 1, f"the mutation's text must occur once in solution.py: {old!r}"
    file = tmp_path / f"{exercise.name}.py"
    file.write_text(source.replace(old, new), encoding="utf-8")
    report = check_file(exercise, file, seed=SEED)
    assert report.status == "failing", report.story
    row = report.first_wrong
    assert row.mistake is not None and row.mistake.name == mistake.name, report.story
    assert row.name in mistake.wrong(exercise.cases()[report.case])
    assert mistake.name in " ".join(report.story)
