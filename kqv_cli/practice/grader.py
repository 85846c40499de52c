"""Grade a learner's exercise file variable by variable against the engine's trace.

The engine runs first (in this process, with a tracer) and gives the expected records; the
learner's functions then run in a child (:mod:`kqv_cli.practice.runner`) on the same inputs.
Each graded variable is compared in the exercise's order: present, then shape, then values
(max relative error). The first one that differs tells the story: its shape in numbers and in
letters, the mistake it matches if it matches a named one, else the engine's formula for it.
Shapes read as letters without doubt because every input set's dimensions differ pairwise.

    report = check_file(find_exercise("feedforward"), Path("kqv-practice/feedforward.py"))
    report.status           # passed | failing | not_written | error
    report.rows             # one Row per graded variable of the case shown
    report.story            # the lines that say what went wrong and what to look at
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.trace import Record, format_shape, format_symbolic
from kqv_cli.practice.runner import MEMORY_MB, TIMEOUT, ChildResult, run_learner
from lessons.practice import Case, Exercise, Mistake
from lessons.practice.random_sets import draw_seed, drawn_with

# Child outcomes that are not a wrong answer but input kqv cannot grade: exit code 2
# (NaN or inf in a variable is a wrong answer, exit 1: softmax without its max overflows)
UNGRADABLE = {"syntax", "missing", "signature", "bad_return", "bad_show", "refused_import"}


@dataclass
class Row:
    """One graded variable: what the engine has, what the learner gave, and the verdict."""

    name: str
    shape: tuple[int, ...]  # the engine's
    symbolic: tuple[str, ...]
    yours: tuple[int, ...] | None  # None: not handed in
    verdict: str  # ok | missing | shape | values | nonfinite
    error: float | None = None  # max relative error, when the shapes agree
    mistake: Mistake | None = None
    dtype: str = ""  # the learner's dtype ("float32"), when handed in
    scalar: float | None = None  # the learner's value, when it is one number (a drawn id)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass
class Report:
    exercise: Exercise
    file: Path
    status: str  # passed | failing | not_written | error
    story: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    dims: dict[str, int] = field(default_factory=dict)
    case: int = 0  # which input set the rows are from
    cases: int = 1
    kind: str = ""  # for errors: the child's status (timeout, syntax, ...) or "nonfinite"
    output: str = ""  # what the learner's code printed
    seed: int | None = None  # the seed of the random input set, when the exercise took one
    stopped: str = ""  # the variable whose shape stopped the run at show(), if one did

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def first_wrong(self) -> Row | None:
        """The first variable that differs; when a shape stopped the run at show(), the variables
        after it are missing only because of that stop, so the stopped one is the story."""
        first = next((r for r in self.rows if not r.ok), None)
        if first is not None and first.verdict == "missing" and self.stopped:
            return next((r for r in self.rows if r.name == self.stopped), first)
        return first

    @property
    def ungradable(self) -> bool:
        """Input kqv cannot grade (a syntax error, a missing function...): exit code 2."""
        return self.kind in UNGRADABLE

    def summary(self) -> str:
        """One line for lists and the progress store."""
        if self.passed:
            return "passed"
        row = self.first_wrong
        if self.status == "failing" and row is not None:
            what = {"missing": "not handed in", "shape": "wrong shape", "values": "wrong values",
                    "nonfinite": "NaN or inf"}[row.verdict]
            named = f" ({row.mistake.name})" if row.mistake else ""
            return f"failing at {row.name}: {what}{named}"
        if self.status == "not_written":
            return "not written yet"
        return self.story[0] if self.story else self.status


def check_file(exercise: Exercise, file: Path, timeout: float = TIMEOUT, seed: int | None = None,
               level: str = "guided") -> Report:
    """Run the engine and the learner's file on the exercise's input sets and compare.

    Beside the fixed sets, most exercises take one of random sizes drawn from ``seed`` (a fresh
    one when None): :mod:`lessons.practice.random_sets`. The report keeps it to replay.
    At the derive ``level`` the story names what is wrong but gives no formula: a mistake by
    its name, and the next derive hint instead of the engine's formula.
    """
    with drawn_with(draw_seed() if seed is None else seed) as draw:
        cases = exercise.cases()
    report = _check_cases(exercise, file, cases, timeout, level)
    if draw.used:
        report.seed = draw.seed
        if report.story and report.passed:
            report.story = [f"passed: every variable matches the engine on all {len(cases)} input sets "
                            f"(the last of random sizes, seed {draw.seed})"]
        elif report.story and report.case == len(cases) - 1:
            report.story.append(f"that set's sizes were drawn at random: `kqv practice check "
                                f"{exercise.name} --seed {draw.seed}` draws them again")
    return report


def _check_cases(exercise: Exercise, file: Path, cases: list[Case], timeout: float, level: str) -> Report:
    child = run_learner(file, cases, timeout=timeout, gradcheck=exercise.gradcheck)
    if child.status != "ok":
        return _child_failed(exercise, file, child, cases)
    stopped_case = _case_index(child, cases)
    shown_rows: list[Row] = []
    for c, case in enumerate(cases):
        rows = [_grade_variable(record, child, c, case, exercise) for record in case.expected]
        shown_rows = shown_rows or rows
        report = Report(exercise, file, "passed", rows=rows, dims=case.dims, case=c, cases=len(cases),
                        output=child.output,
                        stopped=child.detail.get("stopped", "") if c == stopped_case else "")
        first = report.first_wrong
        if first is not None:
            if first.mistake is not None and not _explains_every_set(first, child, cases, exercise):
                first.mistake = None
            report.status = "failing"
            report.kind = "nonfinite" if first.verdict == "nonfinite" else ""
            report.story = _story(first, case, exercise, c, len(cases), child.detail.get("unwritten"), level)
            report.story += _oracle_story(first, child, c, case, exercise)
            return report
    for c, case in enumerate(cases):  # every variable matches the engine: the second oracle too
        disagree = _oracle_disagrees(child, c, exercise)
        if disagree:
            gradient, error = disagree
            return Report(exercise, file, "failing", rows=shown_rows, dims=case.dims, case=c,
                          cases=len(cases), output=child.output,
                          story=[f"{gradient} matches the engine, but not finite differences of your own "
                                 f"{exercise.gradcheck.forward} (max relative error {error:.2g} on "
                                 f"{input_set(c, cases)}): does your forward compute in float64 what "
                                 "the engine's does?"])
    return Report(exercise, file, "passed", rows=shown_rows, dims=cases[0].dims, cases=len(cases),
                  output=child.output,
                  story=[f"passed: every variable matches the engine on all {len(cases)} input sets"])


FD_RTOL = 1e-5  # finite differences in float64 agree with an exact gradient to about 1e-9 here
FD_FLOOR = 1e-3  # the smallest gradient scale errors are measured against


def _fd_error(child: ChildResult, c: int, gradient: str, against: np.ndarray | None) -> float | None:
    """Max error of ``against`` to the finite differences of the learner's forward, relative to
    the gradient's scale but never to less than FD_FLOOR: a softmax near one-hot has gradients of
    1e-16, where both are 0 to the differences' accuracy (about 1e-10 absolute here)."""
    fd = child.fd[c].get(gradient) if c < len(child.fd) else None
    if fd is None or against is None or fd.shape != against.shape:
        return None
    fd, against = fd.astype(np.float64), against.astype(np.float64)
    if not np.isfinite(against).all():
        return float("inf")
    scale = max(float(np.max(np.abs(fd), initial=0.0)), FD_FLOOR)
    return float(np.max(np.abs(against - fd), initial=0.0) / scale)


