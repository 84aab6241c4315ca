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

from jangmadang.experiments.runner import member_seeds, run_batch, using_client
from jangmadang.scenario import Scenario, load_scenario, with_overrides
from jangmadang.sim import run_overrides
from jangmadang.store import ResultsStore


class EnsembleExists(ValueError):
    """The ensemble already has stored members and resuming was not asked for."""


def resolve(scenario: str | Path | Scenario, **run_options) -> Scenario:
    """A scenario from a built-in name, a TOML path or a Scenario, with run options
    (population, scale, seed, start, end) applied."""
    overrides = run_overrides(**run_options)
    if isinstance(scenario, Scenario):
        return with_overrides(scenario, overrides)
    return load_scenario(scenario, overrides)


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
    store: ResultsStore, ensemble_id: str, indicators: list[str] | None = None
) -> pd.DataFrame:
    """Per date, indicator, dimension and group: mean, median and the 5-95% band over members."""
    paths = list(store.ensemble_members(ensemble_id)["results_path"])
    if not paths:
        raise KeyError(f"ensemble {ensemble_id!r} has no stored members")
    listing = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
    where = ""
    if indicators:
        names = ", ".join("'" + i.replace("'", "''") + "'" for i in indicators)
        where = f"WHERE indicator IN ({names})"
    sql = (
        'SELECT date, indicator, dimension, "group", count(*) AS runs, avg(value) AS mean, '
        "median(value) AS median, quantile_cont(value, 0.05) AS q05, "
        "quantile_cont(value, 0.95) AS q95 "
        f"FROM read_parquet([{listing}]) {where} "
        'GROUP BY date, indicator, dimension, "group" ORDER BY indicator, dimension, "group", date'
    )
    with duckdb.connect() as con:
        return con.execute(sql).df()


def member_results(store: ResultsStore, ensemble_id: str) -> dict[int, pd.DataFrame]:
    """Every stored member's results, by member number."""
    members = store.ensemble_members(ensemble_id)
    return {int(row.member): pd.read_parquet(row.results_path) for row in members.itertuples()}
