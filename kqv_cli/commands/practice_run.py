"""``kqv practice run NAME``: train a real model with the functions you wrote, beside kqv's engine.

    kqv practice run digits          your backprop and update_mini_batch (σ and feedforward too, if
                                     passed) train the digit net for an epoch; test accuracy of
                                     your network beside the engine's
    kqv practice run gpt             your passed GPT functions train the character GPT; the two
                                     loss curves side by side
    kqv practice run layernorm       one exercise: its model with that function of yours alone

Your code runs in the check's sandbox (a child process with its limits). Exit codes: 0 the
run finished, 1 your code failed during it (an exception, a timeout, a shape the engine cannot
use, a NaN), 2 refused (a function not passed yet, an unknown name, no workspace), 130 Ctrl-C.
Nothing is written.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from engine.errors import KqvError
from kqv_cli.cli import interrupted
from kqv_cli.commands.practice import DIR_OPTION, _folder, _progress, practice_app
from kqv_cli.messages import console, dim, error, print_json, styled
from kqv_cli.practice.run_plan import DIGIT_EXERCISES, ENGINE, GPT_EXERCISES, GPT_ITERS, YOURS

ROUNDING = 1e-5  # the largest gap two runs of the same arithmetic in another order were seen to reach
CLOSE = 1e-3  # up to here a small slip (a constant a little off); beyond, another model
RUN_HELP = (f"digits ({', '.join(DIGIT_EXERCISES)}), gpt ({', '.join(GPT_EXERCISES)}), or one of "
            "those exercises alone.")


@practice_app.command("run")
def run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help=f"What to train: {RUN_HELP}"),
    iters: int = typer.Option(GPT_ITERS, "--iters", min=1, help="GPT: training iterations."),
    every: int | None = typer.Option(None, "--every", min=1, help="GPT: a row of the loss table every N "
                                     "iterations (default: a tenth of --iters)."),
    limit: int | None = typer.Option(None, "--limit", min=1,
                                     help="Digits: train on the first N images only."),
    data: Path | None = typer.Option(None, "--data", help="Digits: the folder with the four MNIST files "
                                     "(default: MNIST where kqv finds it, else synthetic digits)."),
    synthetic: bool = typer.Option(False, "--synthetic", help="Digits: kqv's synthetic digits, not MNIST."),
    text: Path | None = typer.Option(None, "--text", help="GPT: a UTF-8 text to train on (default: Tiny "
                                     "Shakespeare where kqv finds it, else a built-in paragraph)."),
    folder: Path | None = DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end instead."),
) -> None:
    """Train a model with your passed functions in kqv's engine, beside the engine's own run.

    digits: your backprop and update_mini_batch (and sigmoid, feedforward when passed) train the
    book's 784-30-10 net for one epoch (m = 10, η = 3.0); your network's test accuracy is shown
    beside the engine's, same seed and settings. gpt: your passed functions (embedding,
    layernorm, heads, softmax, attention, attention_backward, adamw) train the lab's small
    character GPT; your loss curve is drawn beside the engine's. An exercise name runs its model
    with that one function of yours. Each function must have passed `kqv practice check`.
    """
    from kqv_cli.practice.run_plan import MODEL_WORDS, plan_run
    from kqv_cli.practice.workspace import find_workspace
    from lessons.practice import find_exercise

    workspace = find_workspace(_folder(ctx, folder))
    plan = plan_run(name, _progress(workspace))
    files = {e: workspace.existing_file(find_exercise(e)) for e in plan.yours}
    if not as_json:
        engines = (("   the engine's: ", "dim"), (", ".join(plan.engines), "dim")) if plan.engines else ()
        console.print(styled(("yours: ", "bold"), ", ".join(plan.yours), *engines), soft_wrap=True)
    from kqv_cli.practice.learner_process import LearnerCodeFailed

    try:
        if plan.model == "digits":
            _run_digits(plan, files, data, synthetic, limit, MODEL_WORDS[plan.model], as_json)
        else:
            _run_gpt(plan, files, text, iters, every, MODEL_WORDS[plan.model], as_json)
    except LearnerCodeFailed as exc:
        error(str(exc))
        raise typer.Exit(1) from None


def _stopped(where: str) -> typer.Exit:
    return interrupted(f"practice run stopped (Ctrl-C) {where}; nothing was written")


# -- the digit net --------------------------------------------------------------------------------


def _run_digits(plan, files, data: Path | None, synthetic: bool, limit: int | None, words: str,
                as_json: bool) -> None:
    from kqv_cli.commands.digits import accuracy
    from kqv_cli.ctrl_c import stop_on_ctrl_c
    from kqv_cli.practice.side_by_side import DigitSettings, run_digits
    from kqv_cli.services import datasets

    settings = DigitSettings()
    if data is not None or synthetic:
        train, _, test = datasets.digits(data, synthetic, settings.seed, limit=limit)
    else:
        train, _, test = datasets.digits_here()
    if limit is not None:
        train = type(train)(train.x[:limit], train.labels[:limit], train.source)
    s = settings
    if not as_json:
        console.print(f"{words}, {'-'.join(map(str, s.sizes))}, {s.epochs} epoch, m = {s.batch_size}, "
                      f"η = {s.eta:g}, seed {s.seed}: {len(train):,} training images of {train.source}",
                      soft_wrap=True)
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("mini-batches"), TimeRemainingColumn(), console=console, transient=True,
                        disable=as_json)
    tasks = {YOURS: progress.add_task("your network", total=None),
             ENGINE: progress.add_task("kqv's engine", total=None)}

    def on_batch(who: str, done: int, total: int) -> None:
        if done == 1 or done % 50 == 0 or done == total:
            progress.update(tasks[who], completed=done, total=total)

    with progress, stop_on_ctrl_c() as should_stop:
        outcome = run_digits(plan, files, train, test, settings, on_batch, should_stop)
    if outcome.stopped:
        raise _stopped("before the epoch ended")
    if as_json:
        print_json({"model": "digits", "yours": list(plan.yours), "engine": list(plan.engines),
                    "data": train.source, "train_images": len(train), "sizes": list(s.sizes),
                    "epochs": s.epochs, "batch_size": s.batch_size, "eta": s.eta, "seed": s.seed,
                    "test_images": outcome.total, "correct": outcome.correct, "cost": outcome.cost,
                    "weight_gap": outcome.weight_gap})
        return
    rows = (("your network:", outcome.correct[YOURS]), ("kqv's engine:", outcome.correct[ENGINE]))
    for label, correct in rows:
        console.print(f"{label:<14} {accuracy(correct, outcome.total)} test images right")
    console.print(_digits_verdict(outcome), soft_wrap=True)


def _digits_verdict(outcome) -> str:
    gap = outcome.weight_gap
    yours, engine = outcome.correct[YOURS], outcome.correct[ENGINE]
    if gap == 0.0:
        return "the same network to the last bit: your functions train it exactly as the engine's do"
    if gap <= ROUNDING:
        return (f"the weights differ by at most {gap:.1e} (float rounding: the same arithmetic in another "
                f"order); {abs(yours - engine)} test image{'s' * (abs(yours - engine) != 1)} apart")
    return (f"the weights differ by up to {gap:.3g}: your functions train another network "
            f"({yours - engine:+,} test images against the engine's); `kqv practice check` each one again")


# -- the character GPT ----------------------------------------------------------------------------


def _run_gpt(plan, files, text: Path | None, iters: int, every: int | None, words: str,
             as_json: bool) -> None:
    from kqv_cli.ctrl_c import stop_on_ctrl_c
    from kqv_cli.practice.side_by_side import gpt_configs, run_gpt
    from kqv_cli.services import datasets

    data = datasets.text_without_download(text, 32)
    cfg, tc = gpt_configs(data, iters, 1337)
    if data.train.size <= cfg.block_size or data.val.size <= cfg.block_size:
        raise KqvError(f"the text is too short for the GPT's block of {cfg.block_size} characters")
    if not as_json:
        console.print(f"{words}, {cfg.n_layer} blocks, C = {cfg.n_embd}, {cfg.n_head} heads, "
                      f"T = {cfg.block_size}, batch {tc.batch_size}, {iters} iterations, seed {tc.seed}: "
                      f"{data.source}", soft_wrap=True)
    every = every or max(1, iters // 10)
    live_table = not console.is_terminal and not as_json
    if live_table:
        console.print(f"{'iter':>6}  {'yours':>8}  {'engine':>8}  {'difference':>10}")
    progress = Progress(TextColumn("iter"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss: yours {task.fields[yours]:.4f} · engine {task.fields[engine]:.4f}"),
                        TimeRemainingColumn(), console=console, transient=True,
                        disable=live_table or as_json)
    task = progress.add_task("train", total=iters, yours=float("nan"), engine=float("nan"))

    def on_step(it: int, yours: float, engine: float) -> None:
        if it % every == 0 or it == iters or it == 1:
            if live_table:
                console.print(f"{it:>6}  {yours:>8.4f}  {engine:>8.4f}  {yours - engine:>+10.2e}")
            elif not as_json:
                progress.update(task, completed=it, yours=yours, engine=engine)

    with progress, stop_on_ctrl_c() as should_stop:
        outcome = run_gpt(plan, files, data, iters, tc.seed, on_step, should_stop)
    if outcome.stopped:
        raise _stopped(f"after iteration {outcome.iters} of {iters}")
    if as_json:
        print_json({"model": "gpt", "yours": list(plan.yours), "engine": list(plan.engines),
                    "data": data.source,
                    "config": cfg.to_dict(), "batch_size": tc.batch_size, "seed": tc.seed, "iters": iters,
                    "losses": outcome.losses, "val_loss": outcome.val_loss, "samples": outcome.samples,
                    "largest_gap": outcome.largest_gap})
        return
    if not live_table:
        _gpt_chart_and_table(outcome, every)
    val = outcome.val_loss
    console.print(f"validation loss after {iters} iterations: yours {val[YOURS]:.4f} · kqv's engine "
                  f"{val[ENGINE]:.4f}")
    console.print(dim(f"what each model writes ({len(outcome.samples[YOURS])} characters, temperature 0.8, "
                      "the same seed; the engine's sampling on the weights each run trained):"))
    for label, who in (("yours", YOURS), ("kqv's engine", ENGINE)):
        console.print(f"  {label + ':':<14}{one_line(outcome.samples[who])}", soft_wrap=True)
    console.print(_gpt_verdict(outcome), soft_wrap=True)


def one_line(text: str) -> str:
    """A sample on one line: newlines shown as ⏎, control characters as their escapes."""
    from kqv_cli.generated_text import visible

    return visible(text.replace("\n", "⏎"))


def _gpt_chart_and_table(outcome, every: int) -> None:
    from kqv_cli.charts import print_line_chart

    xs = list(range(1, outcome.iters + 1))
    series = [("yours", xs, outcome.losses[YOURS]), ("kqv's engine", xs, outcome.losses[ENGINE])]
    print_line_chart(console, series, "training loss", "iteration")
    table = Table(title="the loss, every " + (f"{every} iterations" if every > 1 else "iteration"),
                  title_justify="left")
    for col in ("iter", "yours", "engine", "difference"):
        table.add_column(col, justify="right")
    for it in [1, *range(every, outcome.iters + 1, every)]:
        a, b = outcome.losses[YOURS][it - 1], outcome.losses[ENGINE][it - 1]
        table.add_row(str(it), f"{a:.4f}", f"{b:.4f}", f"{a - b:+.2e}")
    console.print(table)


def _gpt_verdict(outcome) -> str:
    gap = outcome.largest_gap
    if gap == 0.0:
        return "the same loss at every iteration, to the last bit: your functions train it as the engine's do"
    if gap <= ROUNDING:
        return (f"the two curves differ by at most {gap:.1e} (float32 rounding: the same arithmetic in "
                "another order): your functions train it as the engine's do")
    if gap <= CLOSE:
        return (f"the two curves differ by up to {gap:.1e}: close, but more than float32 rounding gives "
                "here (about 1e-7 a step); a number a little off somewhere? `kqv practice check` each one")
    return (f"the two curves differ by up to {gap:.3g}: your functions train another model; "
            "`kqv practice check` each one again")

