"""The what-if lab: experiments that answer "what if...?" by training variants side by side.

:mod:`engine.lab.experiments` lists them, :mod:`engine.lab.runner` trains and measures them,
:mod:`engine.lab.verdicts` explains the numbers, :mod:`engine.lab.cache` remembers results.
"""

from engine.lab.experiments import EXPERIMENTS, METRICS, Experiment, Variant, experiment_names, get_experiment
from engine.lab.runner import LabResult, Point, VariantDone, VariantResult, run_experiment

__all__ = ["EXPERIMENTS", "METRICS", "Experiment", "LabResult", "Point", "Variant", "VariantDone",
           "VariantResult", "experiment_names", "get_experiment", "run_experiment"]
