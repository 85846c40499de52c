"""``kqv quiz``: dimension questions in the plain terminal.

Interactive, it asks with rich prompts. Piped, it reads one answer per line from stdin (for
scripts and tests) and echoes each one so the transcript reads well. ``h`` or ``?`` asks for a
hint. Every answer is saved as soon as it is checked, so end of input, Ctrl-C or a closed
terminal lose nothing. No Textual here: a piped quiz starts in a fraction of a second.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from engine.errors import KqvError
from kqv_cli.cli import app, is_interactive
from kqv_cli.exit_codes import EXIT_INTERRUPTED
from kqv_cli.messages import console, dim, err_console, print_json, styled, warning
from lessons.curriculum import ALL_TOPICS, TOPICS, listed

if TYPE_CHECKING:
    from kqv_cli.quiz.quiz_progress import QuizProgress
    from kqv_cli.quiz.session import Outcome, QuizSession


@app.command("quiz")
def quiz(
    topic: str = typer.Option("all", "--topic", "-t", help=f"{listed((*TOPICS, ALL_TOPICS))}."),
    count: int = typer.Option(10, "--count", "-n", help="How many questions in this sitting."),
    symbolic: bool = typer.Option(False, "--symbolic", help="Answer shapes in letters: (B, nh, T, hs)."),
    stats: bool = typer.Option(False, "--stats", help="Show cards due, accuracy per topic and streak."),
    seed: int | None = typer.Option(None, "--seed", help="Draw the same dimensions again (for scripts)."),
    as_json: bool = typer.Option(False, "--json", help="With --stats: print one JSON object instead."),
) -> None:
    """Drill tensor shapes: questions from real engine runs, spaced repetition per concept.

    Type a shape as [bold](4, 8, 8)[/], 4x8x8 or 4 8 8; [bold]h[/] or [bold]?[/] for a hint
    (the first names the operation, the second the operand shapes).
    """
    # the quiz engine (cards, fsrs) loads only when a quiz runs, not on every `kqv` start
    from kqv_cli.quiz.questions import BY_ID, check_topic
    from kqv_cli.quiz.quiz_progress import QuizProgress
    from kqv_cli.quiz.scheduler import LEVEL_NOTE
    from kqv_cli.quiz.session import QuizSession

    check_topic(topic)
    if count < 1:
        raise KqvError(f"--count must be at least 1, got {count}")
    if as_json and not stats:
        raise KqvError("--json goes with --stats (the quiz itself is interactive or piped text)")
    if stats:
        progress = QuizProgress.load(persist=False)
        if as_json:
            print_json(_stats_json(progress))
        else:
            _show_stats(console, progress)
        return
    session = QuizSession(topic, count, symbolic, seed=seed)
    if session.warning:
        warning(session.warning)
    interactive = is_interactive()
    if interactive:
        _line_editing()
    levels = ", ".join(f"{t} level {session.level(t)}" for t in TOPICS if topic in ("all", t))
    console.print(styled(("kqv quiz", "bold"), f" · {count} question{'s' if count > 1 else ''} · {levels}"
                         f"{' · in letters' if symbolic else ''}   ",
                         ("(h or ? for a hint; Ctrl-D or Ctrl-C ends, progress is kept)", "dim")))
    console.print(dim(f"{LEVEL_NOTE}."))
    save_warned = False
    try:
        while (question := session.next_question()) is not None:
            console.print()
            console.rule(f"{session.asked}/{count} · {BY_ID[question.card_id].title}", style="dim",
                         align="left")
            console.print(question.prompt)
            console.print(dim(question.convention))
            console.print(dim(f"answer with {question.format_help()}"))
            while True:
                text = _read(console, interactive)
                if text is None:  # end of input: stop cleanly, everything is saved already
                    console.print(styled("\n", ("input ended.", "dim"),
                                         f" {session.summary_line()}; progress {_saved(session)}."))
                    return
                outcome = session.respond(text)
                if outcome.final:
                    _show_outcome(console, outcome)
                    if session.progress.save_error and not save_warned:
                        warning(session.progress.save_error)
                        save_warned = True
                    break
                style = "cyan" if outcome.status == "hint" else "yellow"
                console.print(outcome.message, style=style)
    except KeyboardInterrupt:
        if interactive:
            console.print()  # end the prompt's line
        # Ctrl-C is one of the two ways the quiz says to end it: no "error:", still exit 130
        err_console.print(f"quiz ended (Ctrl-C) after {session.summary_line()}; your quiz progress is "
                          f"{_saved(session)}", soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(styled("\n", ("done:", "bold"), f" {session.summary_line()}. ",
                         (f"Progress {_saved(session)}; `kqv quiz --stats` shows what is due.", "dim")))
    for line in session.missed_lines():
        console.print(f"  missed {line}")
    levels = ", ".join(f"{t} {session.level(t)}" for t in TOPICS if topic in ("all", t))
    console.print(styled(f"your level now: {levels} ", (f"({LEVEL_NOTE})", "dim")))


def _line_editing() -> None:
    """← → and history in the answer prompt: importing readline gives input() line editing
    (absent on some platforms, where the prompt stays plain)."""
    try:
        import readline  # noqa: F401
    except ImportError:
        pass


def _saved(session: QuizSession) -> str:
    return "not saved (see the warning above)" if session.progress.save_error else "saved"


def _read(console: Console, interactive: bool) -> str | None:
    """One answer line, or None at end of input."""
    if interactive:
        try:
            return console.input(styled(("answer ›", "bold"), " "))
        except EOFError:
            return None
    line = sys.stdin.readline()
    if not line:
        return None
    console.print(f"answer › {line.strip()}")
    return line.rstrip("\n")


def _show_outcome(console: Console, outcome: Outcome) -> None:
    q = outcome.question
    if outcome.status == "right":
        console.print(f"✓ {outcome.message}", style="bold green")
    else:
        console.print(f"✗ {outcome.message}", style="bold red")
    console.print("why:", style="bold")
    for line in q.derivation:
        console.print(f"  {line}")
    console.print("trace:", style="bold")
    for line in q.proof:
        console.print(styled("  ", dim(line)))
    if outcome.due is not None:
        from kqv_cli.quiz.scheduler import when

        console.print(dim(f"this card comes back {when(outcome.due)}"))


def _stats_json(progress: QuizProgress) -> dict:
    """The same figures as the table: per topic, the streak, and when each card is due."""
    def plain(value):
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "topics": {t: {k: plain(v) for k, v in s.items()} for t, s in progress.summary().items()},
        "streak": dict(progress.streak),
        "due": {cid: c.due.isoformat() for cid, c in sorted(progress.cards.items())},
        "warning": progress.warning,
    }


def _show_stats(console: Console, progress: QuizProgress) -> None:
    if progress.warning:
        warning(progress.warning)
    table = Table(title="quiz progress", title_justify="left")
    for col in ("topic", "cards", "seen", "due", "new", "answers", "accuracy", "level"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    summary = progress.summary()
    for topic, s in summary.items():
        accuracy = "–" if s["accuracy"] is None else f"{s['accuracy']:.0%}"
        table.add_row(topic, str(s["total"]), str(s["seen"]), str(s["due"]), str(s["new"]),
                      str(s["answered"]), accuracy, str(s["level"]))
    console.print(table)
    from kqv_cli.quiz.scheduler import LEVEL_NOTE

    console.print(dim(f"{LEVEL_NOTE}."))
    streak = progress.streak
    days = streak.get("days", 0)
    console.print(f"streak: {days} day{'s' if days != 1 else ''} in a row · {streak.get('run', 0)} right "
                  f"in a row (best {streak.get('best_run', 0)})")
    due_next = [(c.due, cid) for cid, c in progress.cards.items()]
    if due_next:
        from kqv_cli.quiz.scheduler import when

        due, cid = min(due_next)
        console.print(f"next review: {cid} {when(due)}")
    else:
        console.print("no cards seen yet: start with `kqv quiz`")
