"""``kqv lab`` and ``kqv lab run NAME``: the what-if experiments.

The engine trains, measures and explains (:mod:`kqv_cli.lab`); this module finds the data,
shows a progress bar per variant, and prints the comparison: a table, the loss (or accuracy)
curves as a terminal chart, a sample from each GPT variant, and the verdict.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.padding import Padding
from rich.progress import BarColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from kqv_cli.charts import print_line_chart
from kqv_cli.cli import KqvTyper, app, interrupted
from kqv_cli.ctrl_c import stop_on_ctrl_c
from kqv_cli.messages import console, dim, print_json, styled
from kqv_cli.services.numbers import check_positive

if TYPE_CHECKING:
    from kqv_cli.lab.experiments import Experiment

# kqv_cli.lab (and the lab table built on it) is imported inside the commands, so it loads only
# for `kqv lab`, not on every start


lab_app = KqvTyper(help="What-if experiments: train variants of a model side by side and compare.",
                   rich_markup_mode="rich")
app.add_typer(lab_app, name="lab")


@lab_app.callback(invoke_without_command=True)
def lab(ctx: typer.Context) -> None:
    """List the experiments (run one with: kqv lab run NAME)."""
    if ctx.invoked_subcommand is not None:
        return
    from kqv_cli.lab import EXPERIMENTS

    for kind, title in (("gpt", "GPT"), ("translation", "Translation Transformer"), ("digits", "digit net")):
        group = [e for e in EXPERIMENTS if e.kind == kind]
        if not group:
            continue
        default = f"{group[0].budget} {group[0].unit} per variant by default"
        console.print(styled((title, "bold"), " ", (f"({default})", "dim")))
        table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 2))
        table.add_column("name", style="bold cyan", no_wrap=True)
        table.add_column("what", ratio=1)
        for exp in group:
            table.add_row(exp.name, Text.assemble(" · ".join(v.label for v in exp.variants), "\n",
                                                  (exp.question, "dim")))
        console.print(table)
    console.print(dim("Run one with: kqv lab run NAME [--iters N] [--json] [--fresh]"))


@lab_app.command("run")
def run(
    name: str = typer.Argument(..., help="The experiment (kqv lab lists them)."),
    iters: int | None = typer.Option(
        None, "--iters", help="Budget: GPT iterations, or epochs for the digit net (default: the "
                              "experiment's)."),
    seed: int = typer.Option(0, help="Seed for the weights and the batches, the same for every variant."),
    fresh: bool = typer.Option(False, "--fresh", help="Retrain even when results are cached."),
    text: Path | None = typer.Option(None, "--text", help="GPT experiments: any UTF-8 text (default: "
                                     "Tiny Shakespeare)."),
    pairs: Path | None = typer.Option(None, "--pairs", help="Translation experiments: a source<TAB>target "
                                      "file, or 'builtin' (default: English-French pairs if here, else "
                                      "built-in; tx-no-positions: built-in)."),
    data: Path | None = typer.Option(None, "--data", help="Digit experiments: folder with the MNIST files."),
    synthetic: bool = typer.Option(False, "--synthetic", help="Digit experiments: synthetic digits."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
) -> None:
    """Train an experiment's variants side by side and compare them."""
    from kqv_cli.lab import Point, VariantDone, cache, get_experiment, run_experiment

    exp = get_experiment(name)
    if iters is not None:
        check_positive("--iters", iters, f"number of {exp.unit}")
    dataset = load_data(exp, text, data, synthetic, seed, quiet=as_json, pairs=pairs)
    budget = exp.budget if iters is None else iters
    if not as_json:
        console.print(styled((exp.name, "bold"), f": {exp.question}"))
        console.print(dim(f"{len(exp.variants)} variants, {budget} {exp.unit} each, seed {seed}, "
                          f"on {source_of(dataset)}"))

    progress = Progress(
        TextColumn("{task.description:>14}", markup=False), BarColumn(),
        TextColumn("{task.fields[status]}", markup=False),
        console=console, transient=True, disable=as_json,
    )
    tasks = {v.label: progress.add_task(v.label, total=budget, status="") for v in exp.variants}

    def on_event(event):
        if isinstance(event, Point):
            what = f"accuracy {event.y:.1%}" if exp.kind == "digits" else f"loss {event.y:.3f}"
            progress.update(tasks[event.label], completed=event.x, status=f"{event.x:g}  {what}")
        elif isinstance(event, VariantDone):
            status = "cached" if event.result.cached else f"done in {event.result.seconds:.1f}s"
            progress.update(tasks[event.result.label], completed=budget, status=status)

    # on the lab's default data a finished run is noted, so the Lab screen marks it cached
    default = text is None and pairs is None and data is None and not synthetic
    data_key = cache.data_here(exp) if default else None
    with progress, stop_on_ctrl_c() as should_stop:
        result = run_experiment(exp, dataset, budget=budget, seed=seed, fresh=fresh, on_event=on_event,
                                should_stop=should_stop, data_key=data_key)
    if result.stopped:
        raise interrupted(f"interrupted (Ctrl-C); {len(result.variants)} finished variant(s) were cached")
    if as_json:
        print_json(result.to_json())
        return
    print_result(result)


def load_data(exp: Experiment, text: Path | None, data: Path | None, synthetic: bool, seed: int, quiet: bool,
              pairs: Path | None = None):
    """The experiment's data: a text for the GPT, sentence pairs for the translation model,
    (train, validation, test) digits for the digit net."""
    if exp.kind == "translation":
        from kqv_cli.lab.pairs import builtin_lab_pairs, lab_pairs

        if str(pairs) == "builtin" or (pairs is None and exp.pairs == "builtin"):
            return builtin_lab_pairs()
        return lab_pairs(pairs)
    if exp.kind == "gpt":
        from kqv_cli.commands.gpt import load_text

        return load_text(text, exp.block_size, quiet=quiet)
    from kqv_cli.commands.digits import load_digits

    return load_digits(data, synthetic, seed, quiet=quiet)


def source_of(dataset) -> str:
    return dataset[0].source if isinstance(dataset, tuple) else (dataset.source or "the given text")



def print_result(result) -> None:
    from kqv_cli.lab.experiments import sample_line
    from kqv_cli.lab_table import result_table

    exp = result.experiment
    console.print(result_table(result, with_time=True))
    plot_curves(result)
    if exp.kind == "gpt":
        for v in result.variants:
            console.print(styled((v.label, "bold"), " writes:"))
            sample = Text(sample_line(v.sample) or "(nothing: it diverged)", style="italic")
            console.print(Padding(sample, (0, 0, 0, 2)))
    if exp.kind == "translation":
        for v in result.variants:
            console.print(styled((v.label, "bold"), " translates:"))
            console.print(Padding(Text(v.sample or "(nothing: it diverged)", style="italic"), (0, 0, 0, 2)))
    console.print()
    console.print(Text(result.verdict))



def plot_curves(result) -> None:
    """Every variant's curve in one terminal line chart."""
    exp = result.experiment
    series = [(v.label, *zip(*v.curve, strict=True)) for v in result.variants if len(v.curve) >= 2]
    print_line_chart(console, series, exp.curve_label, "epoch" if exp.kind == "digits" else "iteration",
                     height=18)
