"""Run a lesson's steps against the engine and say what the screen should show.

A :class:`LessonSession` holds one lesson, the dimensions the learner chose and a seed. Asking
it for a step (:meth:`LessonSession.run`) runs the step script's engine run for that step's
trace once per (trace, dims, seed) and then only slices the recorded trace, so moving between
steps costs microseconds after the first visit.

What a step shows (a :class:`StepView`): every variable recorded up to the end of the step (the
latest value of each name, in the order they first appeared), which of them this step recorded
(``changed``, to highlight), the engine functions that recorded them with those lines marked
(``code``), and the step's text with its ``{expr}`` filled in for the dims.

Special views a step script may put in ``StepView.extra`` (the keys the TUI knows):

* ``"heatmap": (title, 2-D array, row label, column label)`` e.g. PE over positions x dims,
  optionally followed by a name for each row and each column (the tokens of an attention matrix);
* ``"series": (title, [(x, y), ...], x label, y label)`` e.g. accuracy after each batch;
* ``"attends": (query token, [tokens], weights)`` with weights ``(nh, T)``: how much the query
  token attends to each token, per head;
* ``"side_by_side": ((left title, [Record | None]), (right title, [Record | None]))`` two traces
  in parallel, row i of one beside row i of the other (None: nothing on that side).

An extra may also carry ``"notes": [lines]``; those go to ``StepView.notes`` of the steps that
ask for that extra only (the run's own notes show on every step of its trace). An extra that
costs time to make (a second model trained for a comparison) may be given as a function
returning that dict: it runs only when a step asks for it.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from dataclasses import dataclass, field
from typing import cast

from engine.errors import KqvError
from engine.runtime.blas import blas_threads
from engine.trace import Record, eval_dim, format_shape, format_symbolic
from lessons.code_pane import CodeSpan, code_spans, named_span
from lessons.model import PLACEHOLDER, Lesson, RealTraceFn, Step, StepScript, TraceRun

_CACHE_SIZE = 8  # engine runs kept per session: a few dims/seeds to go back to


@dataclass
class StepView:
    """Everything the lesson screen shows for one step."""

    step: Step  # its markdown already filled in for these dims
    records: list[Record]  # every variable in scope after this step, in order of appearance
    changed: set[str]  # names this step recorded (created or changed)
    code: list[CodeSpan]
    dims: dict[str, int]
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    index: int = 0  # the step's position in the lesson
    problems: list[str] = field(default_factory=list)  # shapes that disagree with the text
    select: str | None = None  # the row to select first: select: of the lesson, else the first named
    tokens: list[list[str]] = field(default_factory=list)  # the words of each batch row (GPT runs)
    source_tokens: list[list[str]] = field(default_factory=list)  # source pieces (encoder-decoder runs)
    pending: list[str] = field(default_factory=list)  # costly extras left out: ``run(i)`` makes them

    @property
    def markdown(self) -> str:
        return self.step.markdown

    def record(self, name: str) -> Record:
        for r in self.records:
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass
class _Plan:
    start: int  # first record of the trace this step adds
    end: int  # one past its last record
    found: dict[str, int]  # shown name -> index of the record the step shows
    missing: list[str]


class LessonSession:
    """One lesson being stepped through, with the learner's dims and seed."""

    def __init__(self, lesson: Lesson, dims: dict | None = None, seed: int = 0, model: str | None = None):
        self.lesson = lesson
        self.script = cast(StepScript, importlib.import_module(f"lessons.steps.{lesson.script}"))
        # the runs a script can also make on a real GPT-2 (StepScript says why it is optional)
        self.real_traces: dict[str, RealTraceFn] = getattr(self.script, "REAL_MODEL_TRACES", {})
        self.seed = int(seed)
        self.model: str | None = None  # a GPT-2 (name or folder) the script's real-model runs use
        self.use_model(model)
        self.dims: dict[str, int] = dict(lesson.default_dims)
        # (trace, dims, seed) -> the engine run and where each of its steps starts and ends
        self._runs: dict[tuple, tuple[TraceRun, list[_Plan | None]]] = {}
        if dims:
            self.set_dims(dims)

    # -- the learner's choices -----------------------------------------------------------

    def set_dims(self, dims: dict) -> dict[str, int]:
        """Change some or all of the lesson's dims; :class:`KqvError` (one line) if invalid.

        Unknown names, non-integers, values outside a field's range and combinations the
        engine cannot build (``C`` not divisible by ``nh``) are refused and nothing changes.
        """
        self.dims = self.checked_dims(dims)
        return dict(self.dims)

    def checked_dims(self, dims: dict) -> dict[str, int]:
        """The dims ``set_dims`` would set, checked the same way, without setting them."""
        fields = {f.name: f for f in self.lesson.dim_fields}
        new = dict(self.dims)
        for name, value in dims.items():
            if name not in self.lesson.default_dims:
                known = ", ".join(self.lesson.default_dims) or "none"
                raise KqvError(f"{self.lesson.id} has no dimension {name!r} (it has {known})")
            f = fields.get(name)
            try:
                number = int(str(value).strip())
            except ValueError:
                called = f"{name} ({f.label})" if f else name
                raise KqvError(f"{called} must be a whole number, not {value!r}") from None
            if f and not f.minimum <= number <= f.maximum:
                raise KqvError(f"{name} ({f.label}) must be between {f.minimum} and {f.maximum}, "
                               f"not {number}")
            new[name] = number
        self.script.full_dims(dict(new))  # raises KqvError for combinations that cannot be built
        return new

    @property
    def offers_model(self) -> bool:
        """True when the step script can run its steps on a real GPT-2 (REAL_MODEL_TRACES)."""
        return bool(self.real_traces)

    def use_model(self, model: str | None) -> None:
        """Run the traces the script can run on a real model on ``model`` (None: its own)."""
        if model is not None and not self.offers_model:
            raise KqvError(f"the {self.lesson.id} lesson runs its own model only; --model is for attention "
                           "(GPT-2) and translation (MarianMT)")
        self.model = None if model is None else str(model)

    def reseed(self) -> int:
        """A new random input (and fresh initial weights) for the ``r`` key."""
        self.seed += 1
        return self.seed

    # -- running steps ---------------------------------------------------------------------

    def on_real_model(self, trace: str) -> bool:
        """True when ``trace`` runs on the real GPT-2 given with ``--model`` (or the g key)."""
        return bool(self.model and self.offers_model and trace in self.real_traces)

    def _threads(self, trace: str) -> int | None:
        """BLAS threads for a run of ``trace``. The lessons' own models are small: one thread runs
        them up to 5x faster than two (the digit step that trains: 90 ms, not 370-590, on a busy
        2-core machine; engine.runtime.blas says why). GPT-2 and MarianMT keep the library's own."""
        return None if self.on_real_model(trace) else 1

    def _run_and_plans(self, trace: str) -> tuple[TraceRun, list[_Plan | None]]:
        real = self.real_traces[trace] if self.on_real_model(trace) else None
        key = (trace, tuple(sorted(self.dims.items())), self.seed, self.model if real else None)
        cached = self._runs.get(key)
        if cached is None:
            with blas_threads(self._threads(trace)):
                run = real(self.model, self.seed) if real else self.script.TRACES[trace](dict(self.dims),
                                                                                         self.seed)
            if len(self._runs) >= _CACHE_SIZE:
                self._runs.pop(next(iter(self._runs)))  # the oldest
            cached = self._runs[key] = (run, _plan_trace(self.lesson, trace, run))
        return cached

    def prefetch(self) -> None:
        """Run every trace of the lesson now (for a background worker), so no step waits.

        The first run of a trace may take a while (the training steps run a few hundred
        mini-batches); after it, any step is a slice.
        """
        for trace in dict.fromkeys(step.trace for step in self.lesson.steps):
            self._run_and_plans(trace)

    def run(self, step_index: int, costly: bool = True) -> StepView:
        """The view of one step (0-based).

        ``costly=False`` leaves out the extras not made yet that are made on demand (a second
        model trained for a comparison, ~0.3 s) and names them in ``StepView.pending``: the
        screen draws the step at once and asks again with them.
        """
        if not 0 <= step_index < len(self.lesson.steps):
            raise KqvError(f"{self.lesson.id} has steps 1..{len(self.lesson.steps)}, not {step_index + 1}")
        step = self.lesson.steps[step_index]
        if self.model and self.offers_model and step.real_markdown:  # GPT-2 is loaded (g, --model)
            step = dataclasses.replace(step, markdown=step.real_markdown)  # the text written for it
        run, plans = self._run_and_plans(step.trace)
        plan = plans[step_index]
        records = run.tracer.records
        scope_end = max(plan.end, plan.start)
        rows = _row_names(records[:scope_end])
        latest: dict[str, Record] = {}
        for r, row in zip(records[:scope_end], rows, strict=True):
            latest[row] = r if row == r.name else dataclasses.replace(r, name=row)
        fresh = list(range(plan.start, plan.end))
        if plan.start == 0 and step_index > 0:
            # the lesson switches to another run: highlight what the step names, not the
            # whole run-up to it that the learner has already seen in the other run
            fresh = sorted(plan.found.values())
        changed = {rows[i] for i in fresh} or {rows[i] for i in plan.found.values()}
        marked = [records[i] for i in fresh] or [records[i] for i in plan.found.values()]
        shown = [name for name in step.show if name in plan.found]
        text = fill_placeholders(step.markdown, run.dims)
        named = [rows[plan.found[name]] for name in first_named(text, shown)]
        if step.select in plan.found:  # the lesson file names it: that before any guess
            named.insert(0, rows[plan.found[step.select]])
        code = [named_span(ref) for ref in step.code] + code_spans(marked)  # named: the step's point
        notes = list(run.notes)
        extra: dict = {}
        pending: list[str] = []
        for name in step.extras:
            if name in run.extras:
                made = run.extras[name]
                if callable(made) and not costly:
                    pending.append(name)
                    continue
                if callable(made):  # a costly view (a model trained to compare) is made on demand
                    with blas_threads(self._threads(step.trace)):
                        made = run.extras[name] = made()  # once per run
                view_of = dict(made)
                notes += view_of.pop("notes", [])  # lines meant for this step only
                extra.update(view_of)
            else:
                notes.append(f"(the step script gave no {name!r} view for these dims)")
        view = StepView(
            step=dataclasses.replace(step, markdown=text),
            records=list(latest.values()),
            changed=changed,
            code=code,
            dims=dict(run.dims),
            notes=notes,
            extra=extra,
            index=step_index,
            select=(named or sorted(changed, key=list(latest).index) or [None])[0],
            tokens=run.tokens,
            source_tokens=run.source_tokens,
            pending=pending,
        )
        view.problems = _step_problems(self.lesson, step, plan, records, run.dims)
        return view

    def check(self) -> list[str]:
        """Every disagreement between the text and the engine, over all steps (none is good)."""
        problems = []
        for i in range(len(self.lesson.steps)):
            try:
                problems += self.run(i).problems
            except KqvError as exc:
                step = self.lesson.steps[i]
                problems.append(f"{self.lesson.path}:{step.line}: step {step.id!r}: {exc}")
        return problems


