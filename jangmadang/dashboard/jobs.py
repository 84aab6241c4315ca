"""Simulations started from a page run in threads of the server, so any page (and a reloaded
one) can follow them and cancel them; a run is catalogued exactly as ``jangmadang run`` does.

A :class:`Job` is only read by pages: its thread alone writes it, one field at a time, and bumps
``version`` after each change so a page knows when to draw again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jangmadang.scenario import Event, Scenario, events_of
from jangmadang.store import ResultsStore
from jangmadang.timeline import format_month

# The national series drawn while a run goes on (the default figure is drawn once it ends).
LIVE_INDICATORS = (
    "food_insecure_share",
    "food_price_usd_per_kg",
    "market_income_share",
    "private_loyalty",
)
LIVE_EVERY = 0.5  # seconds between copies of the series so far: copying costs a little
# Matplotlib is not thread-safe, and pages draw from their own threads while jobs write their
# figures: every figure of the dashboard is drawn under this lock.
DRAWING = threading.Lock()


class Cancelled(Exception):
    """Raised inside a job's thread at the next month (or member) after a cancel."""


@dataclass(eq=False)
class Job:
    kind: str  # "run" or "comparison"
    title: str
    total: int  # months of a run, members of a comparison
    done: int = 0
    month: str = ""  # the last month simulated (a run)
    status: str = "settling"  # settling, running, completed, failed, cancelled
    error: str = ""
    run_id: str | None = None
    events: list[Event] = field(default_factory=list)
    live: pd.DataFrame | None = None  # national series so far (a run)
    result: object = None  # a Comparison, once a comparison is done
    version: int = 0
    started: float = field(default_factory=time.time)
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def cancel(self) -> None:
        self._cancel.set()

    def _check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def _bump(self, **changes) -> None:
        """Change fields, the status last: a page that sees a job finished sees all of it."""
        for name, value in sorted(changes.items(), key=lambda change: change[0] == "status"):
            setattr(self, name, value)
        self.version += 1


_jobs: list[Job] = []
_lock = threading.Lock()


def jobs() -> list[Job]:
    """Every job of this server, newest first."""
    with _lock:
        return list(reversed(_jobs))


def _add(job: Job, target, *args) -> Job:
    with _lock:
        _jobs.append(job)
    threading.Thread(target=target, args=(job, *args), daemon=True, name=job.title).start()
    return job


def start_run(scenario: Scenario, out: Path) -> Job:
    """Catalog a run of ``scenario`` as ``running`` and run it in a thread."""
    from jangmadang.sim import Sim

    sim = Sim(scenario)
    store = ResultsStore(out)
    run_id = store.start_run(scenario)
    job = Job(
        "run",
        f"{scenario.name}, {scenario.population.size:,} persons, "
        f"{format_month(scenario.start)} to {format_month(scenario.end)}, seed {scenario.seed}",
        len(sim.months),
        run_id=run_id,
        events=list(scenario.events),
    )
    return _add(job, _run, sim, store)


def national(results: pd.DataFrame, indicators) -> pd.DataFrame:
    return results[(results.dimension == "all") & results.indicator.isin(indicators)]


def _run(job: Job, sim, store: ResultsStore) -> None:
    copied = 0.0

    def after_month(s) -> None:
        nonlocal copied
        job._check()
        changes = {"done": s.t + 1, "month": format_month(s.months[s.t]), "status": "running"}
        if time.perf_counter() - copied >= LIVE_EVERY or s.finished:
            changes["live"] = national(s.results, LIVE_INDICATORS)
            copied = time.perf_counter()
        job._bump(**changes)

    try:
        sim.run(after_month=after_month)
        store.finish_run(job.run_id, sim.results, sim.wall_seconds)
    except Cancelled:
        store.fail_run(job.run_id, "cancelled from the dashboard")
        job._bump(status="cancelled")
    except Exception as exc:  # shown on the page; the catalog says failed, as for the CLI
        store.fail_run(job.run_id, f"{type(exc).__name__}: {exc}")
        job._bump(status="failed", error=f"{type(exc).__name__}: {exc}")
    else:
        try:
            _default_plot(sim, store, job.run_id)
        except Exception as exc:  # the results are stored: the run stays completed
            job._bump(error=f"stored, but plot.png could not be drawn: {exc}")
        job._bump(status="completed")


def _default_plot(sim, store: ResultsStore, run_id: str) -> None:
    """``plot.png`` beside the results, as ``jangmadang run`` writes it."""
    from jangmadang.plotting import plot_run

    scenario = sim.scenario
    with DRAWING:
        plot_run(
            sim.results,
            scenario.events,
            store.run_dir(run_id) / "plot.png",
            title=f"{scenario.name} ({run_id})",
            scale=scenario.population.effective_scale,
        )


def start_comparison(
    base: Scenario, alt: Scenario, runs: int, out: Path, workers: int, indicators
) -> Job:
    """Run ``base`` and ``alt`` as paired ensembles (members sharing their seeds and their
    history up to the first month they differ) on a local Dask cluster, in a thread."""
    job = Job("comparison", f"{alt.name} - {base.name}, {runs} paired runs", runs * 2)
    job.events = events_of(base, alt)
    return _add(job, _compare, base, alt, runs, out, workers, tuple(indicators))


def _compare(job: Job, base, alt, runs, out, workers, indicators) -> None:
    from jangmadang.experiments.compare import compare

    def progress(done: int, total: int) -> None:
        job._bump(done=done, total=total, status="running")
        job._check()

    try:
        result = compare(
            base, alt, runs, indicators=indicators, out=out, workers=workers, progress=progress
        )
    except Cancelled:
        job._bump(status="cancelled")
    except Exception as exc:
        job._bump(status="failed", error=f"{type(exc).__name__}: {exc}")
    else:
        job._bump(status="completed", result=result)


def shutdown(timeout: float = 10.0) -> None:
    """Cancel every unfinished job and wait for them to record it (a server stopping with
    Ctrl+C leaves its runs ``failed: cancelled``, not running with a process that is gone)."""
    waiting = [job for job in jobs() if not job.finished]
    for job in waiting:
        job.cancel()
    deadline = time.monotonic() + timeout
    while any(not job.finished for job in waiting) and time.monotonic() < deadline:
        time.sleep(0.05)
