"""The one exception type the engine raises for bad input a user can fix.

Anything that is the user's to mend (a corrupt file, a shape that does not divide, a
checkpoint of the wrong kind) is raised as :class:`KqvError` with a message that says what
happened and what to do. The CLI turns it into one line and exit code 2; a traceback means a
bug in kqv, not in the user's input.
"""


class KqvError(Exception):
    """Bad input, explained in one line for the person who gave it."""


class TrainingDiverged(KqvError):
    """The loss became NaN or infinite; training stopped before it could spoil the weights."""
