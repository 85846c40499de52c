"""The fast path: the GPT's elementwise work in compiled loops, one pass where numpy takes many.

The readable layers (:mod:`engine.layers`, :mod:`engine.mlp`, :mod:`engine.attention`,
:mod:`engine.optim`) write each formula as numpy expressions, one line of the maths per line
of code, and every line is a pass over memory: LayerNorm's forward alone reads and writes its
(N, C) array about eight times. That is what the lessons, ``kqv trace`` and practice show, and
it stays the reference. :mod:`engine.fused.kernels` computes the same things with numba
(``@njit``), each kernel one or two passes, held to the readable function by
``tests/test_fused.py`` (float32 within 1e-5 relative, float64 within 1e-12).

Why numba: a kernel here is a loop over rows that reduces (a row's mean, variance, maximum,
sum) and then writes, which numba compiles from plain Python into one pass. numexpr evaluates
one elementwise expression per call and has no row reductions, so LayerNorm, the softmax and the
cross-entropy would stay several passes. The price: numba 0.68 and llvmlite 0.50 are 3.8 MB and
60 MB to download (35 MB and 173 MB installed); the first fast run on a machine compiles every
kernel (about 20 s on a busy 2-core machine, once: ``cache=True`` keeps them), and each process
after that pays numba's import and the cache's load (1-4 s there; far less on an idle machine).

Who uses which: a traced run (``tracer.enabled``) always runs the readable code, so every
variable it records is the one the lesson's code pane shows. An untraced run takes the fused
kernels while the engine is ``"fast"``: the training loops ask for it for as long as they run
(:class:`engine.gpt.train.GPTTrainer` unless ``--engine readable``, and the translation
trainer), and :func:`use` sets it for any block of code. Everything else (sampling, a lesson, a
one-off forward pass) stays readable: loading numba and its compiled kernels costs about a
second, more than the kernels save on a few hundred sampled tokens. Two exceptions, each its
own module: the digit net's training (:mod:`engine.fused.digits`, the whole mini-batch step in one
call, which ``Network.SGD`` takes) and a loaded GPT-2's generation (:mod:`engine.fused.decode`,
a token through every block in a few calls, which ``GPT.stream`` takes for a model marked
``fast_decode``; numba loads on another thread while the weights are read). Where numba cannot be
imported kqv says so once on stderr and runs the readable code (the digit net: its numpy step).
"""

from __future__ import annotations

import importlib
import sys
import threading
from contextlib import contextmanager

from engine.errors import KqvError
from engine.trace import NO_TRACE

ENGINES = ("fast", "readable")

_choice = "readable"  # until a training loop (or a use("fast") block) asks for the kernels
_loaded = False
_kernels = None
_lock = threading.Lock()


def choose(name: str) -> None:
    """Set the process's engine: ``"fast"`` (fused kernels for untraced runs) or ``"readable"``."""
    global _choice
    if name not in ENGINES:
        raise KqvError(f"engine must be one of {', '.join(ENGINES)}, not {name!r}")
    _choice = name


def chosen() -> str:
    """The engine the process asked for (what runs may still be readable: see :func:`running`)."""
    return _choice


@contextmanager
def use(name: str):
    """Run the ``with`` body on engine ``name``, then go back to the one before."""
    before = _choice
    choose(name)
    try:
        yield
    finally:
        choose(before)


def kernels_for(tracer=NO_TRACE):
    """The fused kernels module for an untraced run on the fast engine; None means: run the
    readable code (a traced run, ``--engine readable``, or numba missing)."""
    if tracer.enabled or _choice != "fast":
        return None
    return _kernels if _loaded else _load()


def running() -> str:
    """The engine an untraced run really uses now: ``"fast"`` only if the kernels load."""
    return "fast" if kernels_for() is not None else "readable"


def _load():
    global _loaded, _kernels
    with _lock:  # the two halves of a batch ask at the same moment, from two threads
        if not _loaded:
            _kernels, _loaded = _import("kernels"), True
    return _kernels


def digit_step():
    """:func:`engine.fused.digits.sgd_step`, the digit net's compiled mini-batch step, or None
    where numba cannot be imported (said once, as for the GPT's kernels). ``Network.SGD`` asks
    for it whatever the engine choice: it is the digit net's untraced training loop."""
    module = _module("digits")
    return None if module is None else module.sgd_step


def decoder(model):
    """An :class:`engine.fused.decode.Decoder` for ``model`` (one generated token through it in
    a few compiled passes), or None: numba missing, or a what-if model it does not compute."""
    module = _module("decode")
    return module.Decoder(model) if module is not None and module.decodes(model) else None


def preload(name: str) -> None:
    """Start importing ``engine.fused.NAME`` (numba, and its kernels compiled or read from the
    cache) on a thread of its own, so that it is ready when first asked for: a GPT-2 loads its
    weights meanwhile (:func:`engine.hf.gpt2.load_gpt2`). Whoever asks first waits for it."""
    threading.Thread(target=_module, args=(name,), daemon=True).start()


def _module(name: str):
    """``engine.fused.NAME``, imported once (None without numba)."""
    with _lock:
        if name not in _modules:
            _modules[name] = _import(name)
    return _modules[name]


_modules: dict[str, object] = {}
_said = False


def _import(name: str):
    """``engine.fused.NAME``, or None (and one line on stderr, once a process) without numba; a
    module with a ``warm()`` has it called first."""
    global _said
    try:
        module = importlib.import_module(f"engine.fused.{name}")
    except ImportError as exc:  # numba missing, or built for another numpy
        if not _said:
            _said = True
            print(f"kqv: the fast engine needs numba ({exc}); running the readable numpy engine, "
                  "which is slower", file=sys.stderr)
        return None
    if hasattr(module, "warm"):  # its kernels compiled or read from numba's cache now, not at first use
        module.warm()
    return module


def _forget() -> None:
    """Load the kernels again on the next call (tests simulate a missing numba with it)."""
    global _loaded, _kernels, _said
    with _lock:
        _loaded, _kernels, _said = False, None, False
        _modules.clear()
