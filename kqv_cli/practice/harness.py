"""The child-process harness: the one file that runs inside the learner's process.

``python -I harness.py JOB_DIR`` reads ``job.json`` and ``inputs.npz`` from JOB_DIR, loads the
learner's file, calls their functions on every input set, and writes ``result.json`` and
``results.npz`` back. It imports only the standard library and numpy (nothing of kqv), and
arrays travel as ``.npz`` loaded with ``allow_pickle=False``: nothing the learner's code makes
is ever unpickled by kqv.

Limits, set before any learner code runs:

* memory: ``RLIMIT_AS`` (the job's ``memory_mb``), so a runaway allocation is a MemoryError;
* CPU time: ``RLIMIT_CPU``, a backstop behind the parent's wall-clock timeout;
* output: ``print`` goes to a buffer capped at ``OUTPUT_LIMIT`` bytes; more stops the run;
  ``RLIMIT_FSIZE`` caps what C code could write to the real stdout/stderr files.

BLAS threads are limited by the parent through the environment (``OPENBLAS_NUM_THREADS=1``...),
which numpy reads when it is imported.

The result is one of: ``ok`` (with the arrays; ``unwritten`` names a later function that raised
NotImplementedError after earlier ones ran, so a forward is graded before its backward is
written), ``not_written`` (NotImplementedError in the first function),
``syntax``, ``missing`` (no such function), ``signature`` (a function that cannot take the
check's arguments), ``bad_return``, ``bad_show`` (a value that is
not an array of numbers, or a second show of one name), ``refused_import`` (an import of kqv's
own packages), ``error`` (an exception, with the learner's line and the shapes of the arrays on
it), ``exit`` (SystemExit), ``flood`` (too much output). ``error`` and ``bad_show`` name the input
set that ran (``case``), so the grader reads shapes with that set's sizes.

``show(name, value)`` keeps the *first* value shown under a name: a second show of the same
name in one input set stops the run (``bad_show``), else ``v = show("d", None); show("d", v)``
would hand the engine's own value in. The engine's value is fed back only when the learner's has
its shape; a different shape stops the run right there (``ok`` with ``stopped``), so the grader
reports that variable, not the crash it would cause a line later.
"""

import inspect
import io
import json
import os
import re
import resource
import sys
import traceback
import types

OUTPUT_LIMIT = 64 * 1024


class OutputFlood(BaseException):  # noqa: N818  (BaseException: a bare `except Exception` cannot swallow it)
    """The learner's code printed more than OUTPUT_LIMIT bytes."""


class ShowStop(BaseException):  # noqa: N818  (BaseException: the learner's `except Exception` cannot swallow it)
    """show() ends the run: a value that cannot be graded, a second show of a name, or a shape
    that differs from the engine's (``report`` says which)."""

    def __init__(self, report):
        super().__init__(report.get("message", ""))
        self.report = report


OWN_PACKAGES = ("engine", "lessons", "kqv_cli")


class RefusedImport(ImportError):
    """An import of kqv's own packages from the learner's file."""


