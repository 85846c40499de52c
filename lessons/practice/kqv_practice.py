"""kqv's helper for practice files; `kqv practice init` copies it into the workspace.

    from kqv_practice import show
    z2 = show("z2", w2 @ a1 + b2)

show(name, value) hands in an intermediate variable under the engine's name so that
`kqv practice check` grades it too, and gives a value back. When you run a file yourself it
gives back your own value. During a check, kqv puts its own show in place of this one: it keeps
a copy of your value for grading and, when your value has the engine's shape, gives back the
engine's value, so one early slip does not spoil every variable after it (each is graded from
correct inputs). A value of another shape stops the check at that show, where the slip is; a
second show of the same name is an error (the first value is the one graded). Your file cannot
import kqv's own packages (engine, lessons, kqv_cli) during a check: it is your code that is graded.
"""


def show(name, value):
    """Hand in ``value`` as the variable ``name``; returns it."""
    return value
