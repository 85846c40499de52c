"""The child process of ``kqv practice run``: it holds the learner's files and answers calls.

``python -I run_child.py JOB_DIR REQUEST_FD REPLY_FD`` reads ``job.json`` (the learner's files
by exercise, the limits), loads each file the way the check's harness does, then answers one
call at a time: kqv's engine, in the parent, reaches a layer whose arithmetic is the learner's,
sends the arguments here, and waits for what the learner's function returns. The learner's code
therefore runs under the check's sandbox (:mod:`kqv_cli.practice.harness`, whose limits, import
refusal, output cap and error reports this reuses): a memory cap, kqv's own packages refused,
64 KB of output in all, and each call bounded in time by the parent.

Messages both ways are a JSON header and raw arrays (:func:`send`, :func:`receive`): a dtype
and a shape per array, then its bytes. Nothing is pickled, and the parent reads every reply as
untrusted (only numeric dtypes, bounded sizes). Like the harness, this file imports only the
standard library and numpy, so the learner's process holds nothing of kqv.
"""

import json
import os
import select
import struct
import sys
import time
import types

MAX_HEADER = 1 << 20  # a header is a few hundred bytes; this bounds a corrupt one
MAX_PAYLOAD = 1 << 30  # the largest call (10,000 test images, 31 MB) is far below
NUMERIC = "biufc"


class BrokenMessage(Exception):
    """What came through the pipe is not a message of this protocol (or it ended)."""


class TooSlow(Exception):  # noqa: N818  (a condition, said as what happened)
    """No whole message arrived before the deadline."""


# -- the wire ------------------------------------------------------------------------------------


