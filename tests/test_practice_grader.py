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


def test_a_transposed_z_is_caught_by_shape_and_later_variables_are_graded_on_the_engine_values(tmp_path):
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
    assert [(r.name, r.verdict) for r in report.rows] == [("z2", "shape"), ("a2", "ok"), ("z3", "shape"),
                                                         ("a3", "ok")]
    assert report.story[0] == "z2: your shape (4, 5) = (m, n2), the engine's (5, 4) = (n2, m)"
    assert "w2 @ a1 + b2" in report.story[1]  # the engine's formula, from its trace


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
