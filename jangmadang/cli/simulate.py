"""Commands that run the model: ``run``, ``resume``, ``scenarios`` and ``show-scenario``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jangmadang.cli.common import (
    InputError,
    Out,
    app,
    check_out,
    console,
    progress_bar,
    reported_errors,
)
from jangmadang.results import format_value, national_summary
from jangmadang.scenario import available_scenarios, load_scenario
from jangmadang.sim import Sim, run_overrides
from jangmadang.snapshot import SnapshotError
from jangmadang.store import CATALOG_FILE, ResultsStore, RunNotResumable, scenario_to_toml
from jangmadang.timeline import format_month

SNAPSHOT = "snapshot"  # the latest snapshot of a run, in its folder


# Seconds per person-month at full scale (benchmarks/results, 12 modules): used only to decide
# whether a run is long enough to deserve checkpoints by default.
SECONDS_PER_PERSON_MONTH = 1.6e-7
AUTO_CHECKPOINT_SECONDS = 120  # runs expected to take longer keep a snapshot ...
AUTO_CHECKPOINT_MONTHS = 12  # ... every this many months

CheckpointEvery = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Keep a snapshot of the state every N months, so `jangmadang resume` can continue "
        "after a crash (0: never; default: every 12 months for runs expected to take over "
        "2 minutes).",
    ),
]


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name or TOML file.")
    ] = "baseline",
    population: Annotated[
        int | None,
        typer.Option(
            help="Number of persons (1:1 is the census projected to the first month: 24.2 million in 2010)."
        ),
    ] = None,
    scale: Annotated[
        float | None, typer.Option(help="Share of the full population, in (0, 1].")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Random seed (overrides the scenario's).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First month, YYYY-MM.")] = None,
    end: Annotated[str | None, typer.Option(help="Last month, YYYY-MM.")] = None,
    out: Out = Path("results"),
    plot: Annotated[bool, typer.Option(help="Write plot.png beside the results.")] = True,
    checkpoint_every: CheckpointEvery = None,
) -> None:
    """Run a scenario, store its results and catalog row, and plot the main indicators."""
    with reported_errors():
        if population is not None and scale is not None:
            raise InputError("--population and --scale: give one or the other, not both")
        overrides = run_overrides(
            population=population, scale=scale, seed=seed, start=start, end=end
        )
        loaded = load_scenario(scenario, overrides, override_source="command line")
        check_out(out)
    sim = Sim(loaded)
    store = ResultsStore(out)
    run_id = store.start_run(sim.scenario)
    console.print(
        f"Running [bold]{loaded.name}[/] with {loaded.population.size:,} persons, "
        f"{format_month(loaded.start)} to {format_month(loaded.end)}, seed {loaded.seed}"
    )
    _run_and_store(sim, store, run_id, checkpoint_every, plot)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="An interrupted run's id (`jangmadang runs`).")],
    out: Out = Path("results"),
    plot: Annotated[bool, typer.Option(help="Write plot.png beside the results.")] = True,
    checkpoint_every: CheckpointEvery = None,
) -> None:
    """Continue an interrupted run from its latest snapshot (or from its start if it kept
    none); the results equal those of an uninterrupted run."""
    with reported_errors():
        if not (out / CATALOG_FILE).is_file():
            raise InputError(f"run {run_id!r}: no results catalog in {out} to resume it from")
        store = ResultsStore(check_out(out))
        try:
            store.reopen_run(run_id)
        except RunNotResumable as exc:
            raise InputError(str(exc)) from None
        folder = store.run_dir(run_id) / SNAPSHOT
        try:
            if folder.exists():
                sim = Sim.load(folder)
            else:
                sim = Sim(load_scenario(store.run_dir(run_id) / "scenario.toml"))
        except SnapshotError as exc:
            store.fail_run(run_id, f"cannot resume: {exc}")
            raise InputError(f"resume {run_id}: {exc}") from None
    reached = format_month(sim.month) if sim.steps_done > len(sim.scenario.burn_in) else "start"
    console.print(f"Resuming [bold]{run_id}[/] from {reached}", soft_wrap=True)
    _run_and_store(sim, store, run_id, checkpoint_every, plot)


def _run_and_store(
    sim: Sim, store: ResultsStore, run_id: str, checkpoint_every: int | None, plot: bool
) -> None:
    """Run ``sim`` to its end with a progress bar and checkpoints, then store and show it."""
    scenario = sim.scenario
    every = _checkpoint_interval(sim, checkpoint_every)
    folder = store.run_dir(run_id) / SNAPSHOT

    def checkpoint(s: Sim) -> None:
        if every and (s.t + 1) % every == 0 and not s.finished:
            s.save(folder)
            store.checkpointed(run_id, format_month(s.month))

    try:
        with progress_bar() as progress:
            task = progress.add_task("months", total=len(sim.months))
            sim.run(
                progress=lambda done, total: progress.update(
                    task, completed=done, description=format_month(sim.months[done - 1])
                ),
                after_month=checkpoint,
            )
    except BaseException as exc:
        store.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
    results = sim.results
    parquet = store.finish_run(run_id, results, sim.wall_seconds)
    shutil.rmtree(folder, ignore_errors=True)  # the results are stored: the state is not needed
    console.print(_summary_table(results))
    console.print(f"run id   [bold]{run_id}[/] ({sim.wall_seconds:.1f} s)", soft_wrap=True)
    console.print(f"results  {parquet}", soft_wrap=True)
    console.print(f"catalog  {store.catalog}", soft_wrap=True)
    if plot:
        from jangmadang.plotting import plot_run

        png = plot_run(
            results,
            scenario.events,
            store.run_dir(run_id) / "plot.png",
            title=f"{scenario.name} ({run_id})",
            scale=scenario.population.effective_scale,
        )
        console.print(f"plot     {png}", soft_wrap=True)


def _checkpoint_interval(sim: Sim, requested: int | None) -> int:
    """Months between snapshots: as asked, or by default only for runs long enough to lose."""
    if requested is not None:
        return requested
    steps = len(sim.scenario.burn_in) + len(sim.months)
    expected = SECONDS_PER_PERSON_MONTH * sim.scenario.population.size * steps
    return AUTO_CHECKPOINT_MONTHS if expected > AUTO_CHECKPOINT_SECONDS else 0


def _summary_table(results) -> Table:
    summary = national_summary(results)
    table = Table(title="National indicators, yearly means")
    for column in summary.columns:
        table.add_column(column, justify="left" if column == "indicator" else "right")
    for indicator, *values in summary.itertuples(index=False):
        table.add_row(indicator, *map(format_value, values))
    return table


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    table = Table("name", "description")
    for name, description in available_scenarios().items():
        table.add_row(name, description)
    console.print(table)


@app.command("show-scenario")
def show_scenario(name: Annotated[str, typer.Argument(help="Built-in name or TOML file.")]) -> None:
    """Print a scenario with every value resolved (defaults, parents and overrides)."""
    with reported_errors():
        print(scenario_to_toml(load_scenario(name)))
