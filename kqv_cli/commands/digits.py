"""``kqv train digits``, ``kqv eval digits`` and ``kqv trace digits``: Nielsen's digit net.

The engine does the work (:mod:`engine.digits.network`, :mod:`engine.data.mnist`); this module parses
options, picks the data, shows progress and prints results.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from engine.digits.network import (
    ACTIVATIONS,
    Network,
    load_network,
    one_hot,
)
from engine.errors import KqvError, TrainingDiverged
from engine.files.checkpoint import OutputClaim
from engine.runtime.blas import blas_threads
from engine.runtime.memory import check_fits, digits_memory
from engine.trace import Tracer
from kqv_cli.charts import print_line_chart
from kqv_cli.checkpoint_out import check_writable
from kqv_cli.cli import eval_app, interrupted, trace_app, train_app
from kqv_cli.ctrl_c import stop_on_ctrl_c
from kqv_cli.messages import console, dim, note, print_json, styled
from kqv_cli.services import datasets
from kqv_cli.services.numbers import (
    CLASSES,
    IMAGE_PIXELS,
    check_digits_training,
    check_fits_digits,
    check_positive,
)
from kqv_cli.trace_table import print_trace

N_MNIST_TRAIN = 50_000  # MNIST's training split as the book cuts it (10,000 go to validation)
COST_HELP = ("Cost function, as in the book's chapter 3: quadratic (½‖y − a‖², sigmoid outputs) | "
             "cross-entropy (−Σ\\[y ln a + (1−y) ln(1−a)], sigmoid outputs, network2's "
             "CrossEntropyCost) | log-likelihood (−ln a_y, softmax outputs).")


def parse_sizes(text: str) -> list[int]:
    """``"784,30,10"`` -> ``[784, 30, 10]``, with a clear error for anything else."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise KqvError(
            f"--sizes takes whole numbers separated by commas, like 784,30,10; got {text!r}"
        ) from None
    if len(sizes) < 2 or any(n <= 0 for n in sizes):
        raise KqvError(f"--sizes needs at least two positive layer sizes, like 784,30,10; got {text!r}")
    return sizes


def load_digits(data: Path | None, synthetic: bool, seed: int, quiet: bool, limit: int | None = None):
    """(train, validation, test) from MNIST, or from the synthetic generator when asked
    (:func:`kqv_cli.services.datasets.digits`), with a bar while MNIST downloads."""
    from kqv_cli.progress_bars import download_progress

    with download_progress(enabled=not quiet and not synthetic) as on_progress:
        return datasets.digits(data, synthetic, seed, on_progress, limit)


def accuracy(correct: int | None, total: int) -> str:
    """``9,542 / 10,000 (95.42%)``"""
    if correct is None or total == 0:
        return "-"
    return f"{correct:,} / {total:,} ({100 * correct / total:.2f}%)"


