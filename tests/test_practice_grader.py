"""The grader and the child harness on learner files written to go wrong in one way each."""

from __future__ import annotations

import os
import textwrap
import time

import pytest

from kqv_cli.practice.grader import check_file, letters
from kqv_cli.practice.runner import run_learner
from lessons.practice import find_exercise

FEEDFORWARD = find_exercise("feedforward")


def learner(tmp_path, body: str, name: str = "feedforward.py"):
    file = tmp_path / name
    file.write_text(textwrap.dedent(body), encoding="utf-8")
    return file


def test_letters_read_a_shape_through_the_dims():
    assert letters((4, 5), {"n1": 7, "n2": 5, "n3": 3, "m": 4}) == "(m, n2)"
    assert letters((5, 1), {"n2": 5, "m": 4}) == "(n2, 1)"
    assert letters((), {"m": 4}) == "()"


def test_a_transposed_z_stops_the_run_at_its_show_with_the_readme_message(tmp_path):
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def feedforward(a, weights, biases):
            for l, (w, b) in enumerate(zip(weights, biases), start=2):
                z = show(f"z{l}", (w @ a + b).T)
                a = show(f"a{l}", 1 / (1 + np.exp(-z)))
            return a
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.status == "failing"
    assert [(r.name, r.verdict) for r in report.rows] == [("z2", "shape"), ("a2", "missing"),
                                                         ("z3", "missing"), ("a3", "missing")]
    assert report.first_wrong.name == "z2" and report.summary() == "failing at z2: wrong shape"
    assert report.story[0] == "z2: your shape (4, 5) = (m, n2), the engine's (5, 4) = (n2, m)"
    assert "w2 @ a1 + b2" in report.story[1]  # the engine's formula, from its trace


def test_examples_in_rows_stop_at_the_first_show_instead_of_crashing_a_line_later(tmp_path):
    """The PyTorch habit: fed the engine's (n2, m) back, the next layer's a @ w.T would crash and
    the report would show the engine's shape as the learner's."""
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def feedforward(a, weights, biases):
            a = a.T  # (m, n1): one example per row
            for l, (w, b) in enumerate(zip(weights, biases), start=2):
                z = show(f"z{l}", a @ w.T + b.T)
                a = show(f"a{l}", 1 / (1 + np.exp(-z)))
            return a.T
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.status == "failing" and report.kind == ""
    assert report.story[0] == "z2: your shape (4, 5) = (m, n2), the engine's (5, 4) = (n2, m)"


def test_a_keepdims_slip_stops_at_its_show(tmp_path):
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def layernorm_forward(x, w, b, eps):
            mean = show("mean", x.mean(axis=-1, keepdims=True))
            xc = x - mean
            var = show("var", (xc * xc).mean(axis=-1))
            rstd = show("rstd", 1.0 / np.sqrt(var + eps))
            xhat = show("xhat", xc * rstd[:, None])
            return xhat * w + b, xhat, rstd

        def layernorm_backward(dout, xhat, rstd, w):
            raise NotImplementedError
    """, name="layernorm.py")
    report = check_file(find_exercise("layernorm"), file)
    assert report.status == "failing"
    assert report.story[0] == "mean: your shape (10, 1) = (N, 1), the engine's (10,) = (N,)"


def test_a_second_show_of_a_name_is_an_error_and_the_first_value_is_the_one_kept(tmp_path):
    """show() hands the engine's value back: showing it again under the same name would pass
    with no maths at all."""
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def feedforward(a, weights, biases):
            for l, (w, b) in enumerate(zip(weights, biases), start=2):
                z = show(f"z{l}", np.zeros((w.shape[0], a.shape[1])))
                z = show(f"z{l}", z)
                a = show(f"a{l}", np.zeros_like(z))
                a = show(f"a{l}", a)
            return a
    """)
    report = check_file(FEEDFORWARD, file)
    assert not report.passed and report.kind == "bad_show" and report.ungradable
    assert report.story == [f"{file}: show('z2', ...) was called a second time; hand each variable in "
                            "once (the first value shown is the one graded)"]


def test_show_of_none_stops_the_run_and_cannot_fetch_the_engines_value(tmp_path):
    file = learner(tmp_path, """
        from kqv_practice import show

        def feedforward(a, weights, biases):
            for l in range(2, len(weights) + 2):
                show(f"z{l}", show(f"z{l}", None))
                a = show(f"a{l}", show(f"a{l}", None))
            return a
    """)
    report = check_file(FEEDFORWARD, file)
    assert not report.passed and report.kind == "bad_show"
    assert "show('z2', ...) got None, which is not an array of numbers" in report.story[0]


