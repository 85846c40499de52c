"""The what-if lab: experiments that answer "what if...?" by training variants side by side.

:mod:`kqv_cli.lab.experiments` lists them, :mod:`kqv_cli.lab.runner` trains and measures them,
:mod:`kqv_cli.lab.verdicts` explains the numbers, :mod:`kqv_cli.lab.cache` remembers results.
"""

from kqv_cli.lab.experiments import (
           EXPERIMENTS,
           METRICS,
           Experiment,
           Variant,
           experiment_names,
           get_experiment,
)
from kqv_cli.lab.runner import LabResult, Point, VariantDone, VariantResult, run_experiment

__all__ = ["EXPERIMENTS", "METRICS", "Experiment", "LabResult", "Point", "Variant", "VariantDone",
           "VariantResult", "experiment_names", "get_experiment", "run_experiment"]