class RefuseKqvImports:
    """A meta-path finder, first in line, that refuses kqv's own packages.

    The check compares the learner's code with the engine: ``from engine.layers import
    softmax_forward`` would hand the engine's own function in. numpy and the standard library
    stay importable; the harness itself imports nothing of kqv.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in OWN_PACKAGES:
            raise RefusedImport(f"your file imports {fullname}, part of kqv itself; the check compares "
                                "your code with kqv's engine, so it cannot use kqv's own code "
                                f"({', '.join(OWN_PACKAGES)} cannot be imported here)")
        return None

    def invalidate_caches(self):
        pass


class BadValue(Exception):
    """A return value or a show() value of the wrong kind; the message says what was expected."""


class CappedOutput(io.TextIOBase):
    """Collects printed text up to a limit, then stops the run."""

    def __init__(self, limit, shared):
        self.limit = limit
        self.shared = shared  # one list for stdout and stderr, so the order is kept

    def writable(self):
        return True

    def write(self, text):
        used = sum(len(t) for t in self.shared)
        if used + len(text) > self.limit:
            self.shared.append(text[: max(0, self.limit - used)])
            raise OutputFlood()
        self.shared.append(text)
        return len(text)


def limit_resources(memory_mb, seconds):
    mem = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    size = 4 * 1024 * 1024  # results are a few KB; this only stops a flood written from C
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def main(job_dir):
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    limit_resources(job["memory_mb"], job["timeout"])
    import numpy as np  # after the limits and with the parent's thread settings

    for name in [m for m in sys.modules if m.split(".")[0] in OWN_PACKAGES]:
        del sys.modules[name]  # none should be loaded; a cached one would skip the finder
    sys.meta_path.insert(0, RefuseKqvImports())

    printed = []
    sys.stdout = CappedOutput(OUTPUT_LIMIT, printed)
    sys.stderr = CappedOutput(OUTPUT_LIMIT, printed)
    with np.load(os.path.join(job_dir, "inputs.npz"), allow_pickle=False) as npz:
        inputs = {k: npz[k] for k in npz.files}
    arrays = {}
    try:
        result = run_job(job, inputs, arrays, np)
    except OutputFlood:
        result = {"status": "flood",
                  "message": f"your code printed more than {OUTPUT_LIMIT // 1024} KB; the check "
                             "stopped it (a print inside a loop?)"}
    result["output"] = "".join(printed)[:OUTPUT_LIMIT]
    np.savez(os.path.join(job_dir, "results.npz"), **arrays)
    tmp = os.path.join(job_dir, "result.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, os.path.join(job_dir, "result.json"))


def run_job(job, inputs, arrays, np):
    path = job["file"]
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
    except SyntaxError as exc:
        return {"status": "syntax", "line": exc.lineno or 0,
                "message": exc.msg + (f" (column {exc.offset})" if exc.offset else "")}
    except (OSError, UnicodeDecodeError) as exc:
        return {"status": "error", "line": 0, "message": f"cannot read it: {exc}"}

    shown = {}
    feed = {}
    quiet = {"on": False}  # while finite differences call the forward: show() records nothing
    sys.modules["kqv_practice"] = practice_module(shown, feed, np, quiet)
    module = types.ModuleType("kqv_learner")
    module.__file__ = path
    _, outcome = guarded(lambda: exec(code, module.__dict__), path, np)
    if outcome:
        return outcome
    unwritten = None  # a later function not written yet, after earlier ones that are
    for c, case in enumerate(job["cases"]):
        feed.clear()
        feed.update({name: inputs[f"{c}/feed/{name}"] for name in case["feed"]})
        shown.clear()
        outcome = run_case(c, case, module, inputs, arrays, path, np)
        for name, value in shown.items():
            arrays[f"{c}/show/{name}"] = value
        if outcome is None and job.get("gradcheck"):
            quiet["on"] = True
            try:
                finite_differences(job["gradcheck"], c, case, module, inputs, arrays, np)
            finally:
                quiet["on"] = False
        if outcome and outcome["status"] == "unwritten":
            unwritten = outcome["function"]
        elif outcome:
            outcome["case"] = c
            return outcome
    return {"status": "ok", "unwritten": unwritten} if unwritten else {"status": "ok"}


def run_case(c, case, module, inputs, arrays, path, np):
    """Call the functions of one input set; None when all went well, else what happened."""
    for k, call in enumerate(case["calls"]):
        function = module.__dict__.get(call["function"])
        if not callable(function):
            defined = sorted(n for n, v in module.__dict__.items()
                             if isinstance(v, types.FunctionType) and not n.startswith("_"))
            return {"status": "missing", "function": call["function"],
                    "message": f"no function called {call['function']}"
                               + (f" (the file defines {', '.join(defined)})" if defined else "")}
        args = [argument(inputs, f"{c}/{k}/{a['name']}", a, np) for a in call["args"]]
        mismatch = signature_mismatch(function, call)
        if mismatch:
            return {"status": "signature", "function": call["function"], "message": mismatch}
        returned, outcome = guarded(lambda f=function, a=args: f(*a), path, np)
        if outcome and outcome["status"] == "not_written" and k > 0:
            # grade the functions before it (a forward first)
            return {"status": "unwritten", "function": call["function"]}
        if outcome:
            outcome["function"] = call["function"]
            return outcome
        try:
            for name, value in flatten(returned, call["returns"], call["function"], np).items():
                arrays[f"{c}/return/{name}"] = value
        except BadValue as exc:
            return {"status": "bad_return", "function": call["function"], "message": str(exc)}
    return None


def signature_mismatch(function, call):
    """What is wrong when the learner's function cannot take the check's arguments, else "".

    Checked before the call, so a changed signature is said as such instead of a TypeError
    raised inside this harness."""
    try:
        signature = inspect.signature(function)
        signature.bind(*call["args"])
    except ValueError:  # no signature to read (a builtin): let the call say what it says
        return ""
    except TypeError as exc:
        wanted = ", ".join(a["name"] for a in call["args"])
        return (f"{call['function']}{signature} cannot take the check's arguments, "
                f"{call['function']}({wanted}) ({exc}); keep the starter's signature")
    return ""


FD_STEP = 1e-6  # relative: each entry x is nudged by ±FD_STEP·max(1, |x|)


def finite_differences(check, c, case, module, inputs, arrays, np):
    """The learner's gradients as finite differences of their own forward, in float64.

    L = Σ upstream ⊙ forward(...)[output], or the forward's scalar; each input named in
    ``check["grads"]`` is nudged entry by entry (central differences). Written as
    ``{c}/fd/{gradient}``; anything the forward raises or prints here is dropped (the check
    itself already ran it once), and a gradient that cannot be computed is simply not written.
    """
    calls = case["calls"]
    k = next((k for k, call in enumerate(calls) if call["function"] == check["forward"]), None)
    forward = module.__dict__.get(check["forward"])
    if k is None or not callable(forward):
        return
    names = [a["name"] for a in calls[k]["args"]]
    args = [argument(inputs, f"{c}/{k}/{a['name']}", a, np) for a in calls[k]["args"]]
    upstream = None
    if check["upstream"]:
        where = [f"{c}/{j}/{check['upstream']}" for j, call in enumerate(calls)
                 if any(a["name"] == check["upstream"] for a in call["args"])]
        if not where:
            return
        upstream = inputs[where[0]].astype(np.float64)

    def loss():
        out = forward(*args)
        if check["output"] is not None:
            out = out[check["output"]]
        out = np.asarray(out, dtype=np.float64)
        return float((out * upstream).sum()) if upstream is not None else float(out.sum())

    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.StringIO()  # a debug print per call would flood the cap here
    try:
        for argument_name, gradient in check["grads"]:
            if argument_name not in names:
                continue
            i = names.index(argument_name)
            x = args[i] = np.array(args[i], dtype=np.float64)
            slope = np.zeros_like(x)
            for index in np.ndindex(x.shape):
                old = x[index]
                if not np.isfinite(old):
                    continue  # a masked −inf stays −inf: no slope there
                h = FD_STEP * max(1.0, abs(old))
                x[index] = old + h
                up = loss()
                x[index] = old - h
                down = loss()
                x[index] = old
                slope[index] = (up - down) / (2 * h)
            arrays[f"{c}/fd/{gradient}"] = slope
    except Exception:  # noqa: BLE001  (the learner's forward failing here is not news: skip the oracle)
        return
    finally:
        sys.stdout, sys.stderr = saved


def practice_module(shown, feed, np, quiet):
    """The kqv_practice module the learner's ``from kqv_practice import show`` gets."""
    module = types.ModuleType("kqv_practice")

    def show(name, value):
        """Keep a copy of the first ``value`` shown as ``name``; give back the engine's value
        when the learner's has its shape, else stop the run at this variable."""
        if quiet["on"]:
            return value
        name = str(name)
        if name in shown:
            raise ShowStop({"status": "bad_show", "name": name,
                            "message": f"show({name!r}, ...) was called a second time; hand each "
                                       "variable in once (the first value shown is the one graded)"})
        try:
            array = np.array(value)
            if array.dtype == object or array.dtype.kind not in "biufc":
                raise ValueError
        except (ValueError, TypeError):
            raise ShowStop({"status": "bad_show", "name": name,
                            "message": f"show({name!r}, ...) got {describe(value)}, which is not an "
                                       "array of numbers"}) from None
        shown[name] = array
        if name in feed:
            if array.shape != feed[name].shape:
                raise ShowStop({"status": "ok", "stopped": name})
            return feed[name].copy()
        return value

    module.show = show
    return module


