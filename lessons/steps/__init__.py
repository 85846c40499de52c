"""Step scripts: the small Python behind each lesson file, one module per lesson.

A lesson's Markdown names its script in the header (``script: backprop``) and each step names
one of the script's traces (``trace: digits``). A script module provides (typed as
:class:`lessons.model.StepScript`, its special views as :class:`lessons.model.Extra`):

* ``TRACES``: ``{name: run(dims, seed) -> lessons.model.TraceRun}``. Each run builds the engine
  objects for the learner's dims, runs them once with a :class:`~engine.trace.Tracer`, and
  returns the tracer with the full dims, notes and any special views. The engine does the
  maths and records it; a script only picks inputs and sizes (it never computes a layer itself).
* ``full_dims(dims) -> dict``: the learner's dims plus the fixed and derived ones the symbolic
  shapes use (``n1 = 784``, ``hs = C // nh``); raises :class:`~engine.errors.KqvError` with one
  clear line when the combination cannot be built.
* ``EXTRAS``: the names a step may ask for with ``extra:`` (heatmaps, series, ...).
"""