@pytest.mark.parametrize("imports", ["from engine.layers import softmax_forward, softmax_backward",
                                     "import lessons.practice.softmax.solution as s\n"
                                     "softmax_forward = s.softmax_forward\n"
                                     "softmax_backward = s.softmax_backward"])
def test_the_learners_file_cannot_import_kqvs_own_code(tmp_path, imports):
    file = learner(tmp_path, imports + "\n", name="softmax.py")
    report = check_file(find_exercise("softmax"), file)
    assert not report.passed and report.kind == "refused_import" and report.ungradable
    assert len(report.story) == 1
    assert "part of kqv itself" in report.story[0] and "cannot use kqv's own code" in report.story[0]


def test_a_numpy_error_on_the_second_input_set_reads_shapes_with_that_sets_sizes(tmp_path):
    """A mask hard-coded for T = 5 breaks on set 2 (T = 7); read with set 1's sizes, (5, 5)
    would be (T, T) and look right."""
    file = learner(tmp_path, """
        import math
        import numpy as np

        def attention_forward(q, k, v):
            att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
            future = np.triu(np.ones((5, 5), dtype=bool), k=1)
            att = np.where(future, -np.inf, att)
            e = np.exp(att - att.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True) @ v
    """, name="attention.py")
    report = check_file(find_exercise("attention"), file)
    assert report.status == "error" and report.case == 1
    assert "  on input set 2 of 3 (B=3, nh=2, T=7, hs=5, C=10):" in report.story
    assert "    future: (5, 5) = (hs, hs)" in report.story
    assert "    att: (3, 2, 7, 7) = (B, nh, T, T)" in report.story


def test_a_return_changed_after_its_show_is_still_graded(tmp_path):
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def feedforward(a, weights, biases):
            for l, (w, b) in enumerate(zip(weights, biases), start=2):
                z = show(f"z{l}", w @ a + b)
                a = show(f"a{l}", 1 / (1 + np.exp(-z)))
            return 2 * a
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.first_wrong.name == "a3" and report.first_wrong.verdict == "values"