@train_app.command("digits")
def train_digits(
    sizes: str = typer.Option("784,30,10", help="Neurons per layer, input first."),
    epochs: int = typer.Option(30, help="Passes over the training images."),
    batch_size: int = typer.Option(10, "--batch-size", help="Images per mini-batch (m)."),
    eta: float = typer.Option(3.0, help="Learning rate η."),
    cost: str = typer.Option("quadratic", help=COST_HELP),
    lmbda: float = typer.Option(0.0, help="L2 regularisation λ (the book's lmbda)."),
    activation: str = typer.Option("sigmoid", help=f"Hidden layers: {' | '.join(ACTIVATIONS)}."),
    schedule: str = typer.Option(
        "cosine", help="η per epoch: cosine (glides to 0 by the last epoch) | constant (the book's)."),
    seed: int = typer.Option(0, help="Seed for the weights and the shuffling."),
    data: Path | None = typer.Option(None, "--data", help="Folder with the four MNIST files."),
    synthetic: bool = typer.Option(False, help="Train on built-in synthetic digits (no download)."),
    limit: int | None = typer.Option(None, help="Train on the first N training images only."),
    out: Path | None = typer.Option(None, "--out", help="Save the trained network to this .npz."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out this run did not write."),
    threads: int = typer.Option(1, help="BLAS threads (1 is fastest for these small matrices)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object at the end instead."),
) -> None:
    """Train Nielsen's digit network on MNIST.

    The defaults are the book's chapter-1 run (784-30-10, 30 epochs, m = 10,
    η = 3.0, quadratic cost), with η gliding down a cosine; --schedule constant
    keeps the book's fixed η.

    The weights start as Gaussians scaled by 1/√n_in (n_in: the inputs of each
    neuron), network2.py's default initialiser, not network.py's N(0, 1); the
    biases start as N(0, 1).
    """
    layer_sizes = parse_sizes(sizes)
    check_digits_training(layer_sizes, epochs, batch_size, eta, lmbda, schedule, limit, threads)
    # said once every other input has been checked, so a refused run never announced a replacement
    replacing = check_writable(out, replace=force)
    check_fits(digits_memory(layer_sizes, batch_size, limit or N_MNIST_TRAIN, training=True),
               f"a {'-'.join(map(str, layer_sizes))} net with mini-batches of {batch_size}",
               "lower --sizes or --batch-size")
    net = Network(layer_sizes, activation=activation, cost=cost, seed=seed)

    train, validation, test = load_digits(data, synthetic, seed, quiet=as_json, limit=limit)
    if replacing:
        note(replacing)
    x, labels = train.x, train.labels
    if limit is not None:
        x, labels = x[:limit], labels[:limit]
    if not as_json:
        console.print(
            f"Training {'-'.join(map(str, layer_sizes))} ({net.num_params:,} parameters) on "
            f"{len(x):,} images of {train.source}: {epochs} epochs, mini-batch {batch_size}, "
            f"η = {eta:g} ({schedule}), {cost} cost{f', λ = {lmbda:g}' if lmbda else ''}, "
            f"{activation} hidden"
        )

    # looked at again before every save, so a second run with the same --out is never silently
    # replaced by this one (engine.files.checkpoint.OutputClaim)
    claim = OutputClaim(out) if out is not None else None
    results, saved, stopped, diverged = run_with_progress(
        net, (x, labels), (validation, test), claim, train.source, as_json, threads,
        epochs=epochs, mini_batch_size=batch_size, eta=eta, lmbda=lmbda, seed=seed, schedule=schedule)

    if diverged is not None:
        kept = f"; the last good checkpoint is {saved}" if saved else ""
        raise KqvError(f"{diverged}{kept}")
    if as_json:
        print_json(training_summary(results, layer_sizes, train.source, cost, eta, schedule,
                                               batch_size, lmbda, activation, saved))
    elif results:
        plot_accuracy(results)
        if saved:
            console.print(f"Saved to {saved}")
        elif out is None and not stopped:  # say so: a learner expects a trained net to be kept
            console.print("No checkpoint written (no --out given): add --out FILE.npz to keep the net.",
                          style="dim")
    if claim is not None and (moved := claim.note()):
        note(moved)
    if stopped:
        raise interrupted(interrupted_line(results, saved, out))


def run_with_progress(net, training_data, checks, claim, source, as_json, threads, **sgd):
    """``net.SGD`` with a bar per epoch, a line per finished epoch and a checkpoint after each
    (through ``claim``), stopping cleanly on Ctrl-C. Returns (results, saved, stopped, diverged):
    the epochs finished, the last checkpoint written, whether Ctrl-C stopped it, and the
    TrainingDiverged that ended it, if one did."""
    validation, test = checks
    results, saved = [], None
    progress = Progress(
        TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("mini-batches"), TimeRemainingColumn(), console=console, transient=True,
        disable=as_json,
    )

    def on_epoch(result):
        nonlocal saved
        results.append(result)
        if claim is not None:
            saved = claim.save(net.to_arrays(), {**net.meta(), "epochs_done": result.epoch, "data": source})
        if not as_json:
            progress.console.print(
                f"epoch {result.epoch:>3}  {result.seconds:6.2f}s  cost {result.train_cost:.4f}  "
                f"validation {accuracy(result.validation_correct, result.validation_total)}  "
                f"test {accuracy(result.test_correct, result.test_total)}"
            )

    batches = -(-len(training_data[0]) // sgd["mini_batch_size"])
    task = progress.add_task("train", total=batches, epoch=1)

    def on_batch(done, total):
        if done == 1:
            progress.reset(task, total=total, epoch=len(results) + 1)
        elif done % 50 == 0 or done == total:
            progress.update(task, completed=done)

    diverged = None
    with progress, stop_on_ctrl_c() as should_stop, blas_threads(threads):
        try:
            net.SGD(training_data, validation_data=(validation.x, validation.labels),
                    test_data=(test.x, test.labels), on_batch=on_batch, on_epoch=on_epoch,
                    should_stop=should_stop, **sgd)
        except TrainingDiverged as exc:
            diverged = exc
        stopped = should_stop()
    return results, saved, stopped, diverged


def interrupted_line(results, saved, out) -> str:
    """What a Ctrl-C mid-run left: the epoch it stopped in and where the last checkpoint is."""
    if saved:
        where = f"; the checkpoint of epoch {len(results)} is {saved}"
    else:
        where = " (no epoch finished, nothing saved)" if out else " (no --out given, nothing saved)"
    return f"interrupted (Ctrl-C) in epoch {len(results) + 1}, before it finished{where}"


def training_summary(results, sizes, source, cost, eta, schedule, batch_size, lmbda, activation,
                     saved) -> dict:
    def frac(correct, total):
        return None if correct is None else correct / total

    return {
        "schedule": schedule,
        "test_accuracy": frac(results[-1].test_correct, results[-1].test_total) if results else None,
        "validation_accuracy": (frac(results[-1].validation_correct, results[-1].validation_total)
                                if results else None),
        "epochs": [
            {
                "epoch": r.epoch,
                "eta": r.eta,
                "seconds": round(r.seconds, 4),
                "train_cost": r.train_cost,
                "validation_accuracy": frac(r.validation_correct, r.validation_total),
                "test_accuracy": frac(r.test_correct, r.test_total),
            }
            for r in results
        ],
        "sizes": sizes,
        "cost": cost,
        "activation": activation,
        "eta": eta,
        "lmbda": lmbda,
        "batch_size": batch_size,
        "data": source,
        "checkpoint": str(saved) if saved else None,
    }


def plot_accuracy(results) -> None:
    """Accuracy per epoch as a terminal line chart."""
    epochs = [r.epoch for r in results]
    splits = {"validation": [(r.validation_correct, r.validation_total) for r in results],
              "test": [(r.test_correct, r.test_total) for r in results]}
    series = [(label, epochs, [100 * c / t for c, t in pairs])
              for label, pairs in splits.items() if pairs[0][0] is not None]
    print_line_chart(console, series, "accuracy per epoch (%)", "epoch")


@eval_app.command("digits")
def eval_digits(
    checkpoint: Path = typer.Argument(..., help="A checkpoint written by `kqv train digits --out`."),
    data: Path | None = typer.Option(None, "--data", help="Folder with the four MNIST files."),
    synthetic: bool = typer.Option(False, help="Evaluate on the synthetic test digits instead."),
    seed: int = typer.Option(0, help="Seed of the synthetic digits."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead."),
) -> None:
    """Test accuracy of a trained digit net, and its 10x10 confusion matrix."""
    net, meta = load_network(checkpoint)
    check_fits_digits(net.sizes)
    _, _, test = load_digits(data, synthetic, seed, quiet=as_json, limit=0)
    predicted = net.predict(test.x)
    confusion = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    np.add.at(confusion, (test.labels, predicted), 1)
    correct = int(np.trace(confusion))
    if as_json:
        print_json({"test_accuracy": correct / len(test), "correct": correct,
                               "total": len(test), "confusion": confusion.tolist(),
                               "sizes": net.sizes, "cost": meta["cost"], "data": test.source})
        return
    console.print(f"{checkpoint}: {'-'.join(map(str, net.sizes))} net, {meta['cost']} cost")
    if "cost_saved_as" in meta:
        console.print(dim(f"saved by an older kqv as {meta['cost_saved_as']!r}, which then meant "
                          "softmax outputs with −ln a_y: today's log-likelihood"))
    console.print(styled(f"Test accuracy on {test.source}: ", (accuracy(correct, len(test)), "bold")))
    table = Table(title="confusion matrix (rows: true digit, columns: predicted)", box=None)
    table.add_column("true", justify="right", style="bold")
    for d in range(CLASSES):
        table.add_column(str(d), justify="right")
    for t in range(CLASSES):
        cells = [Text(str(n), style="green" if t == p else ("red" if n else "dim"))
                 for p, n in enumerate(confusion[t])]
        table.add_row(str(t), *cells)
    console.print(table)


@trace_app.command("digits")
def trace_digits(
    sizes: str = typer.Option("784,30,10", help="Neurons per layer, input first."),
    batch_size: int = typer.Option(10, "--batch-size", help="Images per mini-batch (m)."),
    eta: float = typer.Option(3.0, help="Learning rate η for the update step."),
    cost: str = typer.Option("quadratic", help=COST_HELP),
    activation: str = typer.Option("sigmoid", help=f"Hidden layers: {' | '.join(ACTIVATIONS)}."),
    seed: int = typer.Option(0, help="Seed for the weights and the input."),
    values: bool = typer.Option(False, help="Also show min / mean / max of each variable."),
    data: Path | None = typer.Option(
        None, "--data", help="Folder with the four MNIST files (default: MNIST wherever kqv finds it, "
                             "as the lessons do; synthetic digits when it finds none)."),
    synthetic: bool = typer.Option(False, help="Use built-in synthetic digits even where MNIST is found."),
) -> None:
    """Print every variable of one training step of the digit net, with its shape.

    The images are MNIST's when it is on this machine (--data DIR, $KQV_DATA_DIR or the
    cache folder; nothing is downloaded), else synthetic digits (or with --synthetic); the
    first line says which.
    """
    layer_sizes = parse_sizes(sizes)
    check_positive("--batch-size", batch_size, "number of images")
    if data is not None:
        check_fits_digits(layer_sizes)  # --data holds digits: only a 784-...-10 net reads them
    # the trace keeps a copy of every variable: twice what a training step holds
    estimate = digits_memory(layer_sizes, 2 * batch_size, batch_size, training=True, eval_examples=0)
    check_fits(estimate, f"tracing a {'-'.join(map(str, layer_sizes))} net on {batch_size} images",
               "lower --sizes or --batch-size")
    net = Network(layer_sizes, activation=activation, cost=cost, seed=seed)
    x, y, source = trace_input(layer_sizes, batch_size, seed, data, synthetic)
    tracer = Tracer(dims={**net.dims, "m": batch_size})
    net.traced_update(x, y, eta, tracer)
    dims = ", ".join(f"{k}={v}" for k, v in tracer.dims.items())
    console.print(f"One training step of the {'-'.join(map(str, layer_sizes))} net on {source}; "
                  f"examples are columns, weights are (out, in). Dimensions: {dims}")
    print_trace(tracer, console, values)


def trace_input(sizes: list[int], m: int, seed: int, data: Path | None = None, synthetic: bool = False):
    """A mini-batch as columns, and one line saying what it is.

    For a net that reads digits: ``m`` training images of MNIST picked by ``seed`` when MNIST is
    on this machine (``data``, else where :func:`engine.data.mnist.find_mnist` looks; never a
    download, as in the lessons), else (or when ``synthetic``) synthetic digits. Any other net
    gets random numbers.
    """
    rng = np.random.default_rng(seed)
    if sizes[0] == IMAGE_PIXELS and sizes[-1] == CLASSES:
        from engine.data.mnist import find_mnist, load_mnist

        # an incomplete --data folder is an error, not a reason to fall back
        folder = None if synthetic else find_mnist(data)
        if folder is not None:
            train, _, _ = load_mnist(folder, download=False)
            pick = rng.choice(len(train.labels), size=min(m, len(train.labels)), replace=False)
            return (train.x[pick].T, one_hot(train.labels[pick], CLASSES).T,
                    f"{len(pick)} training images of {train.source}")
        from engine.data.synthetic_digits import synthetic_digits

        digits = synthetic_digits(m, seed=seed)
        why = "" if synthetic else " (no MNIST found: `kqv data mnist` fetches it, --data DIR names it)"
        return digits.x.T, one_hot(digits.labels, CLASSES).T, f"{m} synthetic digits{why}"
    x = rng.random((sizes[0], m)).astype(np.float32)
    y = one_hot(rng.integers(0, sizes[-1], m), sizes[-1]).T
    return x, y, f"{m} random inputs"
