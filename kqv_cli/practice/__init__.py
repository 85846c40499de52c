"""Practice: the learner writes the engine's functions; kqv grades them variable by variable.

* :mod:`~kqv_cli.practice.workspace`: the learner's folder of exercise files (init, find, reset);
* :mod:`~kqv_cli.practice.grader`: runs the engine and the learner's file, compares each variable;
* :mod:`~kqv_cli.practice.runner` and :mod:`~kqv_cli.practice.harness`: the child process;
* :mod:`~kqv_cli.practice.practice_progress`: passed, tries, hints used, the level, in the state store;
* :mod:`~kqv_cli.practice.levels`: guided or derive, and which derive step comes next.

No Textual here: ``kqv practice check`` works piped and in CI. The exercises themselves live
beside the lessons, in ``lessons/practice/``.
"""