def argument(inputs, key, spec, np):
    if spec["kind"] == "rng":  # a seeded generator: the same draws as the engine's
        return np.random.default_rng(spec["seed"])
    if spec["kind"] == "list":
        return [inputs[f"{key}/{i}"].copy() for i in range(spec["length"])]
    if spec["kind"] == "scalar":
        return inputs[key].item()
    return inputs[key].copy()


def flatten(value, layout, where, np):
    """The returned value as {graded name: array}, following the layout ("a3", [..], [[..], [..]])."""
    if isinstance(layout, str):
        if isinstance(value, (list, tuple, dict, str)) or value is None:
            raise BadValue(f"{where} returned {describe(value)}; it should return one array, {layout}")
        try:
            array = np.array(value)
        except (ValueError, TypeError):
            array = None
        if array is None or array.dtype == object or array.dtype.kind not in "biuf":
            raise BadValue(f"{where} returned {describe(value)}; it should return an array of numbers, "
                           f"{layout}")
        return {layout: array}
    wanted = ", ".join(json.dumps(part) if isinstance(part, list) else part for part in layout)
    if not isinstance(value, (list, tuple)):
        raise BadValue(f"{where} returned {describe(value)}; it should return {len(layout)} things: "
                       f"{wanted}")
    if len(value) != len(layout):
        raise BadValue(f"{where} returned a {type(value).__name__} of {len(value)}; it should return "
                       f"{len(layout)}: {wanted}")
    out = {}
    for part, sub in zip(value, layout, strict=True):
        out.update(flatten(part, sub, where, np))
    return out


