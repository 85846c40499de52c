"""The GPT exercises beyond the standard checks: overflow, masks, seeded draws, one reference."""

from __future__ import annotations

import textwrap

import numpy as np

from kqv_cli.practice.grader import check_file, relative_error
from lessons.practice import find_exercise, load_exercises

GPT = ("embedding", "sinusoidal", "layernorm", "heads", "softmax", "attention", "sampling",
       "cross_entropy", "adamw", "attention_backward")


def learner(tmp_path, name: str, body: str):
    file = tmp_path / f"{name}.py"
    file.write_text(textwrap.dedent(body), encoding="utf-8")
    return file


def test_the_ten_gpt_exercises_come_after_the_digit_net_in_lesson_order():
    names = [e.name for e in load_exercises()]
    assert set(GPT) <= set(names)
    assert names.index("feedforward") < names.index("embedding") < names.index("attention")
    assert names.index("attention") < names.index("cross_entropy") < names.index("adamw")


def test_a_mask_is_graded_by_where_its_infinities_are():
    masked = np.array([[1.0, -np.inf], [2.0, 3.0]])
    assert relative_error(masked.copy(), masked) == 0.0
    assert relative_error(np.array([[1.0, 5.0], [2.0, 3.0]]), masked) == np.inf
    assert relative_error(np.array([[1.0, -np.inf], [-np.inf, 3.0]]), masked) == np.inf


def test_softmax_without_the_max_overflows_on_the_second_input_set(tmp_path):
    file = learner(tmp_path, "softmax", """
        import numpy as np

        def softmax_forward(x):
            e = np.exp(x)
            return e / e.sum(axis=-1, keepdims=True)

        def softmax_backward(dp, p):
            return p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    """)
    report = check_file(find_exercise("softmax"), file)
    assert report.status == "failing" and report.case == 1  # the first set's scores are small
    assert report.first_wrong.name == "p" and report.first_wrong.verdict == "nonfinite"
    assert "NaN or inf (on input set 2 of 3" in report.story[0]
    assert not report.ungradable  # a wrong answer (exit 1), named as the overflow it is
    assert report.first_wrong.mistake.name == "overflow: the max not subtracted"


def test_a_draw_from_another_generator_is_caught_at_next_id(tmp_path):
    file = learner(tmp_path, "sampling", """
        import numpy as np
        from kqv_practice import show

        def sample_next(logits, temperature, top_k, rng):
            z = show("z", logits / temperature)
            z = show("z_top", np.where(z < np.sort(z)[-top_k], -np.inf, z))
            p = show("p", np.exp(z - z.max()) / np.exp(z - z.max()).sum())
            return int(np.random.default_rng(5).choice(len(p), p=p))
    """)
    report = check_file(find_exercise("sampling"), file)
    assert report.status == "failing"
    assert [r.verdict for r in report.rows[:3]] == ["ok", "ok", "ok"]
    assert report.first_wrong.name == "next_id"
    engine = int(report.exercise.cases()[0].value("next_id"))
    assert report.story[1].startswith(f"you drew {report.first_wrong.scalar}, the engine drew {engine} ")
    assert "the rng the function is given" in report.story[1]


def test_a_shown_variable_is_graded_even_when_the_engines_value_is_returned(tmp_path):
    # show() hands back the engine's rstd; returning it must not hide the learner's own slip
    file = learner(tmp_path, "layernorm", """
        import numpy as np
        from kqv_practice import show

        def layernorm_forward(x, w, b, eps):
            mean = show("mean", x.mean(axis=-1))
            xc = x - mean[:, None]
            var = show("var", (xc * xc).mean(axis=-1))
            rstd = show("rstd", 1.0 / np.sqrt(var + 2 * eps))
            xhat = show("xhat", xc * rstd[:, None])
            return xhat * w + b, xhat, rstd

        def layernorm_backward(dout, xhat, rstd, w):
            dxhat = show("dxhat", dout * w)
            dx = rstd[:, None] * (dxhat - dxhat.mean(-1, keepdims=True)
                                  - xhat * (dxhat * xhat).mean(-1, keepdims=True))
            return dx, (dout * xhat).sum(0), dout.sum(0)
    """)
    report = check_file(find_exercise("layernorm"), file)
    assert report.first_wrong is not None and report.first_wrong.name == "rstd", report.story