def _oracle_disagrees(child: ChildResult, c: int, exercise: Exercise) -> tuple[str, float] | None:
    """(gradient, error) when the learner's gradient is not the slope of their own forward."""
    if exercise.gradcheck is None:
        return None
    for _, gradient in exercise.gradcheck.grads:
        error = _fd_error(child, c, gradient, child.returned[c].get(gradient))
        if error is not None and not error <= FD_RTOL:
            return gradient, error
    return None


def _oracle_story(row: Row, child: ChildResult, c: int, case: Case, exercise: Exercise) -> list[str]:
    """Which one disagrees, when a gradient differs from the engine's: finite differences of the
    learner's own forward (float64) side with the engine's gradient, with theirs, or with neither."""
    check = exercise.gradcheck
    if check is None or row.name not in {g for _, g in check.grads} or row.verdict != "values":
        return []
    forward = check.forward
    backward = next((call.function for call in case.calls if row.name in _names(call.returns)),
                    "the backward")
    engine = _fd_error(child, c, row.name, case.value(row.name))
    yours = _fd_error(child, c, row.name, child.returned[c].get(row.name))
    if engine is None or yours is None:
        return []
    if engine <= FD_RTOL:
        return [f"finite differences of your own {forward} agree with the engine's {row.name} "
                f"(to {engine:.1g}), not with yours: the slip is in {backward}"]
    if yours <= FD_RTOL:
        return [f"finite differences of your own {forward} agree with your {row.name}: {backward} is "
                f"right for your {forward}, and it is {forward} that differs from the engine's"]
    return [f"finite differences of your own {forward} agree with neither your {row.name} nor the "
            f"engine's (max relative errors {yours:.2g} and {engine:.2g}): both functions differ"]