def test_a_variable_not_handed_in_is_named_with_the_show_call(tmp_path):
    file = learner(tmp_path, """
        import numpy as np

        def feedforward(a, weights, biases):
            for w, b in zip(weights, biases):
                a = 1 / (1 + np.exp(-(w @ a + b)))
            return a
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.first_wrong.name == "z2" and report.first_wrong.verdict == "missing"
    assert 'show("z2", z2)' in report.story[0]


def test_numpy_shape_error_names_the_line_and_each_operand_in_numbers_and_letters(tmp_path):
    file = learner(tmp_path, """
        def feedforward(a, weights, biases):
            for w, b in zip(weights, biases):
                z = a @ w + b
            return z
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.status == "error" and not report.ungradable
    assert report.story[0].startswith(f"{file}:4: ValueError: matmul")
    assert "    a: (7, 4) = (n1, m)" in report.story
    assert "    w: (5, 7) = (n2, n1)" in report.story


def test_an_endless_loop_times_out_with_one_line(tmp_path):
    file = learner(tmp_path, """
        def feedforward(a, weights, biases):
            while True:
                pass
    """)
    report = check_file(FEEDFORWARD, file, timeout=1.0)
    assert report.kind == "timeout"
    assert "longer than 1 s" in report.story[0]


def test_a_flood_of_output_is_cut_at_64_kb(tmp_path):
    file = learner(tmp_path, """
        def feedforward(a, weights, biases):
            while True:
                print("x" * 1000)
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.kind == "flood" and "64 KB" in report.story[0]
    assert len(report.output) <= 64 * 1024


def test_exit_and_a_print_are_reported_not_obeyed(tmp_path):
    file = learner(tmp_path, """
        import sys
        print("top-level code runs once")

        def feedforward(a, weights, biases):
            sys.exit(3)
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.kind == "exit" and "called exit" in report.story[0]
    assert "top-level code runs once" in report.output


def test_the_child_gets_one_blas_thread_and_a_memory_cap(tmp_path):
    file = learner(tmp_path, """
        import os
        import resource

        def feedforward(a, weights, biases):
            print(os.environ["OPENBLAS_NUM_THREADS"], resource.getrlimit(resource.RLIMIT_AS)[0])
            return a
    """)
    child = run_learner(file, FEEDFORWARD.cases(), memory_mb=900)
    assert child.status == "ok"
    assert child.output.split("\n")[0] == f"1 {900 * 1024 * 1024}"


REPORT_OK = 'open(os.path.join(job, "result.json"), "w").write(json.dumps({"status": "ok"}))\n'
LEAVES = {
    "not JSON": 'open(os.path.join(job, "result.json"), "w").write("{oops")',
    "a report of the wrong types": ('open(os.path.join(job, "result.json"), "w").write(json.dumps('
                                    '{"status": "error", "line": "7", "operands": {"a": "no shape"}}))'),
    "an unknown status": 'open(os.path.join(job, "result.json"), "w").write(json.dumps({"status": []}))',
    "a FIFO": 'os.mkfifo(os.path.join(job, "result.json"))',
    "a link to /dev/zero": 'os.symlink("/dev/zero", os.path.join(job, "result.json"))',
    "an object array": (REPORT_OK + '        import numpy as np\n'
                        '        np.savez(os.path.join(job, "results.npz"), **{"0/return/a": '
                        'np.array([{}, 1], dtype=object)})'),
    "an array of another name": (REPORT_OK + '        import numpy as np\n'
                                 '        np.savez(os.path.join(job, "results.npz"), x=np.zeros(2))'),
}


@pytest.mark.parametrize("what", LEAVES)
def test_what_the_learners_code_leaves_in_the_job_folder_is_not_trusted(tmp_path, what):
    file = learner(tmp_path, f"""
        import json, os, sys
        job = sys.argv[1]  # the harness's job folder: the learner's code can write there
        {LEAVES[what]}
        os._exit(0)  # before the harness writes its own report
    """)
    report = check_file(FEEDFORWARD, file, timeout=20)
    assert report.kind == "crash" and not report.passed
    assert "could not read what your code's process left behind" in report.story[0]


@pytest.mark.parametrize("how", ["fork", "setsid double fork"])
@pytest.mark.slow
def test_a_process_the_learners_code_starts_does_not_outlive_the_check(tmp_path, how):
    pid_file = tmp_path / "grandchild.pid"
    detach = ("os.setsid()\n                if os.fork():\n                    os._exit(0)" if how != "fork"
              else "pass")
    file = learner(tmp_path, f"""
        import os, time

        def feedforward(a, weights, biases):
            if os.fork() == 0:
                {detach}
                with open({str(pid_file)!r}, "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(120)
                os._exit(0)
            time.sleep(0.5)  # long enough for the grandchild to say who it is
            return a
    """)
    check_file(FEEDFORWARD, file)
    pid = int(pid_file.read_text())
    for _ in range(50):  # SIGKILL is asynchronous: give the kernel a moment
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the grandchild {pid} is still running after the check")


def test_float32_arithmetic_is_named(tmp_path):
    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def layernorm_forward(x, w, b, eps):
            x = x.astype(np.float32)
            mean = show("mean", x.mean(axis=-1))
            xc = x - mean[:, None]
            var = show("var", (xc * xc).mean(axis=-1))
            rstd = show("rstd", 1.0 / np.sqrt(var + eps))
            xhat = show("xhat", xc * rstd[:, None])
            return xhat * w + b, xhat, rstd

        def layernorm_backward(dout, xhat, rstd, w):
            raise NotImplementedError
    """, name="layernorm.py")
    report = check_file(find_exercise("layernorm"), file, seed=0)
    assert report.status == "failing" and report.first_wrong.verdict == "values"
    assert "about what float32 rounding leaves" in report.story[1]

    file = learner(tmp_path, """
        import numpy as np
        from kqv_practice import show

        def feedforward(a, weights, biases):
            for l, (w, b) in enumerate(zip(weights, biases), start=2):
                z = show(f"z{l}", (w @ a + b).astype(np.float16))
                a = show(f"a{l}", 1 / (1 + np.exp(-z)))
            return a
    """)
    report = check_file(FEEDFORWARD, file, seed=0)
    assert "yours is float16, the engine's float64" in " ".join(report.story)


def test_the_memory_cap_is_named_in_the_memoryerror_line(tmp_path):
    file = learner(tmp_path, """
        import numpy as np

        def feedforward(a, weights, biases):
            big = np.ones((1024, 1024, 1024))  # 8 GB
            return a
    """)
    report = check_file(FEEDFORWARD, file)
    assert report.status == "error" and "MemoryError" in report.story[0]
    assert "the check caps your code's process at 1024 MB of memory" in report.story[0]