def check_lesson(lesson: Lesson, dims: dict | None = None, seed: int = 0) -> list[str]:
    """Run every step of ``lesson`` and list each variable missing or shaped unlike the text."""
    return LessonSession(lesson, dims, seed).check()


# -- which records a step shows ----------------------------------------------------------------


def _plan_trace(lesson: Lesson, trace: str, run: TraceRun) -> list[_Plan | None]:
    """Walk the steps of one trace in order; each picks up where the previous one ended."""
    records = run.tracer.records
    plans: list[_Plan | None] = []
    cursor = 0
    for step in lesson.steps:
        if step.trace != trace:
            plans.append(None)
            continue
        found, missing, last = {}, [], -1
        for name in step.show:
            ahead = next((i for i in range(cursor, len(records)) if records[i].name == name), None)
            if ahead is not None:
                found[name] = ahead
                last = max(last, ahead)
                continue
            behind = next((i for i in range(cursor - 1, -1, -1) if records[i].name == name), None)
            if behind is None:
                missing.append(name)
            else:
                found[name] = behind  # a recap: shows a variable an earlier step recorded
        # a step that shows part of an update shows all of it: every parameter moves together
        while 0 <= last < len(records) - 1 and records[last].phase == records[last + 1].phase == "update":
            last += 1
        end = last + 1 if last >= 0 else cursor
        plans.append(_Plan(cursor, end, found, missing))
        cursor = end
    return plans


SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _written_names(name: str) -> list[str]:
    """How the prose may write a variable: ``z3`` or ``z³``, ``delta3`` or ``δ³``,
    ``h0.ln_1`` or ``ln_1``."""
    forms = [name]
    short = re.sub(r"^h\d+\.", "", name)
    forms.append(short)
    m = re.fullmatch(r"([a-z]+)(\d+)", short)
    if m:
        letter = {"delta": "δ"}.get(m.group(1), m.group(1))
        forms.append(letter + m.group(2).translate(SUPERSCRIPTS))
    return list(dict.fromkeys(forms))


def first_named(markdown: str, names: list[str]) -> list[str]:
    """``names`` in the order the step's first paragraph mentions them ("Select x" first of all);
    those it does not mention keep their order, after. The first is the one the screen selects."""
    paragraph = markdown.strip().split("\n\n")[0]

    def where(name: str) -> float:
        best = float("inf")
        for form in _written_names(name):
            hit = re.search(rf"(?<![\w.]){re.escape(form)}(?![\w])", paragraph)
            if hit:
                best = min(best, hit.start())
            if re.search(rf"\bSelect {re.escape(form)}(?![\w])", markdown):
                return -1.0
        return best

    return sorted(names, key=where)  # stable: unmentioned names keep the lesson's order


