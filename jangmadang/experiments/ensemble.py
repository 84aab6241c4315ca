"""Ensembles: one scenario over many seeds, stored member by member, summarised as bands.

>>> from jangmadang.experiments import run_ensemble, ensemble_summary
>>> ensemble_id = run_ensemble("baseline", runs=16, workers=2, population=100_000)
>>> summary = ensemble_summary(ResultsStore("results"), ensemble_id)

The ensemble's id comes from the scenario (name, hash of its resolved values) and its seed,
and member i always has the same seed (derived from the scenario's), so running the same
command again resumes it: members already in the store are skipped, the others are run and
stored the moment each finishes. A member's results depend only on its seed, never on the
number of workers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

from jangmadang.experiments import checks
from jangmadang.experiments.runner import member_seeds, run_batch, using_client
from jangmadang.scenario import Scenario, load_scenario, with_overrides
from jangmadang.sim import run_overrides
from jangmadang.store import ResultsStore


class EnsembleExists(ValueError):
    """The ensemble already has stored members and resuming was not asked for."""


def resolve(scenario: str | Path | Scenario, source: str = "override", **run_options) -> Scenario:
    """A scenario from a built-in name, a TOML path or a Scenario, with run options
    (population, scale, seed, start, end) applied; their problems are reported against
    ``source`` (the command line names its options)."""
    overrides = run_overrides(**run_options)
    if isinstance(scenario, Scenario):
        return with_overrides(scenario, overrides, source)
    return load_scenario(scenario, overrides, source)


def ensemble_id_of(scenario: Scenario) -> str:
    """Stable id: the same scenario and seed always name the same ensemble."""
    return f"{scenario.name}-{scenario.fingerprint()[:12]}"


def run_ensemble(
    scenario: str | Path | Scenario,
    runs: int,
    *,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
    on_member: Callable[[int], None] | None = None,
    **run_options,
) -> str:
    """Run members 0..runs-1 that the store does not hold yet; return the ensemble id.

    An ensemble that already has members is completed only with ``resume`` (else
    :class:`EnsembleExists`). ``client`` reuses a Dask client (else one is made from
    ``workers``/``scheduler``); ``progress(done, total)`` and ``on_member(member)`` are called
    as members are stored.
    """
    base = resolve(scenario, **run_options)
    checks.at_least("runs", runs, 1)
    if client is None:
        checks.cluster(workers, scheduler)
    store = ResultsStore(out)
    ensemble_id = ensemble_id_of(base)
    store.open_ensemble(ensemble_id, base)
    seeds = member_seeds(base.seed, runs)
    stored = set(store.ensemble_members(ensemble_id)["member"])
    if stored and not resume:
        raise EnsembleExists(
            f"ensemble {ensemble_id} already has {len(stored)} stored members; "
            "resume it to run only the missing ones"
        )
    missing = [m for m in range(runs) if m not in stored]
    members = [with_overrides(base, {"seed": seeds[m]}) for m in missing]
    done = runs - len(missing)
    if progress:
        progress(done, runs)

    def store_member(i: int, results: pd.DataFrame, wall: float) -> None:
        nonlocal done
        store.save_member(ensemble_id, missing[i], members[i], results, wall)
        done += 1
        if progress:
            progress(done, runs)
        if on_member:
            on_member(missing[i])

    keys = [f"{ensemble_id}-m{m}" for m in missing]
    with using_client(client, workers, scheduler) as c:
        run_batch(c, members, store_member, keys)
    return ensemble_id


def ensemble_summary(
    store: ResultsStore,
    ensemble_id: str,
    indicators: list[str] | None = None,
    yearly: bool = False,
) -> pd.DataFrame:
    """Per date, indicator, dimension and group: mean, median and the 5-95% band over members.

    ``yearly``: the same statistics of each member's totals over complete years of national
    series (dated mid-year), as a run's plot draws an indicator with a published yearly series.
    """
    paths = list(store.ensemble_members(ensemble_id)["results_path"])
    if not paths:
        raise KeyError(f"ensemble {ensemble_id!r} has no stored members")
    listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    conditions = ["dimension = 'all'"] if yearly else []
    if indicators:
        names = ", ".join("'" + i.replace("'", "''") + "'" for i in indicators)
        conditions.append(f"indicator IN ({names})")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = f"SELECT * FROM read_parquet([{listing}]) {where}"
    if yearly:
        rows = (
            "SELECT CAST(make_date(year(date), 7, 1) AS TIMESTAMP) AS date, indicator, "
            f'dimension, "group", sum(value) AS value FROM ({rows}) '
            'GROUP BY run_id, year(date), indicator, dimension, "group" HAVING count(*) = 12'
        )
    sql = (
        'SELECT date, indicator, dimension, "group", count(*) AS runs, avg(value) AS mean, '
        "median(value) AS median, quantile_cont(value, 0.05) AS q05, "
        "quantile_cont(value, 0.95) AS q95 "
        f"FROM ({rows}) "
        'GROUP BY date, indicator, dimension, "group" ORDER BY indicator, dimension, "group", date'
    )
    with duckdb.connect() as con:
        return con.execute(sql).df()


def plot_ensemble_figure(
    store: ResultsStore, ensemble_id: str, path: str | Path, indicators: list[str] | None = None
) -> Path:
    """An ensemble's figure: median and 5-95% band of each indicator (default: the single
    series of a run's default figure), indicators with a published yearly series per year at
    1:1, and the scenario's events."""
    from jangmadang.plotting import DEFAULT_INDICATORS, PUBLISHED, STACKED, plot_ensemble

    members = store.ensemble_members(ensemble_id)
    if members.empty:
        raise KeyError(f"ensemble {ensemble_id!r} has no stored members")
    scenario = store.scenario(members.run_id.iloc[0])
    chosen = list(indicators or [i for i in DEFAULT_INDICATORS if i not in STACKED])
    if stacked := [i for i in chosen if i in STACKED]:
        raise checks.BadInput(
            "indicators", f"{', '.join(stacked)}: a stacked panel, drawn for single runs only"
        )
    checks.indicators(chosen)
    summary = ensemble_summary(store, ensemble_id, chosen)
    published = [i for i in chosen if i in PUBLISHED]
    yearly = ensemble_summary(store, ensemble_id, published, yearly=True) if published else None
    return plot_ensemble(
        summary,
        scenario.events,
        path,
        chosen,
        ensemble_id,
        yearly=yearly,
        scale=scenario.population.effective_scale,
    )


def member_results(store: ResultsStore, ensemble_id: str) -> dict[int, pd.DataFrame]:
    """Every stored member's results, by member number."""
    members = store.ensemble_members(ensemble_id)
    return {int(row.member): pd.read_parquet(row.results_path) for row in members.itertuples()}
