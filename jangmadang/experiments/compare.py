"""Scenario comparison: two scenarios on the same seeds, paired differences with intervals.

Both ensembles use the member seeds of the base scenario's seed, so member i of each shares
every random draw the policy does not touch (common random numbers), and the paired
difference alt - base isolates the policy's effect. Intervals are Student-t intervals of the
mean paired difference over members, so a comparison needs at least two members.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from jangmadang.experiments import checks
from jangmadang.experiments.ensemble import member_results, resolve
from jangmadang.experiments.paired import run_paired
from jangmadang.experiments.runner import national_means
from jangmadang.scenario import Scenario, with_overrides
from jangmadang.store import ResultsStore

DEFAULT_INDICATORS = (
    "food_insecure_share",
    "food_price_usd_per_kg",
    "remittances_received_usd",
    "defections",
    "private_loyalty",
    "compliance",
    "income_market_usd",
    "punishments",
)


def interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t interval of the mean (NaN bounds for one value: no interval)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


@dataclass
class Comparison:
    base_ensemble: str
    alt_ensemble: str
    table: pd.DataFrame  # indicator, base, alt, difference, low, high, runs
    differences: pd.DataFrame  # date, indicator, mean, low, high: paired difference over time


def check_inputs(
    base: Scenario, alt: Scenario, runs: int, indicators, window
) -> tuple[list[str], tuple[str, str] | None]:
    """A comparison's inputs, checked before anything runs: at least two members, known
    national indicators, a window of months inside the runs, the same months for both."""
    checks.interval_runs(runs)
    checks.same_months(base, alt, "alt")
    return checks.indicators(indicators), checks.window(window, base)


def compare(
    base: str | Path | Scenario,
    alt: str | Path | Scenario,
    runs: int,
    *,
    indicators: tuple[str, ...] | list[str] = DEFAULT_INDICATORS,
    window: tuple[str, str] | None = None,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Comparison:
    """Run (or resume) both ensembles on the base's seeds and compare them member by member."""
    base_scenario = resolve(base, **run_options)
    alt_scenario = with_overrides(resolve(alt, **run_options), {"seed": base_scenario.seed})
    indicators, window = check_inputs(base_scenario, alt_scenario, runs, indicators, window)
    if client is None:
        checks.cluster(workers, scheduler)

    base_id, alt_id = run_paired(  # the shared history runs once, then forks
        [base_scenario, alt_scenario],
        runs,
        out=out,
        workers=workers,
        scheduler=scheduler,
        client=client,
        progress=progress,
    )
    store = ResultsStore(out)
    base_runs, alt_runs = member_results(store, base_id), member_results(store, alt_id)
    members = sorted(set(base_runs) & set(alt_runs))[:runs]
    rows, over_time = [], []
    for indicator in indicators:
        b = np.array(
            [national_means(base_runs[m], [indicator], window)[indicator] for m in members]
        )
        a = np.array([national_means(alt_runs[m], [indicator], window)[indicator] for m in members])
        mean, low, high = interval(a - b)
        rows.append(
            {
                "indicator": indicator,
                "base": float(np.nanmean(b)) if len(b) else np.nan,
                "alt": float(np.nanmean(a)) if len(a) else np.nan,
                "difference": mean,
                "low": low,
                "high": high,
                "runs": len(members),
            }
        )
        over_time.append(paired_over_time(base_runs, alt_runs, members, indicator))
    return Comparison(base_id, alt_id, pd.DataFrame(rows), pd.concat(over_time, ignore_index=True))


def paired_over_time(base_runs, alt_runs, members, indicator: str) -> pd.DataFrame:
    """Per date, the mean over ``members`` of alt - base in a national indicator, and its 95%
    t-interval: the effect month by month (a report draws it for two stored ensembles)."""

    def national(df):
        rows = df[(df.indicator == indicator) & (df.dimension == "all")]
        return rows.set_index("date")["value"]

    diffs = pd.DataFrame({m: national(alt_runs[m]) - national(base_runs[m]) for m in members})
    bands = [interval(diffs.loc[date].to_numpy()) for date in diffs.index]
    return pd.DataFrame(
        {
            "date": diffs.index,
            "indicator": indicator,
            "mean": [b[0] for b in bands],
            "low": [b[1] for b in bands],
            "high": [b[2] for b in bands],
        }
    )
