"""The what-if lab: experiments that answer "what if...?" by training variants side by side.

:mod:`kqv_cli.lab.experiments` lists them, :mod:`kqv_cli.lab.runner` trains and measures them
(the translation Transformer's in :mod:`kqv_cli.lab.translation_runner`), :mod:`kqv_cli.lab.results`
holds what a run gives back, :mod:`kqv_cli.lab.verdicts` and :mod:`kqv_cli.lab.translation_verdicts`
explain the numbers, :mod:`kqv_cli.lab.cache` remembers results.
"""

from kqv_cli.lab.experiments import (
           EXPERIMENTS,
           METRICS,
           Experiment,
           Variant,
           experiment_names,
           get_experiment,
)
from kqv_cli.lab.results import LabResult, Point, VariantDone, VariantResult
from kqv_cli.lab.runner import run_experiment

__all__ = ["EXPERIMENTS", "METRICS", "Experiment", "LabResult", "Point", "Variant", "VariantDone",
           "VariantResult", "experiment_names", "get_experiment", "run_experiment"]
