"""Command-line experiments: ensemble, compare, sensitivity, calibrate, validate.

Registered on the main Typer app (``jangmadang.cli.common``); they share its error reporting: a
mistake is one line naming the option and the reason, with exit code 2.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.store import ResultsStore

Runs = Annotated[int, typer.Option("--runs", min=1, help="Members (seeds) per scenario.")]
Workers = Annotated[
    int | None, typer.Option(help="Local Dask worker processes (default: one per CPU).")
]
Scheduler = Annotated[
    str | None, typer.Option(help="Address of an existing Dask scheduler (instead of --workers).")
]
Population = Annotated[int | None, typer.Option(help="Number of persons per run.")]
Seed = Annotated[int | None, typer.Option(help="Base seed (members' seeds derive from it).")]
Start = Annotated[str | None, typer.Option(help="First month, YYYY-MM.")]
End = Annotated[str | None, typer.Option(help="Last month, YYYY-MM.")]
Window = Annotated[
    str | None, typer.Option(help="Months averaged per run, FIRST:LAST (YYYY-MM:YYYY-MM).")
]


@contextmanager
def _progress(label: str):
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _options(population, seed, start, end) -> dict:
    return {"population": population, "seed": seed, "start": start, "end": end}


def _window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    first, sep, last = text.partition(":")
    if not sep or len(first) != 7 or len(last) != 7:
        raise InputError(f"--window {text!r}: write FIRST:LAST as YYYY-MM:YYYY-MM")
    return first, last


def _split(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InputError(f"{option}: give at least one name")
    return items


def _known_parameters(params: list[str]) -> None:
    from jangmadang import evidence

    known = set(evidence.parameter_keys())
    for key in params:
        if key not in known:
            raise InputError(f"--params: unknown parameter {key!r} (write section.name)")


@app.command()
def ensemble(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or TOML file.")],
    runs: Runs = 8,
    workers: Workers = None,
    scheduler: Scheduler = None,
    resume: Annotated[
        bool, typer.Option(help="Complete an interrupted ensemble: run only missing seeds.")
    ] = False,
    population: Population = None,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Run a scenario over many seeds on Dask; store each member as it finishes; plot bands."""
    from jangmadang.experiments.ensemble import EnsembleExists, ensemble_summary, run_ensemble
    from jangmadang.experiments.ensemble import resolve as resolve_scenario
    from jangmadang.plotting import DEFAULT_INDICATORS, STACKED, plot_ensemble

    with reported_errors():
        loaded = resolve_scenario(scenario, **_options(population, seed, start, end))
        with _progress(f"{loaded.name} ensemble") as progress:
            try:
                ensemble_id = run_ensemble(
                    loaded,
                    runs,
                    out=out,
                    workers=workers,
                    scheduler=scheduler,
                    resume=resume,
                    progress=progress,
                )
            except EnsembleExists as exc:
                raise InputError(f"{exc} (add --resume)") from None
    store = ResultsStore(out)
    summary = ensemble_summary(store, ensemble_id)
    folder = out / "ensembles" / ensemble_id
    folder.mkdir(parents=True, exist_ok=True)
    summary.to_parquet(folder / "summary.parquet")
    indicators = [i for i in DEFAULT_INDICATORS if i not in STACKED]
    png = plot_ensemble(summary, loaded.events, folder / "plot.png", indicators, ensemble_id)
    console.print(f"ensemble [bold]{ensemble_id}[/] ({runs} members)", soft_wrap=True)
    console.print(f"summary  {folder / 'summary.parquet'}", soft_wrap=True)
    console.print(f"plot     {png}", soft_wrap=True)


