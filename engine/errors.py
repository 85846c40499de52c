"""The one exception type the engine raises for bad input a user can fix.

Anything that is the user's to mend (a corrupt file, a shape that does not divide, a
checkpoint of the wrong kind) is raised as :class:`KqvError` with a message that says what
happened and what to do. The CLI turns it into one line and exit code 2; a traceback means a
bug in kqv, not in the user's input.
"""

from __future__ import annotations


class KqvError(Exception):
    """Bad input, explained in one line for the person who gave it."""


class TrainingDiverged(KqvError):
    """The loss became NaN or infinite; training stopped before it could spoil the weights."""

    @classmethod
    def in_run(cls, loss: float, where: str, out, saved_iter: int | None) -> TrainingDiverged:
        """The message a training run gives: the bad loss, where it came, and which file is kept."""
        if out is not None and saved_iter is not None:
            kept = f"the last good checkpoint {out} (iteration {saved_iter}) is kept"
        elif out is not None and out.exists():
            kept = f"{out} was left as it was"
        else:
            kept = "no checkpoint was written"
        return cls(f"the loss became {loss} {where}; training stopped and {kept}; try a lower --lr")
