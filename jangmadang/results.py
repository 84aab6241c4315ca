"""Monthly results in tidy long format: one row per (date, indicator, dimension, group).

``dimension`` says how the population is cut (``all``, ``province``, ``role``,
``household_kind``, ``area``, ``flow``) and ``group`` names the slice (``Pyongyang``,
``trader`` ...). Modules write rows with :class:`Recorder`; the helpers below compute group
sums, means and medians over agent arrays with one vectorised pass each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

COLUMNS = ["date", "indicator", "dimension", "group", "value"]


class Recorder:
    def __init__(self):
        self._rows: dict[str, list] = {c: [] for c in COLUMNS}
        self.month: date | None = None

    def add(self, indicator: str, value: float, dimension: str = "all", group: str = "all"):
        rows = self._rows
        rows["date"].append(self.month)
        rows["indicator"].append(indicator)
        rows["dimension"].append(dimension)
        rows["group"].append(group)
        rows["value"].append(float(value))

    def add_groups(
        self, indicator: str, values: Sequence[float], dimension: str, groups: Sequence[str]
    ):
        for group, value in zip(groups, values, strict=True):
            self.add(indicator, value, dimension, group)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self._rows, columns=COLUMNS)
        frame["date"] = pd.to_datetime(frame["date"])
        return frame


def group_sum(codes: np.ndarray, n_groups: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n_groups)[:n_groups]


def group_mean(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` within each group; NaN for an empty group."""
    counts = group_sum(codes, n_groups)
    sums = group_sum(codes, n_groups, values.astype(np.float64, copy=False))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def group_median(codes: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Median of ``values`` within each group, from one sort by (group, value)."""
    order = np.lexsort((values, codes))
    sorted_codes, sorted_values = codes[order], values[order]
    bounds = np.searchsorted(sorted_codes, np.arange(n_groups + 1))
    medians = np.full(n_groups, np.nan)
    for g in range(n_groups):
        lo, hi = bounds[g], bounds[g + 1]
        if hi > lo:
            medians[g] = np.median(sorted_values[lo:hi])
    return medians


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, 1 = one holds all)."""
    if len(values) == 0:
        return float("nan")
    ordered = np.sort(values.astype(np.float64, copy=False))
    total = ordered.sum()
    if total <= 0:
        return 0.0
    n = len(ordered)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * np.dot(ranks, ordered) / (n * total)) - (n + 1) / n)