def describe(value):
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    shape = getattr(value, "shape", None)
    return f"an array of shape {tuple(shape)}" if shape is not None else f"a {type(value).__name__}"


def guarded(run, path, np):
    """Run learner code: (its value, None) when it went well, else (None, what happened)."""
    try:
        return run(), None
    except ShowStop as stop:
        return None, dict(stop.report)
    except RefusedImport as exc:
        return None, {"status": "refused_import", "message": str(exc)}
    except NotImplementedError as exc:
        return None, {"status": "not_written", "message": str(exc) or "not written yet"}
    except SystemExit as exc:
        return None, {"status": "exit", "message": f"your code called exit ({exc.code!r}); "
                                                   "a function should return its result instead"}
    except RecursionError:
        return None, {"status": "error", "kind": "RecursionError", "line": 0, "code": "",
                      "message": "the function calls itself without end", "operands": {}}
    except Exception as exc:  # the learner's bug, reported with their line and shapes
        return None, located(exc, path, np)


def located(exc, path, np):
    """The exception with the learner's file line, its code and the shapes of the arrays on it."""
    frame = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            frame, line = tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next
    text = str(exc).splitlines()
    result = {"status": "error", "kind": type(exc).__name__, "message": text[0] if text else "",
              "line": 0, "code": "", "operands": {}}
    if frame is None:
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        result["where"] = f"{last[0].filename}:{last[0].lineno}" if last else ""
        return result
    try:
        with open(path, encoding="utf-8") as f:
            code = f.read().splitlines()[line - 1].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        code = ""
    result.update(line=line, code=code, operands=operand_shapes(code, frame.f_locals, np))
    return result


def operand_shapes(code, scope, np):
    """{name: shape} for each array (or list of arrays) named on the line."""
    names = re.findall(r"[A-Za-z_]\w*", code)  # a line such as `for ...:` need not parse alone
    shapes = {}
    for name in dict.fromkeys(names):
        value = scope.get(name)
        if isinstance(value, np.ndarray):
            shapes[name] = list(value.shape)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
            shapes[name] = [list(v.shape) for v in value]
    return shapes


if __name__ == "__main__":
    main(sys.argv[1])