def _names(layout) -> list[str]:
    """The graded names of a return layout ("dx", ["dx", "dw"], [["a"], ["b"]])."""
    return [layout] if isinstance(layout, str) else [n for part in layout for n in _names(part)]


def _explains_every_set(row: Row, child: ChildResult, cases: list[Case], exercise: Exercise) -> bool:
    """A named mistake must fit the learner's value of that variable on every input set that has
    one: there it is either the mistake's value or the engine's. One drawn id from another
    generator can equal the largest p's by chance; on the next set it does not."""
    tol = max(exercise.rtol, 1e-9)
    for c, case in enumerate(cases):
        yours = child.shown[c].get(row.name, child.returned[c].get(row.name))
        if yours is None:
            continue
        try:
            wrong = row.mistake.wrong(case).get(row.name)
        except (KeyError, ValueError):
            continue
        fits_mistake = wrong is not None and wrong.shape == yours.shape and _same(yours, wrong, tol)
        engine = case.value(row.name)
        fits_engine = engine.shape == yours.shape and _same(yours, engine, tol)
        if not (fits_mistake or fits_engine):
            return False
    return True


def _grade_variable(record: Record, child: ChildResult, c: int, case: Case, exercise: Exercise) -> Row:
    """Grade what the learner showed and what they returned under this name; the worse counts.

    ``show`` hands the engine's value back to the learner's code, so a returned value may be
    that fed value: the shown copy is what the learner computed. A return that still differs
    from the engine (changed after the show) is wrong too.
    """
    given = [v[record.name] for v in (child.shown[c], child.returned[c]) if record.name in v]
    rows = [_grade(record, value, case, exercise) for value in given or [None]]
    return next((row for row in rows if not row.ok), rows[0])


def _grade(record: Record, yours: np.ndarray | None, case: Case, exercise: Exercise) -> Row:
    row = Row(record.name, record.shape, record.symbolic, None if yours is None else tuple(yours.shape), "ok")
    if yours is None:
        row.verdict = "missing"
        return row
    row.dtype = str(yours.dtype)
    if yours.ndim == 0:
        row.scalar = yours.item()
    if yours.shape != record.shape:
        row.verdict = "shape"
    elif _nonfinite(yours, record.value):
        row.verdict = "nonfinite"
    else:
        row.error = relative_error(yours, record.value)
        if row.error <= exercise.rtol:
            return row
        row.verdict = "values"
    row.mistake = _named_mistake(record.name, yours, case, exercise)
    return row


def _nonfinite(yours: np.ndarray, expected: np.ndarray) -> bool:
    """NaN, or ±inf where the engine has none. A mask's −inf is part of an answer (att_masked):
    there, −inf in the wrong places is a wrong value, graded (and named) like any other."""
    yours = yours.astype(np.float64)
    return bool(np.isnan(yours).any() or (np.isinf(yours).any() and not np.isinf(expected).any()))


def relative_error(yours: np.ndarray, expected: np.ndarray) -> float:
    """max |yours − expected| / max |expected| (a tiny floor keeps an all-zero answer finite).

    Entries that are ±inf must be the very same in both (a mask); the rest are compared as
    numbers, and a differing ±inf makes the error inf.
    """
    yours, expected = yours.astype(np.float64), expected.astype(np.float64)
    inf = np.isinf(expected) | np.isinf(yours)
    if inf.any():
        if not np.array_equal(yours[inf], expected[inf]):
            return float("inf")
        yours, expected = yours[~inf], expected[~inf]
    diff = np.max(np.abs(yours - expected), initial=0.0)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), 1e-12)
    return float(diff / scale)


