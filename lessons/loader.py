"""Read lesson files (the format is described in :mod:`lessons.model`) and check them.

Everything that can be wrong in a file without running the engine is caught here, with the
file and line: a missing header key, a step without an id or a trace, a shape that is not a
dimension expression, a ``{placeholder}`` naming an unknown dimension, a trace or extra the
step script does not provide. What needs the engine (is ``z2`` really ``(n2, m)``?) is checked
by :func:`lessons.session.check_lesson`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import cast

from engine.errors import KqvError
from engine.trace import eval_dim
from lessons.curriculum import LESSONS
from lessons.model import PLACEHOLDER, REAL_MODEL_HEADINGS, DimField, Lesson, Step, StepScript

LESSONS_DIR = Path(__file__).resolve().parent

_STEP_KEYS = ("step", "trace", "show", "select", "extra", "code")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*$")


class LessonError(KqvError):
    """A malformed lesson file; the message starts with ``file:line:``."""


def load_lessons() -> list[Lesson]:
    """The lessons of :mod:`lessons.curriculum`, in the order the home screen lists them."""
    return [load_lesson(lesson_file(lesson_id)) for lesson_id in LESSONS]


def lesson_file(lesson_id: str) -> Path:
    """``lessons/<id>.md``: where a lesson of the curriculum is written."""
    return LESSONS_DIR / f"{lesson_id}.md"


def load_lesson(path: str | Path) -> Lesson:
    """Parse and validate one lesson file; raises :class:`LessonError` naming file and line."""
    path = Path(path)
    where = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LessonError(f"{where}: no such lesson file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LessonError(f"{where}: cannot read it ({exc})") from None
    return parse_lesson(text, where)


def parse_lesson(text: str, where: str = "<lesson>") -> Lesson:
    lines = text.splitlines()

    def err(lineno: int, message: str) -> LessonError:
        return LessonError(f"{where}:{lineno}: {message}")

    # -- the header between the two --- lines ----------------------------------------------
    if not lines or lines[0].strip() != "---":
        raise err(1, "a lesson starts with a header between two '---' lines (id, title, script, ...)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise err(1, "the header's closing '---' line is missing") from None
    head: dict[str, tuple[int, str]] = {}
    dim_lines: list[tuple[int, str]] = []
    check_lines: list[tuple[int, str]] = []  # one per check-dims line: kqv lessons check runs each
    for i in range(1, end):
        lineno, line = i + 1, lines[i].strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise err(lineno, f"expected 'key: value' in the header, got {line!r}")
        if key == "dim":
            dim_lines.append((lineno, value))
        elif key == "check-dims":
            check_lines.append((lineno, value))
        elif key in ("id", "title", "summary", "script", "dims"):
            if key in head:
                raise err(lineno, f"'{key}' is given twice in the header")
            head[key] = (lineno, value)
        else:
            raise err(lineno, f"unknown header key {key!r} "
                              "(known: id, title, summary, script, dims, dim, check-dims)")
    for key in ("id", "title", "summary", "script"):
        if key not in head:
            raise err(1, f"the header has no '{key}:' line")
    lesson_id = head["id"][1]
    if not _NAME.match(lesson_id.replace("-", "_")):
        raise err(head["id"][0], f"the id {lesson_id!r} must be a single word (letters, digits, - or _)")
    script_line, script_name = head["script"]
    module = _import_script(script_name, lambda m: err(script_line, m))

    default_dims = _parse_dims(*head.get("dims", (1, "")), err) if "dims" in head else {}
    dim_fields = []
    for lineno, value in dim_lines:
        parts = [p.strip() for p in value.split("|")]
        if len(parts) != 4:
            raise err(lineno, f"a dim line is 'name | label | minimum | maximum', got {value!r}")
        name, label, lo, hi = parts
        if name not in default_dims:
            raise err(lineno, f"dim {name!r} has no default in the 'dims:' line")
        try:
            lo_i, hi_i = int(lo), int(hi)
        except ValueError:
            raise err(lineno, f"minimum and maximum of {name!r} must be whole numbers") from None
        if not lo_i <= default_dims[name] <= hi_i:
            raise err(lineno, f"the default {name}={default_dims[name]} is outside {lo_i}..{hi_i}")
        dim_fields.append(DimField(name, label, lo_i, hi_i))
    try:
        full_dims = module.full_dims(dict(default_dims))
    except KqvError as exc:
        raise err(head.get("dims", (1, ""))[0], f"the default dims do not fit: {exc}") from None
    check_dims = []
    for lineno, value in check_lines:
        dims = _parse_dims(lineno, value, err)
        unknown = sorted(set(dims) - set(default_dims))
        if unknown:
            raise err(lineno, f"check-dims names {', '.join(unknown)}, not in the 'dims:' line")
        for f in dim_fields:
            if f.name in dims and not f.minimum <= dims[f.name] <= f.maximum:
                raise err(lineno, f"check-dims {f.name}={dims[f.name]} is outside {f.minimum}..{f.maximum}")
        try:
            module.full_dims({**default_dims, **dims})
        except KqvError as exc:
            raise err(lineno, f"the check-dims do not fit: {exc}") from None
        check_dims.append(dims)

    # -- the steps: one per '## ' heading -------------------------------------------------
    starts = [i for i in range(end + 1, len(lines)) if lines[i].startswith("## ")]
    if not starts:
        raise err(end + 1, "the lesson has no steps (each step starts with a '## Title' line)")
    steps: list[Step] = []
    seen_ids: dict[str, int] = {}
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(lines)
        step = _parse_step(lines, start, stop, module, full_dims, err)
        if step.id in seen_ids:
            raise err(step.line, f"step id {step.id!r} is already used on line {seen_ids[step.id]}")
        seen_ids[step.id] = step.line
        steps.append(step)

    return Lesson(
        id=lesson_id,
        title=head["title"][1],
        summary=head["summary"][1],
        steps=steps,
        default_dims=default_dims,
        dim_fields=dim_fields,
        script=script_name,
        path=where,
        check_dims=check_dims,
        extras_known=set(module.EXTRAS),
    )


def _parse_step(lines, start, stop, module, full_dims, err) -> Step:
    title = lines[start][3:].strip()
    if not title:
        raise err(start + 1, "a step needs a title after '## '")
    fields: dict[str, tuple[int, str]] = {}
    show: list[str] = []
    expects: dict[str, tuple[str, ...]] = {}
    i = start + 1
    while i < stop and lines[i].strip():
        lineno, line = i + 1, lines[i].strip()
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in _STEP_KEYS:
            raise err(lineno, f"expected a step header line ({', '.join(k + ':' for k in _STEP_KEYS)}), "
                              f"got {line!r}; put a blank line between the header and the text")
        if key == "show":
            for name, shape in _parse_show(value, lambda m, n=lineno: err(n, m)):
                if name in expects:
                    raise err(lineno, f"{name!r} is shown twice in this step")
                for dim in shape:
                    _check_expr(dim, full_dims, lambda m, n=lineno: err(n, m))
                show.append(name)
                expects[name] = shape
        elif key in fields and key in ("step", "trace", "select"):
            raise err(lineno, f"'{key}:' is given twice in this step")
        else:
            prev = fields.get(key, (lineno, ""))[1]
            fields[key] = (lineno, f"{prev}, {value}" if prev else value)
        i += 1
    for key in ("step", "trace"):
        if key not in fields:
            raise err(start + 1, f"step {title!r} has no '{key}:' line under its title")
    step_id = fields["step"][1]
    if not _NAME.match(step_id.replace("-", "_")):
        raise err(fields["step"][0], f"the step id {step_id!r} must be a single word")
    trace = fields["trace"][1]
    traces = module.TRACES
    if trace not in traces:
        raise err(fields["trace"][0], f"unknown trace {trace!r}; the step script provides: "
                                      f"{', '.join(traces) or 'none'}")
    extras = tuple(x.strip() for x in fields.get("extra", (0, ""))[1].split(",") if x.strip())
    known = set(module.EXTRAS)
    for x in extras:
        if x not in known:
            raise err(fields["extra"][0], f"unknown extra {x!r}; the step script provides: "
                                          f"{', '.join(sorted(known)) or 'none'}")
    select = fields.get("select", (0, ""))[1]
    if select and select not in expects:
        raise err(fields["select"][0], f"select: names {select!r}, which this step does not show "
                                       f"(it shows {', '.join(show) or 'nothing'})")
    code = tuple(x.strip() for x in fields.get("code", (0, ""))[1].split(",") if x.strip())
    for ref in code:
        _check_code_ref(ref, lambda m, n=fields["code"][0]: err(n, m))

    body_lines = lines[i:stop]
    split = next((j for j, line in enumerate(body_lines) if line.strip() in REAL_MODEL_HEADINGS), None)
    real_lines = [] if split is None else body_lines[split + 1 :]
    if split is not None:
        if not getattr(module, "REAL_MODEL_TRACES", {}):
            raise err(i + split + 1, f"'{body_lines[split].strip()}' text in a lesson that never runs on a "
                                     "real model (its step script has no REAL_MODEL_TRACES)")
        body_lines = body_lines[:split]
    for j, line in enumerate(lines[i:stop], start=i + 1):
        for m in PLACEHOLDER.finditer(line):
            if m.group(1) is not None:
                _check_expr(m.group(1), full_dims,
                            lambda msg, n=j: err(n, f"in {{...}}: {msg} (write {{{{ for a literal brace)"))
    return Step(
        id=step_id,
        title=title,
        markdown="\n".join(body_lines).strip("\n"),
        show=show,
        expects=expects,
        trace=trace,
        extras=extras,
        code=code,
        select=select,
        line=start + 1,
        real_markdown="\n".join(real_lines).strip("\n"),
    )


def _parse_show(value: str, err):
    """``"w2 (n2, n1), C ()"`` -> ``[("w2", ("n2", "n1")), ("C", ())]``.

    Names may hold dots, as the GPT's do: ``h0.attn.c_attn.w (C, 3*C)``.
    """
    rest = value.strip()
    out = []
    while rest:
        m = re.match(r"([A-Za-z_][A-Za-z_0-9.]*)\s*\(([^()]*)\)\s*(,\s*|$)", rest)
        if not m:
            raise err(f"expected 'name (shape)' such as 'z2 (n2, m)' or 'C ()', at {rest!r}")
        dims = tuple(d.strip() for d in m.group(2).split(",") if d.strip())
        out.append((m.group(1), dims))
        rest = rest[m.end():]
    return out


def parse_dims_text(text: str) -> dict[str, int]:
    """``"C=64, nh=8"`` as typed on the command line -> ``{"C": 64, "nh": 8}``; KqvError if not."""
    return _parse_dims(0, text, lambda _lineno, message: KqvError(message))


def _parse_dims(lineno: int, value: str, err) -> dict[str, int]:
    dims = {}
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, number = part.partition("=")
        name, number = name.strip(), number.strip()
        if not sep or not _NAME.match(name) or not number.lstrip("-").isdigit():
            raise err(lineno, f"dims are 'name=number, ...', got {part.strip()!r}")
        dims[name] = int(number)
    return dims


def _check_expr(expr: str, dims: dict[str, int], err) -> None:
    try:
        eval_dim(expr, dims)
    except KeyError:
        known = ", ".join(sorted(dims))
        raise err(f"{expr!r} names a dimension the lesson does not have (it has {known})") from None
    except (ValueError, ZeroDivisionError) as exc:
        raise err(str(exc)) from None


def _check_code_ref(ref: str, err) -> None:
    from lessons.code_pane import find_function  # the code pane and this check share one finder

    file, sep, qualname = ref.partition(":")
    if not sep or not file.startswith("engine/"):
        raise err(f"code: is 'engine/file.py:Class.function', got {ref!r}")
    try:
        find_function(file, qualname)
    except (OSError, KeyError):
        raise err(f"code: {ref!r} is not a function of the engine") from None


def _import_script(name: str, err) -> StepScript:
    if not _NAME.match(name):
        raise err(f"script must be a module name under lessons/steps, got {name!r}")
    try:
        module = importlib.import_module(f"lessons.steps.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"lessons.steps.{name}":
            raise err(f"no step script lessons/steps/{name}.py") from None
        raise
    if not all(hasattr(module, member) for member in ("TRACES", "EXTRAS", "full_dims")):
        raise err(f"lessons/steps/{name}.py must define TRACES, EXTRAS and full_dims() "
                  "(lessons.model.StepScript)")
    return cast(StepScript, module)


def _display(path: Path) -> str:
    """``lessons/backprop.md`` for a built-in lesson, the path as given otherwise."""
    try:
        return path.resolve().relative_to(LESSONS_DIR.parent).as_posix()
    except ValueError:
        return str(path)
