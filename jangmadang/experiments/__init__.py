"""Experiments at scale on Dask distributed: ensembles, scenario comparison, sensitivity
analysis, calibration and pattern validation."""

from jangmadang.experiments.ensemble import ensemble_summary, member_results, run_ensemble
from jangmadang.experiments.runner import dask_client, member_seeds

__all__ = ["dask_client", "ensemble_summary", "member_results", "member_seeds", "run_ensemble"]