def _named_mistake(name: str, yours: np.ndarray, case: Case, exercise: Exercise) -> Mistake | None:
    for mistake in exercise.mistakes:
        try:
            wrong = mistake.wrong(case).get(name)
        except (KeyError, ValueError):  # the mistake reads a variable this case does not have
            continue
        if wrong is not None and wrong.shape == yours.shape and _same(yours, wrong, max(exercise.rtol, 1e-9)):
            return mistake
    return None


def _same(yours: np.ndarray, wrong: np.ndarray, tol: float) -> bool:
    """Equal within ``tol``, NaN where the mistake has NaN (an overflowing softmax is named too)."""
    nan_yours, nan_wrong = np.isnan(yours.astype(np.float64)), np.isnan(wrong.astype(np.float64))
    if not np.array_equal(nan_yours, nan_wrong):
        return False
    return relative_error(yours[~nan_yours], wrong[~nan_wrong]) <= tol


# -- the story ------------------------------------------------------------------------------


def letters(shape: tuple[int, ...], dims: dict[str, int]) -> str:
    """``(4, 5)`` read with ``{"n2": 5, "m": 4}``: ``(m, n2)``; a number no dim has stays a number."""
    by_size = {}
    for name, size in dims.items():
        by_size.setdefault(size, name)
    return format_symbolic(tuple(by_size.get(n, str(n)) for n in shape))


def shape_text(row: Row) -> str:
    """The engine's shape in numbers and letters: ``(5, 4) = (n2, m)``."""
    if not row.symbolic:
        return "()"
    return f"{format_shape(row.shape)} = {format_symbolic(row.symbolic)}"


def _story(row: Row, case: Case, exercise: Exercise, c: int, n_cases: int,
           unwritten: str | None = None, level: str = "guided") -> list[str]:
    record = next(r for r in case.expected if r.name == row.name)
    where = "" if c == 0 else (f" (on input set {c + 1} of {n_cases}: "
                               + ", ".join(f"{k}={v}" for k, v in case.dims.items()) + ")")
    if row.verdict == "missing" and unwritten:
        lines = [f"{row.name}: not handed in{where}: {unwritten} is not written yet; everything "
                 "before it matches the engine"]
    elif row.verdict == "missing":
        lines = [f"{row.name}: not handed in{where}. Return it, or hand it in with "
                 f'show("{row.name}", {_identifier(row.name)}).']
    elif row.verdict == "nonfinite":
        finite = "finite apart from the mask's −inf" if np.isinf(record.value).any() else "all finite"
        lines = [f"{row.name} holds NaN or inf{where}; the engine's values are {finite}"]
    elif row.verdict == "shape":
        lines = [f"{row.name}: your shape {format_shape(row.yours)} = {letters(row.yours, case.dims)}, "
                 f"the engine's {shape_text(row)}{where}"]
    else:
        lines = [f"{row.name}: the right shape {shape_text(row)}, wrong values "
                 f"(max relative error {row.error:.2g}){where}"]
    if level == "derive" and exercise.derive is not None and row.verdict != "missing":
        # the mistake's name, never the formula its hint (or the engine's record) gives
        if row.mistake is None and row.verdict == "values" and record.value.dtype == np.float64:
            lines.extend(_precision(row))
        named = f'this is the mistake "{row.mistake.name}". ' if row.mistake is not None else ""
        lines.append(f"{named}`kqv practice hint {exercise.name}` gives the next step for {row.name} "
                     "(the derive level: no formula here)")
    elif row.mistake is not None:
        lines.append(f'this is the mistake "{row.mistake.name}": {row.mistake.hint}')
    elif row.verdict == "values" and (note := dict(exercise.notes).get(row.name)):
        lines.append(note.format(yours=_number(row.scalar), engine=_number(record.value)))
    elif row.verdict != "missing":
        if row.verdict == "values" and record.value.dtype == np.float64:
            lines.extend(_precision(row))
        lines.append(f"look at how the engine computes it: {record.formula}  ({record.source})")
    return lines