def test_every_gpt_exercise_grades_engine_records_with_their_formulas():
    for name in GPT:
        for case in find_exercise(name).cases():
            assert all(r.formula and r.source.startswith("engine/") for r in case.expected), name


def test_every_exercise_follows_a_step_its_lesson_has():
    from lessons.loader import load_lessons

    steps = {lesson.id: {step.id for step in lesson.steps} for lesson in load_lessons()}
    for exercise in load_exercises():
        assert exercise.step in steps.get(exercise.lesson, ()), (exercise.name, exercise.step)


def test_a_forward_is_graded_before_its_backward_is_written(tmp_path):
    file = learner(tmp_path, "softmax", """
        import numpy as np

        def softmax_forward(x):
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        def softmax_backward(dp, p):
            raise NotImplementedError("softmax_backward is not written yet")
    """)
    report = check_file(find_exercise("softmax"), file)
    assert report.status == "failing"
    assert [(r.name, r.verdict) for r in report.rows] == [("p", "ok"), ("dx", "missing")]
    assert "softmax_backward is not written yet" in report.story[0]


def test_finite_differences_of_the_learners_own_forward_say_the_backward_is_the_one_wrong(tmp_path):
    file = learner(tmp_path, "softmax", """
        import numpy as np

        def softmax_forward(x):
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        def softmax_backward(dp, p):
            return p * dp  # the Σ term left out
    """)
    report = check_file(find_exercise("softmax"), file)
    assert report.first_wrong.name == "dx"
    assert ("finite differences of your own softmax_forward agree with the engine's dx" in report.story[-1]
            and report.story[-1].endswith("the slip is in softmax_backward"))


def test_a_gradient_that_is_not_the_slope_of_the_learners_forward_fails_even_when_values_match(tmp_path):
    """float32 inside the forward: p rounds to the engine's within rtol, but its slope is noise."""
    file = learner(tmp_path, "softmax", """
        import numpy as np

        def softmax_forward(x):
            x = x.astype(np.float32)
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return (e / e.sum(axis=-1, keepdims=True)).astype(np.float64)

        def softmax_backward(dp, p):
            return p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    """)
    report = check_file(find_exercise("softmax"), file, seed=0)  # float32 p can miss rtol on some random sets
    assert report.status == "failing" and all(r.ok for r in report.rows)
    assert report.story[0].startswith("dx matches the engine, but not finite differences of your own "
                                      "softmax_forward")


def test_a_third_input_set_of_random_sizes_catches_a_solution_fitted_to_the_two_fixed_ones(tmp_path):
    from lessons.practice.random_sets import random_gpt_dims

    seed = next(s for s in range(1000) if random_gpt_dims(s)["B"] == 4)
    file = learner(tmp_path, "softmax", """
        import numpy as np

        def softmax_forward(x):
            T = {2: 5, 3: 7}[x.shape[0]]  # fitted to the fixed sets: B=2 has T=5, B=3 has T=7
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)[..., :T, :]

        def softmax_backward(dp, p):
            return p * (dp - (dp * p).sum(axis=-1, keepdims=True))
    """)
    report = check_file(find_exercise("softmax"), file, seed=seed)
    assert report.status == "error" and (report.case, report.cases, report.seed) == (2, 3, seed)
    assert "input set 3 of 3" in " ".join(report.story) or "KeyError" in report.story[0]
    assert report.story[-1] == (f"that set's sizes were drawn at random: `kqv practice check softmax "
                                f"--seed {seed}` draws them again")
    sizes = list(random_gpt_dims(seed).values())
    assert len(set(sizes)) == len(sizes) and 1 not in sizes  # still read as letters one way
    again = check_file(find_exercise("softmax"), file, seed=seed)
    assert again.story == report.story and again.dims == report.dims  # the seed replays it


def test_the_oracle_names_the_backward_function_of_the_gradient_that_differs(tmp_path):
    from lessons.practice import solution_file

    exercise = find_exercise("label_smoothing")
    mistake = next(m for m in exercise.mistakes if m.name == "the gradient not divided by n")
    file = tmp_path / "label_smoothing.py"
    file.write_text(solution_file(exercise).read_text().replace(*mistake.mutation))
    report = check_file(exercise, file, seed=0)
    assert report.story[-1].startswith("finite differences of your own smoothed_cross_entropy_forward "
                                       "agree with the engine's dlogits")
    assert report.story[-1].endswith("the slip is in smoothed_cross_entropy_backward")