@app.command()
def compare(
    base: Annotated[str, typer.Argument(help="Base scenario (name or TOML).")],
    alt: Annotated[str, typer.Argument(help="Alternative scenario (name or TOML).")],
    runs: Runs = 8,
    indicators: Annotated[
        str | None, typer.Option(help="Comma-separated national indicators.")
    ] = None,
    window: Window = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Population = None,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Both scenarios on the same seeds; paired differences (alt - base) with 95% intervals."""
    from jangmadang.experiments.compare import DEFAULT_INDICATORS
    from jangmadang.experiments.compare import compare as run_compare

    with reported_errors():
        chosen = _split(indicators, "--indicators") if indicators else list(DEFAULT_INDICATORS)
        with _progress(f"{base} vs {alt}") as progress:
            result = run_compare(
                base,
                alt,
                runs,
                indicators=chosen,
                window=_window(window),
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                **_options(population, seed, start, end),
            )
    table = Table(title=f"{alt} - {base}, paired over {runs} seeds (95% interval)")
    for column in ("indicator", "base", "alt", "difference", "interval"):
        table.add_column(column, justify="left" if column == "indicator" else "right")
    for row in result.table.itertuples():
        table.add_row(
            row.indicator,
            f"{row.base:.4g}",
            f"{row.alt:.4g}",
            f"{row.difference:+.4g}",
            f"{row.low:+.4g} to {row.high:+.4g}",
        )
    console.print(table)
    folder = out / "comparisons" / f"{result.base_ensemble}--{result.alt_ensemble}"
    folder.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(folder / "comparison.csv", index=False)
    png = _plot_differences(result.differences, folder / "differences.png", f"{alt} - {base}")
    console.print(f"table    {folder / 'comparison.csv'}", soft_wrap=True)
    console.print(f"plot     {png}", soft_wrap=True)


def _plot_differences(differences, path: Path, title: str) -> Path:
    from jangmadang.plotting import plot_ensemble

    frame = differences.rename(columns={"mean": "median", "low": "q05", "high": "q95"})
    frame = frame.assign(dimension="all", group="all", runs=0)
    return plot_ensemble(frame, [], path, list(dict.fromkeys(frame.indicator)), title)


@app.command()
def sensitivity(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or TOML file.")],
    params: Annotated[str, typer.Option(help="Comma-separated parameters (section.name).")],
    method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    samples: Annotated[int, typer.Option(min=2, help="SALib base sample size N.")] = 64,
    indicators: Annotated[
        str, typer.Option(help="Comma-separated national indicators.")
    ] = "food_insecure_share,private_loyalty",
    window: Window = None,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Population = None,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Sobol indices or Morris effects of chosen parameters, over their evidence ranges."""
    from jangmadang.experiments.sensitivity import METHODS, plot_indices
    from jangmadang.experiments.sensitivity import sensitivity as run_sensitivity

    with reported_errors():
        if method not in METHODS:
            raise InputError(f"--method {method!r}: one of {', '.join(METHODS)}")
        chosen = _split(params, "--params")
        _known_parameters(chosen)
        try:
            with _progress(f"{method} on {len(chosen)} parameters") as progress:
                table = run_sensitivity(
                    scenario,
                    chosen,
                    method=method,
                    samples=samples,
                    indicators=_split(indicators, "--indicators"),
                    window=_window(window),
                    workers=workers,
                    scheduler=scheduler,
                    progress=progress,
                    **_options(population, seed, start, end),
                )
        except ValueError as exc:
            raise InputError(f"--params: {exc}") from None
    folder = out / "sensitivity"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(scenario).stem}-{method}"
    table.to_csv(folder / f"{stem}.csv", index=False)
    shown = Table(*table.columns)
    for row in table.itertuples(index=False):
        shown.add_row(*(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row))
    console.print(shown)
    console.print(f"indices  {folder / f'{stem}.csv'}", soft_wrap=True)
    console.print(f"plot     {plot_indices(table, folder / f'{stem}.png')}", soft_wrap=True)


@app.command()
def calibrate(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or TOML file.")],
    params: Annotated[
        str, typer.Option(help="Comma-separated parameters to fit (section.name).")
    ] = "defection.base_hazard,defection.guard_tightening_per_year,remittances.remitter_share",
    targets: Annotated[
        Path | None, typer.Option(help="Targets TOML (default: the shipped targets.toml).")
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Trials to add to the study.")] = 40,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Population = None,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Fit parameters to observed targets with Optuna (resumable study); write a calibrated
    scenario that extends the original and a fit report."""
    from jangmadang.experiments.calibration import TargetsError
    from jangmadang.experiments.calibration import calibrate as run_calibration

    with reported_errors():
        chosen = _split(params, "--params")
        _known_parameters(chosen)
        try:
            with _progress("calibration trials") as progress:
                result = run_calibration(
                    scenario,
                    chosen,
                    targets=targets,
                    trials=trials,
                    out=out,
                    workers=workers,
                    scheduler=scheduler,
                    progress=progress,
                    **_options(population, seed, start, end),
                )
        except TargetsError as exc:
            raise InputError(f"--targets: {exc}") from None
        except ValueError as exc:
            raise InputError(f"--params: {exc}") from None
    console.print(
        f"loss     {result.default_loss:.4g} (scenario's values) -> {result.best_loss:.4g} "
        f"(best of {result.trials} trials)"
    )
    for key, value in result.best_params.items():
        console.print(f"         {key} = {value:.4g}")
    console.print(f"scenario {result.scenario_path}", soft_wrap=True)
    console.print(f"report   {result.report_path}", soft_wrap=True)


@app.command()
def validate(
    runs: Runs = 8,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Annotated[int, typer.Option(help="Number of persons per run.")] = 500_000,
    seed: Seed = None,
    out: Out = Path("results"),
) -> None:
    """Run every stylized-fact pattern as paired ensembles; print and write the table."""
    from jangmadang.experiments.validation import markdown
    from jangmadang.experiments.validation import validate as run_validation

    with reported_errors(), _progress("validation ensembles") as progress:
        table = run_validation(
            runs,
            out=out,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            population=population,
            seed=seed,
        )
    shown = Table("pattern", "source", "effect", "95% interval", "expected", "result")
    for row in table.itertuples():
        shown.add_row(
            row.pattern,
            row.source,
            f"{row.effect:.3g}",
            f"{row.low:.3g} to {row.high:.3g}",
            row.expected,
            "[green]pass[/]" if row.passed else "[red]FAIL[/]",
        )
    console.print(shown)
    command = f"jangmadang validate --runs {runs} --population {population}"
    report = out / "validation.md"
    out.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown(table, command))
    console.print(f"report   {report}", soft_wrap=True)
    if not table.passed.all():
        raise typer.Exit(1)