def _precision(row: Row) -> list[str]:
    """float32 arithmetic: the learner's dtype, or an error the size of float32's rounding."""
    if row.dtype in ("float32", "float16"):
        return [f"yours is {row.dtype}, the engine's float64: {row.dtype} keeps about "
                f"{7 if row.dtype == 'float32' else 3} digits, too few to match; compute in float64 "
                "(no dtype=np.float32, no .astype(np.float32))"]
    if row.error is not None and row.error < 1e-5:
        return [f"yours differs from the engine's by {row.error:.1g} only, about what float32 "
                "rounding leaves: is something on the way computed in float32 (dtype=np.float32, "
                ".astype(np.float32))? The engine's are float64."]
    return []


def _number(value) -> str:
    """A number as the learner would write it: 4, not 4.0 or array(4)."""
    value = np.asarray(value).item() if value is not None else None
    return f"{value:g}" if isinstance(value, float) else str(value)


def _identifier(name: str) -> str:
    return name if name.isidentifier() else "value"


def _case_index(child: ChildResult, cases: list[Case]) -> int:
    """The input set the child stopped on (0 when it did not say, or said nonsense)."""
    c = child.detail.get("case", 0)
    return c if isinstance(c, int) and 0 <= c < len(cases) else 0


def input_set(c: int, cases: list[Case]) -> str:
    """``input set 2 of 2 (B=3, nh=2, T=7, ...)``: which set ran, with its sizes."""
    return (f"input set {c + 1} of {len(cases)} ("
            + ", ".join(f"{k}={v}" for k, v in cases[c].dims.items()) + ")")


def _child_failed(exercise: Exercise, file: Path, child: ChildResult, cases: list[Case]) -> Report:
    status = "not_written" if child.status == "not_written" else "error"
    detail = child.detail
    c = _case_index(child, cases)
    dims = cases[c].dims
    if child.status == "not_written":
        story = [f"{detail.get('function', exercise.function)} is not written yet: "
                 f"replace the raise NotImplementedError in {file.name} with your code"]
    elif child.status == "syntax":
        story = [f"{file}:{detail.get('line', 0)}: syntax error: {child.message}"]
    elif child.status == "signature":
        story = [f"{file}: {child.message}"]
    elif child.status == "missing":
        story = [f"{file}: {child.message}; the check calls {detail['function']}(...), keep that name"]
    elif child.status == "error":
        story = explain_error(file, detail, child.message, dims,
                              input_set(c, cases) if len(cases) > 1 else "")
    else:  # timeout, crash, exit, flood, bad_return, bad_show, refused_import
        story = [f"{file}: {child.message}"]
    return Report(exercise, file, status, story=story, dims=dims, case=c, cases=len(cases),
                  kind=child.status, output=child.output)


def explain_error(file: Path, detail: dict, message: str, dims: dict[str, int],
                  which: str = "") -> list[str]:
    """An exception in the learner's code: their file and line, and each operand's shape, read
    as letters with the sizes of the input set that ran (``which`` names it)."""
    kind = detail.get("kind", "Error")
    if kind == "MemoryError":
        message = (f"{message} (the check caps your code's process at {MEMORY_MB} MB of memory: "
                   "an array far larger than the inputs?)").lstrip()
    if not detail.get("line"):
        return [f"{file}: {kind}: {message}" + (f" (at {detail['where']})" if detail.get("where") else "")]
    lines = [f"{file}:{detail['line']}: {kind}: {message}", f"    {detail.get('code', '')}"]
    if which and detail.get("operands"):
        lines.append(f"  on {which}:")
    for name, shape in detail.get("operands", {}).items():
        if shape and isinstance(shape[0], list):
            shapes = ", ".join(f"{format_shape(tuple(s))} = {letters(tuple(s), dims)}" for s in shape)
            lines.append(f"    {name}: a list of {len(shape)}: {shapes}")
        else:
            lines.append(f"    {name}: {format_shape(tuple(shape))} = {letters(tuple(shape), dims)}")
    if kind == "ValueError" and detail.get("operands"):
        lines.append("the shapes above do not fit together: read each as letters and check the rule "
                     "(inner dimensions of @ must agree; broadcasting needs equal sizes or 1)")
    return lines
