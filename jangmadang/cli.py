"""Command line: ``jangmadang run``, ``scenarios``, ``show-scenario``, ``runs``, ``plot``,
``query`` and ``evidence``.

Bad input (a scenario key, an option, a run id, SQL) prints one message naming the file or
option, the key and the reason, and exits with code 2 and no traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from jangmadang.scenario import Problem, ScenarioError, available_scenarios, load_scenario
from jangmadang.sim import Sim, run_overrides
from jangmadang.store import NoCatalog, ResultsStore, UnknownRun, scenario_to_toml
from jangmadang.timeline import format_month

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Agent-based simulation of North Korea's informal political economy.",
)
console = Console()
errors = Console(stderr=True)

OPTION_FOR_KEY = {
    "population.persons": "--population",
    "population.scale": "--scale",
    "seed": "--seed",
    "start": "--start",
    "end": "--end",
}
SUMMARY_INDICATORS = (
    "population",
    "households",
    "food_price_usd_per_kg",
    "food_insecure_share",
    "income_total_usd",
    "market_income_share",
    "income_per_trader_usd",
    "exempt_worker_share",
    "donju_household_share",
    "gini_income",
    "cash_median_usd",
    "defections",
    "remittances_received_usd",
    "punishments",
    "ties",
    "donju_secretary_tie_share",
    "private_loyalty",
    "compliance",
)

Out = Annotated[
    Path, typer.Option("--out", help="Folder for Parquet results and the DuckDB catalog.")
]


class InputError(Exception):
    """A user mistake the CLI reports in one line with exit code 2."""


@contextmanager
def reported_errors():
    try:
        yield
    except ScenarioError as exc:
        for problem in exc.problems:
            if problem.source == "command line":
                problem = Problem(
                    problem.source, OPTION_FOR_KEY.get(problem.key, problem.key), problem.reason
                )
            _print_error(str(problem))
        raise typer.Exit(2) from None
    except (InputError, NoCatalog) as exc:
        _print_error(str(exc))
        raise typer.Exit(2) from None


def _print_error(message: str) -> None:
    """One unwrapped line per problem; the message is text, never Rich markup (a run id or a
    path like ``[/x]`` would otherwise be swallowed or raise a MarkupError)."""
    errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@app.command()
def run(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name or TOML file.")
    ] = "baseline",
    population: Annotated[
        int | None, typer.Option(help="Number of persons (1:1 is 25970000).")
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
) -> None:
    """Run a scenario, store its results and catalog row, and plot the main indicators."""
    with reported_errors():
        if population is not None and scale is not None:
            raise InputError("--population and --scale: give one or the other, not both")
        overrides = run_overrides(
            population=population, scale=scale, seed=seed, start=start, end=end
        )
        loaded = load_scenario(scenario, overrides, override_source="command line")
    sim = Sim(loaded)
    store = ResultsStore(out)
    run_id = store.start_run(sim.scenario)
    console.print(
        f"Running [bold]{loaded.name}[/] with {loaded.population.size:,} persons, "
        f"{format_month(loaded.start)} to {format_month(loaded.end)}, seed {loaded.seed}"
    )
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("months", total=len(sim.months))
            sim.run(
                progress=lambda done, total: progress.update(
                    task, completed=done, description=format_month(sim.months[done - 1])
                )
            )
    except BaseException as exc:
        store.fail_run(run_id, f"{type(exc).__name__}: {exc}")
        raise
    results = sim.results
    parquet = store.finish_run(run_id, results, sim.wall_seconds)
    console.print(_summary_table(results))
    console.print(f"run id   [bold]{run_id}[/] ({sim.wall_seconds:.1f} s)", soft_wrap=True)
    console.print(f"results  {parquet}", soft_wrap=True)
    console.print(f"catalog  {store.catalog}", soft_wrap=True)
    if plot:
        from jangmadang.plotting import plot_run

        png = plot_run(
            results,
            loaded.events,
            store.run_dir(run_id) / "plot.png",
            title=f"{loaded.name} ({run_id})",
            scale=loaded.population.effective_scale,
        )
        console.print(f"plot     {png}", soft_wrap=True)


def _summary_table(results) -> Table:
    national = results[(results.dimension == "all") & results.indicator.isin(SUMMARY_INDICATORS)]
    first_year, last_year = national.date.dt.year.min(), national.date.dt.year.max()
    table = Table(title="National indicators, yearly means")
    for column in ("indicator", str(first_year), str(last_year), "min", "max"):
        table.add_column(column, justify="left" if column == "indicator" else "right")
    for indicator in SUMMARY_INDICATORS:
        series = national[national.indicator == indicator].set_index("date")["value"]
        if series.empty:
            continue
        by_year = series.groupby(series.index.year).mean()
        table.add_row(
            indicator,
            *(
                _fmt(v)
                for v in (by_year[first_year], by_year[last_year], series.min(), series.max())
            ),
        )
    return table


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


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


@app.command()
def runs(out: Out = Path("results")) -> None:
    """List the runs in the catalog."""
    table = Table("scenario", "seed", "persons", "window", "status", "seconds")
    table.columns.insert(
        0, Column("run id", no_wrap=True, min_width=len("baseline-YYYYmmdd-HHMMSS-xxxxxx"))
    )
    with reported_errors():
        listing = ResultsStore(out).runs()
    for row in listing.itertuples():
        seconds = "" if row.wall_seconds != row.wall_seconds else f"{row.wall_seconds:.1f}"
        table.add_row(
            row.run_id,
            row.scenario,
            str(row.seed),
            f"{row.population:,}",
            f"{row.start_month}..{row.end_month}",
            row.status,
            seconds,
        )
    console.print(table)


@app.command()
def plot(
    run_id: Annotated[
        str, typer.Argument(help="A run id from `jangmadang runs`, or an ensemble id.")
    ],
    indicators: Annotated[list[str] | None, typer.Argument(help="Indicators to plot.")] = None,
    out: Out = Path("results"),
    file: Annotated[
        Path | None, typer.Option(help="PNG to write (default: in the run's folder).")
    ] = None,
) -> None:
    """Plot indicators of a stored run (or the bands of an ensemble), with events marked."""
    from jangmadang.plotting import DEFAULT_INDICATORS, plot_run

    store = ResultsStore(out)
    with reported_errors():
        if store.catalog.is_file() and not store.ensemble_members(run_id).empty:
            png = _plot_ensemble(store, run_id, indicators, file)
            console.print(f"plot     {png}", soft_wrap=True)
            return
        try:
            results = store.load(run_id)
            stored = store.scenario(run_id)
        except UnknownRun:
            raise InputError(
                f"run id {run_id!r}: not in the catalog {store.catalog} (no run or ensemble "
                "has that id)"
            ) from None
        chosen = tuple(indicators) if indicators else DEFAULT_INDICATORS
        target = file or store.run_dir(run_id) / (
            "plot.png" if not indicators else f"plot-{'-'.join(chosen)[:80]}.png"
        )
        try:
            png = plot_run(
                results,
                stored.events,
                target,
                chosen,
                title=run_id,
                scale=stored.population.effective_scale,
            )
        except KeyError as exc:
            known = ", ".join(sorted(results.indicator.unique()))
            raise InputError(f"unknown indicator {exc.args[0]} (known: {known})") from None
    console.print(f"plot     {png}", soft_wrap=True)


def _plot_ensemble(store: ResultsStore, ensemble_id: str, indicators, file) -> Path:
    """Median and 5-95% band of an ensemble's national indicators."""
    from jangmadang.experiments.ensemble import ensemble_summary
    from jangmadang.plotting import DEFAULT_INDICATORS, STACKED, plot_ensemble

    members = store.ensemble_members(ensemble_id)
    events = store.scenario(members.run_id.iloc[0]).events
    chosen = list(indicators) or [i for i in DEFAULT_INDICATORS if i not in STACKED]
    summary = ensemble_summary(store, ensemble_id, chosen)
    target = file or store.out / "ensembles" / ensemble_id / "plot.png"
    try:
        return plot_ensemble(summary, events, target, chosen, ensemble_id)
    except KeyError as exc:
        raise InputError(f"unknown indicator {exc.args[0]}") from None


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help='SQL over tables "runs" and "results".')],
    out: Out = Path("results"),
) -> None:
    """Query the catalog (table runs) and all stored series (view results) with SQL."""
    with reported_errors():
        try:
            frame = ResultsStore(out).query(sql)
        except duckdb.Error as exc:
            raise InputError(f"query: {str(exc).splitlines()[0]}") from None
    table = Table(*[str(c) for c in frame.columns])
    for row in frame.head(200).itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)
    if len(frame) > 200:
        console.print(f"({len(frame) - 200} more rows)")


@app.command()
def evidence(
    key: Annotated[str | None, typer.Argument(help="A parameter, rule or section.")] = None,
) -> None:
    """Show the evidence behind parameters and rules: source and what it says."""
    from jangmadang import evidence as ledger

    with reported_errors():
        entries = ledger.lookup(key) if key else list(ledger.load().values())
        if not entries:
            raise InputError(f"no evidence entry matches {key!r}")
    for e in entries:
        console.print(f"[bold]{e.key}[/]  ({e.kind})", soft_wrap=True)
        console.print(f"  source  {e.source}: {e.source_description}", highlight=False)
        console.print(f"  says    {e.says}", highlight=False)
        if e.range is not None:
            note = f" ({e.range_note})" if e.range_note else ""
            console.print(f"  range   {e.range[0]:g} to {e.range[1]:g}{note}", highlight=False)


# Experiment commands (ensemble, compare, sensitivity, calibrate, validate) register on `app`.
from jangmadang.experiments import commands as _experiment_commands  # noqa: E402, F401
