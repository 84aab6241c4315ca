"""Running many simulations on Dask distributed: the engine under ensembles, comparisons,
sensitivity analysis, calibration and pattern validation.

A batch is a list of scenarios (each with its own seed and parameters). Each is one Dask task
that builds and runs a :class:`~jangmadang.Sim` on a worker and returns its results; the
client hands every result to a callback the moment it arrives, so callers can store it at
once. Tasks are retried when they fail, and Dask reruns the tasks of a worker that dies.

The cluster is a :class:`distributed.LocalCluster` of single-threaded worker processes on
this machine by default, or an existing cluster reached by its scheduler address.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from jangmadang.experiments import checks
from jangmadang.scenario import Scenario
from jangmadang.timeline import format_month

RETRIES = 3  # a task that raises is tried again this many times

# Environment of local worker processes. Dask's default caps glibc's trim threshold at 64 KiB,
# so every large NumPy temporary is mmapped and unmapped again: a run took 1.8x as long in a
# worker as in the main process. Large thresholds keep that memory in the heap for reuse
# (measured: equal speed).
WORKER_ENVIRON = {
    "OMP_NUM_THREADS": 1,
    "MKL_NUM_THREADS": 1,
    "OPENBLAS_NUM_THREADS": 1,
    "NUMBA_NUM_THREADS": 1,  # one worker process per core: kernels' block threads would contend
    "MALLOC_TRIM_THRESHOLD_": 2**31,
    "MALLOC_MMAP_THRESHOLD_": 2**30,
}


def member_seeds(base_seed: int, n: int) -> list[int]:
    """Seeds of ensemble members 0..n-1, derived from the scenario's seed.

    Member i's seed does not depend on n, so an ensemble can be extended or resumed.
    """
    children = np.random.SeedSequence(base_seed).spawn(n)
    return [int(child.generate_state(1, np.uint32)[0]) for child in children]


@contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A Dask client: on an existing cluster (``scheduler`` address) or on a local cluster
    of ``workers`` single-threaded processes (default: one per CPU)."""
    import dask
    from distributed import Client, LocalCluster

    checks.cluster(workers, scheduler)  # else no workers or no scheduler: a silent hang
    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        dask.config.set({"distributed.nanny.pre-spawn-environ": WORKER_ENVIRON}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: several clusters may run at once
            silence_logs=40,  # errors only
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def using_client(client=None, workers: int | None = None, scheduler: str | None = None):
    """The caller's Dask client if it gave one, else a new one for the duration."""
    if client is not None:
        yield client
        return
    with dask_client(workers, scheduler) as own:
        yield own


def run_scenario(scenario: Scenario) -> tuple[pd.DataFrame, float]:
    """Build and run one scenario (on a worker); return its results and wall seconds."""
    from jangmadang.sim import Sim

    started = time.perf_counter()
    sim = Sim(scenario).run()
    return sim.results, time.perf_counter() - started


def run_batch(
    client,
    scenarios: Sequence[Scenario],
    on_result: Callable[[int, pd.DataFrame, float], None],
    keys: Sequence[str] | None = None,
    function: Callable[[Any], tuple[Any, float]] = run_scenario,
) -> None:
    """Run every scenario on the cluster; call ``on_result(index, results, wall_seconds)`` on
    the client as each finishes, in whatever order they finish.

    ``keys`` name the tasks (they must be unique); naming a task after what it computes lets
    a resubmitted task reuse a result the cluster still holds. ``function`` runs one task (by
    default one scenario; :mod:`~jangmadang.experiments.paired` runs a family of forks).
    """
    from distributed import as_completed

    if not scenarios:
        return
    keys = list(keys) if keys is not None else None
    futures = client.map(
        function, list(scenarios), key=keys, retries=RETRIES, pure=keys is not None
    )
    index = {future.key: i for i, future in enumerate(futures)}
    try:
        for future in as_completed(futures):
            results, wall = future.result()
            on_result(index[future.key], results, wall)
            future.release()
    finally:
        client.cancel(futures)


def national_means(
    results: pd.DataFrame, indicators: Sequence[str], window: tuple[str, str] | None = None
) -> dict[str, float]:
    """One number per indicator for a run: the mean of its national series over ``window``
    (first and last month, inclusive; default the whole run)."""
    national = results[(results.dimension == "all") & results.indicator.isin(indicators)]
    if window is not None:
        national = national[(national.date >= window[0]) & (national.date <= window[1])]
    means = national.groupby("indicator")["value"].mean()
    return {name: float(means.get(name, np.nan)) for name in indicators}


def keyed(prefix: str, base: Scenario, **settings) -> tuple[str, dict]:
    """A name for an experiment's outputs (``<prefix>-<hash>``) and the settings it hashes:
    the scenario (its hash covers every value, the population, months and seed, which are
    also listed for readers) and the experiment's own ``settings``. Experiments that differ in
    anything get different names, so they never share a study or overwrite each other's
    files."""
    settings = {
        "scenario": base.name,
        "scenario_hash": base.fingerprint(),
        "population": base.population.size,
        "seed": base.seed,
        "months": [format_month(base.start), format_month(base.end)],
        **settings,
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"{prefix}-{key}", settings