def send(fd, header, arrays=()):
    """Write ``header`` (a JSON object) and ``arrays`` to ``fd`` as one message."""
    import numpy as np

    arrays = [np.ascontiguousarray(a) for a in arrays]
    header = dict(header, arrays=[{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays])
    head = json.dumps(header).encode("utf-8")
    _write_all(fd, struct.pack("<Q", len(head)) + head)
    for a in arrays:
        if a.size:
            _write_all(fd, memoryview(a.reshape(-1)).cast("B"))


def receive(fd, deadline=None, np=None):
    """Read one message from ``fd``: ``(header, arrays)``. Every byte is checked: only numeric
    dtypes, whole shapes, sizes within bounds. ``deadline`` (``time.monotonic()``) raises
    :class:`TooSlow` when the message has not all arrived by then."""
    if np is None:
        import numpy as np
    (size,) = struct.unpack("<Q", _read_exactly(fd, 8, deadline))
    if size > MAX_HEADER:
        raise BrokenMessage(f"a header of {size} bytes")
    try:
        header = json.loads(_read_exactly(fd, size, deadline).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BrokenMessage("a header that is not JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise BrokenMessage("a header without its list of arrays")
    arrays, total = [], 0
    for spec in header["arrays"]:
        try:
            dtype = np.dtype(spec["dtype"])
            shape = tuple(spec["shape"])
        except (TypeError, KeyError, ValueError):
            raise BrokenMessage("an array without a dtype and a shape") from None
        if dtype.kind not in NUMERIC or dtype.itemsize > 16 or dtype.fields is not None:
            raise BrokenMessage(f"an array of {dtype}, not numbers")
        if not all(type(n) is int and 0 <= n for n in shape):
            raise BrokenMessage("a shape that is not whole numbers")
        count = 1
        for n in shape:
            count *= n
        total += count * dtype.itemsize
        if total > MAX_PAYLOAD:
            raise BrokenMessage("more array bytes than any call sends")
        data = bytearray(_read_exactly(fd, count * dtype.itemsize, deadline)) if count else bytearray()
        arrays.append(np.frombuffer(data, dtype=dtype).reshape(shape) if count else np.zeros(shape, dtype))
    return header, arrays


def _write_all(fd, data):
    view = memoryview(data)
    while len(view):
        view = view[os.write(fd, view):]


def _read_exactly(fd, n, deadline):
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TooSlow()
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise BrokenMessage("the pipe closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def pack(value, np):
    """A returned value as ``(structure, arrays)``: an array (or a number) is its index in
    ``arrays``, a tuple or list is a list of structures. None when it is anything else."""
    arrays = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            parts = [walk(x) for x in v]
            return None if any(p is None for p in parts) else parts
        if v is None or isinstance(v, (str, bytes, dict)):
            return None
        try:
            a = np.asarray(v)
        except (TypeError, ValueError):
            return None
        if a.dtype.kind not in NUMERIC:
            return None
        arrays.append(a)
        return len(arrays) - 1

    structure = walk(value)
    return (None, []) if structure is None else (structure, arrays)


def unpack(structure, arrays):
    """The inverse of :func:`pack`: arrays in place of indices, lists for lists."""
    if isinstance(structure, list):
        return [unpack(s, arrays) for s in structure]
    if type(structure) is int and 0 <= structure < len(arrays):
        return arrays[structure]
    raise BrokenMessage("a structure that names no array")


# -- the child -----------------------------------------------------------------------------------


def main(job_dir, request_fd, reply_fd):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import harness  # the check's sandbox: limits, import refusal, output cap, error reports

    sys.path.remove(here)
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    harness.limit_resources(job["memory_mb"], job["cpu_seconds"])
    import numpy as np  # after the limits and with the parent's thread settings

    sys.meta_path.insert(0, harness.RefuseKqvImports())
    printed = []
    sys.stdout = harness.CappedOutput(harness.OUTPUT_LIMIT, printed)
    sys.stderr = harness.CappedOutput(harness.OUTPUT_LIMIT, printed)

    def output():
        return "".join(printed)[-4000:]

    shown, wanted = {}, set()
    sys.modules["kqv_practice"] = show_module(shown, wanted, np)
    try:
        modules = {}
        for exercise, path in job["files"].items():
            module, outcome = load(path, exercise, harness, np)
            if outcome:
                send(reply_fd, dict(outcome, exercise=exercise, output=output()))
                return
            modules[exercise] = (module, path)
        send(reply_fd, {"status": "ready"})
        while True:
            header, arrays = receive(request_fd, np=np)
            if header.get("op") != "call":
                send(reply_fd, {"status": "bye", "output": output()})
                return
            module, path = modules[header["exercise"]]
            function = module.__dict__.get(header["function"])
            if not callable(function):
                send(reply_fd, {"status": "missing", "output": output(),
                                "message": f"{os.path.basename(path)} has no function {header['function']}"})
                return
            args = [unpack(a, arrays) if isinstance(a, (int, list)) else a["value"] for a in header["args"]]
            shown.clear()
            wanted.clear()
            wanted.update(header.get("want", []))
            returned, outcome = harness.guarded(lambda f=function, a=args: f(*a), path, np)
            if outcome:
                send(reply_fd, dict(outcome, output=output()))
                return
            structure, out = pack(returned, np)
            if structure is None:
                send(reply_fd, {"status": "bad_return", "output": output(),
                                "message": f"{header['function']} returned {harness.describe(returned)}, "
                                           "not arrays of numbers"})
                return
            names = sorted(shown)
            send(reply_fd, {"status": "ok", "returns": structure,
                            "shown": {n: len(out) + i for i, n in enumerate(names)}},
                 out + [shown[n] for n in names])
    except BrokenMessage:  # the parent has gone (Ctrl-C, or it ended the run): nothing to say
        return
    except harness.OutputFlood:
        send(reply_fd, {"status": "flood", "output": "".join(printed)[-2000:],
                        "message": f"your code printed more than {harness.OUTPUT_LIMIT // 1024} KB; the run "
                                   "stopped it (a print inside a function that runs every step?)"})


def load(path, exercise, harness, np):
    """Run the learner's file into a module: ``(module, None)``, or ``(None, what went wrong)``."""
    try:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
    except SyntaxError as exc:
        return None, {"status": "syntax", "line": exc.lineno or 0, "message": exc.msg}
    except (OSError, UnicodeDecodeError) as exc:
        return None, {"status": "error", "line": 0, "message": f"cannot read it: {exc}"}
    module = types.ModuleType(f"kqv_learner_{exercise}")
    module.__file__ = path
    _, outcome = harness.guarded(lambda: exec(code, module.__dict__), path, np)
    return module, outcome


def show_module(shown, wanted, np):
    """The ``kqv_practice`` module for a run: ``show`` hands the value back unchanged (nothing is
    graded here) and keeps a copy of the names the parent asked for (attention's ``att``)."""
    module = types.ModuleType("kqv_practice")

    def show(name, value):
        if name in wanted and name not in shown:
            array = np.array(value)
            if array.dtype.kind in NUMERIC:
                shown[str(name)] = array
        return value

    module.show = show
    return module


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
