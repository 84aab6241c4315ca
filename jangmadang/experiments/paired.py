"""Ensembles of several scenarios on the same seeds, sharing their common history.

Scenarios compared on the same seed draw the same random numbers (common random numbers), so
their runs are identical until the first month where their parameters differ. Each member
seed is therefore one Dask task that runs the first scenario (the trunk) once up to each other
scenario's first difference, forks it there (:meth:`Sim.fork`) and runs the fork to its end:
the shared months are simulated once instead of once per scenario. A fork equals a separate
full run of its scenario bit for bit (``tests/test_snapshot.py``), so results, ensemble ids
and the store are exactly those of :func:`~jangmadang.experiments.ensemble.run_ensemble` run
once per scenario; only the work differs (``benchmarks/bench_forks.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from jangmadang.experiments.ensemble import ensemble_id_of
from jangmadang.experiments.runner import member_seeds, run_batch, using_client
from jangmadang.scenario import Scenario, with_overrides
from jangmadang.sim import Sim, first_difference
from jangmadang.store import ResultsStore


def run_paired(
    scenarios: Sequence[Scenario],
    runs: int,
    *,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress: Callable[[int, int], None] | None = None,
) -> list[str]:
    """Ensembles of ``scenarios`` (members 0..runs-1 with the seeds of the first scenario's
    ensemble) that the store does not hold yet; return their ids, in order.

    Every scenario must have the first one's seed, so that member i of each shares its draws.
    Members already stored are kept (this always resumes).
    """
    scenarios = list(scenarios)
    trunk = scenarios[0]
    if any(s.seed != trunk.seed for s in scenarios):
        raise ValueError("paired ensembles need one seed for all scenarios")
    store = ResultsStore(out)
    ids = [ensemble_id_of(s) for s in scenarios]
    stored = []
    for ensemble_id, scenario in zip(ids, scenarios, strict=True):
        store.open_ensemble(ensemble_id, scenario)
        stored.append(set(store.ensemble_members(ensemble_id)["member"]))
    seeds = member_seeds(trunk.seed, runs)
    families, needed = [], []
    for m in range(runs):
        wanted = [i for i in range(len(scenarios)) if m not in stored[i]]
        if wanted:
            families.append([with_overrides(s, {"seed": seeds[m]}) for s in scenarios])
            needed.append((m, wanted))
    total = runs * len(scenarios)
    done = total - sum(len(w) for _, w in needed)
    if progress:
        progress(done, total)

    def store_family(i: int, outputs: list, _wall: float) -> None:
        nonlocal done
        member, _ = needed[i]
        for index, results, wall in outputs:
            store.save_member(ids[index], member, families[i][index], results, wall)
            done += 1
        if progress:
            progress(done, total)

    keys = [f"paired-{'-'.join(ids)}-m{m}-{'.'.join(map(str, w))}" for m, w in needed]
    tasks = [(family, wanted) for family, (_, wanted) in zip(families, needed, strict=True)]
    with using_client(client, workers, scheduler) as c:
        run_batch(c, tasks, store_family, keys, function=run_family)
    return ids


def run_family(
    task: tuple[list[Scenario], list[int]],
) -> tuple[list[tuple[int, pd.DataFrame, float]], float]:
    """Run the scenarios of one seed (on a worker), sharing history through forks; return
    (scenario index, results, wall seconds) for the wanted ones, and the task's wall time.

    A scenario that shares no month with the trunk (another start, or parameters that
    differ from the first month) is run on its own.
    """
    scenarios, wanted = task
    started = time.perf_counter()
    trunk = Sim(scenarios[0])
    outputs = []
    forks = []
    for index in wanted:
        shared = first_difference(scenarios[0], scenarios[index]) if index else None
        if index and (shared is None or shared < 1):
            alone = Sim(scenarios[index]).run()
            outputs.append((index, alone.results, alone.wall_seconds))
        elif index:
            forks.append((min(shared, len(trunk.months)), index))
    for shared, index in sorted(forks):
        trunk.run(until=trunk.months[shared - 1])
        fork = trunk.fork(scenarios[index]).run()
        outputs.append((index, fork.results, fork.wall_seconds))
    if 0 in wanted:
        trunk.run()
        outputs.append((0, trunk.results, trunk.wall_seconds))
    return sorted(outputs, key=lambda output: output[0]), time.perf_counter() - started
