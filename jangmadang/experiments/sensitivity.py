"""Global sensitivity analysis with SALib (Sobol indices or Morris elementary effects).

Each parameter varies over its plausible range from the evidence ledger (``range``, with its
justification there). SALib draws the sample; every sample point is one run of the scenario
with those values, all on the scenario's seed (common random numbers, so differences come from
the parameters, not the draws), run as a Dask batch. An output is one number per run: the mean
of a national indicator over a window.

An analysis is named by everything that defines it (the scenario's hash, which covers its
population, months and seed; the parameters, method, sample size, indicators and window), so
two different analyses never share a name, or the files written under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jangmadang import evidence
from jangmadang.experiments import checks
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import keyed, national_means, run_batch, using_client
from jangmadang.scenario import Scenario, with_overrides

METHODS = ("sobol", "morris")


def problem(params: list[str]) -> dict:
    """The SALib problem: each parameter's bounds from the evidence ledger's ``range``, once
    the parameters are checked (:func:`~jangmadang.experiments.checks.parameters`)."""
    params, entries = checks.parameters(params), evidence.load()
    bounds = [[float(low), float(high)] for low, high in (entries[key].range for key in params)]
    return {"num_vars": len(params), "names": params, "bounds": bounds}


def sample(spec: dict, method: str, samples: int, seed: int) -> np.ndarray:
    if method == "sobol":
        from SALib.sample import sobol

        return sobol.sample(spec, samples, calc_second_order=False, seed=seed)
    from SALib.sample import morris

    return morris.sample(spec, samples, seed=seed)


def point_scenario(base: Scenario, params: list[str], values: np.ndarray) -> Scenario:
    """The scenario with the sample point's values (integers rounded for integer parameters)."""
    overrides = {}
    for key, value in zip(params, values, strict=True):
        section, name = key.split(".")
        current = getattr(getattr(base, section), name)
        overrides[key] = int(round(value)) if isinstance(current, int) else float(value)
    return with_overrides(base, overrides)


def check_inputs(base: Scenario, params, method: str, samples: int, indicators, window):
    """An analysis's inputs, checked before anything runs; returns the SALib problem, the
    indicators and the window."""
    checks.choice("method", method, METHODS)
    checks.at_least("samples", samples, 2)
    return problem(params), checks.indicators(indicators), checks.window(window, base)


@dataclass
class Sensitivity:
    name: str  # <scenario>-<method>-<hash of the settings>
    settings: dict  # everything that defines the analysis
    table: pd.DataFrame  # indicator, parameter and the method's indices


def sensitivity(
    scenario: str | Path | Scenario,
    params: list[str],
    *,
    method: str = "sobol",
    samples: int = 64,
    indicators: list[str] | tuple[str, ...] = ("food_insecure_share",),
    window: tuple[str, str] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Sensitivity:
    """Indices for every (indicator, parameter): for Sobol S1, S1_conf, ST, ST_conf; for
    Morris mu_star, mu_star_conf, sigma."""
    base = resolve(scenario, **run_options)
    spec, indicators, window = check_inputs(base, params, method, samples, indicators, window)
    if client is None:
        checks.cluster(workers, scheduler)
    name, settings = keyed(
        f"{base.name}-{method}",
        base,
        params=spec["names"],
        method=method,
        samples=samples,
        indicators=indicators,
        window=list(window or ()),
    )
    points = sample(spec, method, samples, base.seed)
    scenarios = [point_scenario(base, params, row) for row in points]
    outputs = np.full((len(points), len(indicators)), np.nan)
    done = 0

    def collect(i: int, results: pd.DataFrame, _wall: float) -> None:
        nonlocal done
        means = national_means(results, indicators, window)
        outputs[i] = [means[name] for name in indicators]
        done += 1
        if progress:
            progress(done, len(points))

    with using_client(client, workers, scheduler) as c:
        run_batch(c, scenarios, collect)
    table = _analyse(spec, method, points, outputs, list(indicators), base.seed)
    return Sensitivity(name, settings, table)


def _analyse(spec, method, points, outputs, indicators, seed) -> pd.DataFrame:
    rows = []
    for j, indicator in enumerate(indicators):
        y = outputs[:, j]
        if method == "sobol":
            from SALib.analyze import sobol

            result = sobol.analyze(spec, y, calc_second_order=False, seed=seed)
            columns = ("S1", "S1_conf", "ST", "ST_conf")
        else:
            from SALib.analyze import morris

            result = morris.analyze(spec, points, y, seed=seed)
            columns = ("mu_star", "mu_star_conf", "sigma")
        for k, name in enumerate(spec["names"]):
            row = {"indicator": indicator, "parameter": name}
            row.update({c: float(result[c][k]) for c in columns})
            rows.append(row)
    return pd.DataFrame(rows)


def plot_indices(table: pd.DataFrame, path: str | Path) -> Path:
    """One bar chart per indicator: total-order (Sobol ST) or mu* (Morris) by parameter."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measure = "ST" if "ST" in table else "mu_star"
    error = f"{measure}_conf"
    indicators = list(dict.fromkeys(table.indicator))
    fig, axes = plt.subplots(len(indicators), 1, figsize=(7, 2.4 * len(indicators)), squeeze=False)
    for ax, indicator in zip(axes[:, 0], indicators, strict=True):
        rows = table[table.indicator == indicator]
        ax.barh(rows.parameter, rows[measure], xerr=rows[error], color="tab:blue", alpha=0.8)
        ax.set_title(f"{indicator}: {measure}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