def updated_name(name: str) -> str:
    """``w2`` -> ``w2′``: the row of a parameter after the update, as the book writes w → w′."""
    return name + "′"


def _row_names(records: list[Record]) -> list[str]:
    """The row each record shows in: its name, except that an update of a variable the forward or
    backward pass recorded gets a row of its own (``w2′`` beside ``w2``), so the values before
    and after the step can be compared."""
    seen: set[str] = set()
    rows = []
    for r in records:
        rows.append(updated_name(r.name) if r.phase == "update" and r.name in seen else r.name)
        if r.phase != "update":
            seen.add(r.name)
    return rows


def _step_problems(lesson, step, plan, records, dims) -> list[str]:
    where = f"{lesson.path}:{step.line}: step {step.id!r}"
    problems = [f"{where}: {name} is not in the {step.trace!r} trace (after the previous step)"
                for name in plan.missing]
    for name, expected in step.expects.items():
        if not any(form in step.markdown for form in _written_forms(expected)):
            problems.append(f"{where}: the text never states {name}'s shape {format_symbolic(expected)}")
    for name, index in plan.found.items():
        expected = step.expects[name]
        shape = records[index].shape
        try:
            numbers = tuple(eval_dim(d, dims) for d in expected)
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}: {name}: {exc}")
            continue
        if numbers != shape:
            problems.append(
                f"{where}: {name} is {format_shape(shape)} = {format_symbolic(records[index].symbolic)} "
                f"in the engine, but the text says {format_symbolic(expected)} = {format_shape(numbers)}"
            )
    return problems


def _written_forms(symbolic: tuple[str, ...]) -> list[str]:
    """How a shape may be written in the prose: ``(B*T, C)``, ``(B·T, C)``, ``(C,)``, ``()``."""
    forms = [format_symbolic(symbolic), "(" + ", ".join(symbolic) + ")"]
    return forms + [f.replace("*", "·") for f in forms]


def fill_placeholders(text: str, dims: dict[str, int]) -> str:
    """Replace each ``{expr}`` by its value for ``dims`` (``{n1*n2}`` -> ``23,520``)."""

    def sub(m: re.Match) -> str:
        if m.group(1) is None:
            return m.group(0)[0]  # {{ -> {, }} -> }
        try:
            return f"{eval_dim(m.group(1), dims):,}"
        except (KeyError, ValueError, ZeroDivisionError):
            return m.group(0)

    return PLACEHOLDER.sub(sub, text)
