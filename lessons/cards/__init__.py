"""Quiz cards: one module per quiz topic of :mod:`lessons.curriculum` (``lessons/cards/<topic>.py``).

A card module holds ``TOPIC`` (its file name) and ``CARDS``, a tuple of ``(card id, title,
builder)`` in teaching order; a builder takes a :class:`~lessons.cards.question.Draw` and runs
the engine to make a :class:`~lessons.cards.question.Question`. The quiz that schedules and
asks them (``kqv quiz``, the app's Quiz screen) is :mod:`kqv_cli.quiz`.
"""
