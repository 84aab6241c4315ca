"""Command-line experiments: ensemble, compare, sensitivity, calibrate, screen, validate.

Registered on the main Typer app (``jangmadang.cli.common``); they share its error reporting: a
mistake is one line naming the option and the reason, with exit code 2. Each experiment checks
all its inputs (:mod:`jangmadang.experiments.checks`) before it runs, catalogues or writes
anything.
"""

from __future__ import annotations

from contextlib import contextmanager
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
from jangmadang.scenario import Problem, ScenarioError, events_of
from jangmadang.store import ResultsStore

Runs = Annotated[int, typer.Option("--runs", help="Members (seeds) per scenario.")]
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
ARGUMENTS = {"scenario": "SCENARIO", "base": "BASE", "alt": "ALT"}  # inputs without a --flag


@contextmanager
def _reported():
    """The CLI's one-line errors, with an experiment's input named as typed (``--window``)."""
    from jangmadang.experiments.checks import BadInput

    with reported_errors():
        try:
            yield
        except BadInput as exc:
            raise InputError(exc.message(ARGUMENTS.get(exc.option, f"--{exc.option}"))) from None


@contextmanager
def _progress(label: str):
    """A progress bar that appears with the first step, so a refused input prints nothing."""
    bar = progress_bar(label)
    task = None

    def update(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        bar.stop()


def _resolved(scenario: str, population=None, seed=None, start=None, end=None):
    """The scenario with the run options, their mistakes named as options (``--population``)."""
    from jangmadang.experiments.ensemble import resolve

    options = {"population": population, "seed": seed, "start": start, "end": end}
    return resolve(scenario, source="command line", **options), options


def _window(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    first, sep, last = text.partition(":")
    if not sep:
        raise InputError(f"--window {text!r}: write FIRST:LAST as YYYY-MM:YYYY-MM")
    return first.strip(), last.strip()


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


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
    from jangmadang.experiments import checks
    from jangmadang.experiments.ensemble import (
        EnsembleExists,
        ensemble_summary,
        plot_ensemble_figure,
        run_ensemble,
    )

    with _reported():
        loaded, _ = _resolved(scenario, population, seed, start, end)
        checks.at_least("runs", runs, 1)
        checks.cluster(workers, scheduler)
        check_out(out)
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
    folder = out / "ensembles" / ensemble_id
    folder.mkdir(parents=True, exist_ok=True)
    ensemble_summary(store, ensemble_id).to_parquet(folder / "summary.parquet")
    png = plot_ensemble_figure(store, ensemble_id, folder / "plot.png")
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
    from jangmadang.experiments import checks
    from jangmadang.experiments.compare import DEFAULT_INDICATORS, check_inputs
    from jangmadang.experiments.compare import compare as run_compare
    from jangmadang.plotting import plot_bands

    with _reported():
        base_scenario, options = _resolved(base, population, seed, start, end)
        alt_scenario, _ = _resolved(alt, population, seed, start, end)
        chosen, months = check_inputs(
            base_scenario,
            alt_scenario,
            runs,
            _split(indicators) if indicators is not None else DEFAULT_INDICATORS,
            _window(window),
        )
        checks.cluster(workers, scheduler)
        check_out(out)
        with _progress(f"{base} vs {alt}") as progress:
            result = run_compare(
                base,
                alt,
                runs,
                indicators=chosen,
                window=months,
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                **options,
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
    events = events_of(base_scenario, alt_scenario)
    png = plot_bands(
        result.differences,
        events,
        folder / "differences.png",
        chosen,
        f"{alt} - {base}",
        columns=("mean", "low", "high"),
        labels=(f"mean of {runs} paired differences", "95% t-interval of the mean"),
    )
    console.print(f"table    {folder / 'comparison.csv'}", soft_wrap=True)
    console.print(f"plot     {png}", soft_wrap=True)


@app.command()
def sensitivity(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or TOML file.")],
    params: Annotated[str, typer.Option(help="Comma-separated parameters (section.name).")],
    method: Annotated[str, typer.Option(help="sobol or morris.")] = "sobol",
    samples: Annotated[int, typer.Option(help="SALib base sample size N (at least 2).")] = 64,
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
    """Sobol indices or Morris effects of chosen parameters, over their evidence ranges.

    Results go to OUT/sensitivity/<scenario>-<method>-<hash of the settings>/."""
    import tomli_w

    from jangmadang.experiments import checks
    from jangmadang.experiments.sensitivity import check_inputs, plot_indices
    from jangmadang.experiments.sensitivity import sensitivity as run_sensitivity

    with _reported():
        loaded, options = _resolved(scenario, population, seed, start, end)
        spec, measured, months = check_inputs(
            loaded, _split(params), method, samples, _split(indicators), _window(window)
        )
        chosen = spec["names"]
        checks.cluster(workers, scheduler)
        check_out(out)
        with _progress(f"{method} on {len(chosen)} parameters") as progress:
            result = run_sensitivity(
                scenario,
                chosen,
                method=method,
                samples=samples,
                indicators=measured,
                window=months,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                **options,
            )
    folder = out / "sensitivity" / result.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.toml").write_text(tomli_w.dumps(result.settings))
    result.table.to_csv(folder / "indices.csv", index=False)
    shown = Table(*result.table.columns)
    for row in result.table.itertuples(index=False):
        shown.add_row(*(f"{v:.3g}" if isinstance(v, float) else str(v) for v in row))
    console.print(shown)
    console.print(f"indices  {folder / 'indices.csv'}", soft_wrap=True)
    console.print(f"plot     {plot_indices(result.table, folder / 'indices.png')}", soft_wrap=True)


@app.command()
def calibrate(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or TOML file.")],
    params: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated parameters to fit (section.name); default: those the joint "
            "calibration fits."
        ),
    ] = None,
    targets: Annotated[
        Path | None, typer.Option(help="Targets TOML (default: the shipped targets.toml).")
    ] = None,
    trials: Annotated[int, typer.Option(help="Trials to add to the study.")] = 40,
    seeds: Annotated[
        int, typer.Option(help="Seeds the fit report runs the best and the scenario's values on.")
    ] = 3,
    span: Annotated[
        float,
        typer.Option(
            help="Search each parameter within this fraction of its range around the "
            "scenario's value (1: the whole range)."
        ),
    ] = 1.0,
    replicates: Annotated[
        int,
        typer.Option(
            help="Seeds each trial runs (the same for every trial); a trial is judged on "
            "their mean."
        ),
    ] = 1,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Population = None,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Fit parameters to observed targets with Optuna; write a calibrated scenario that extends
    the original and a fit report.

    The study (OUT/calibration/<scenario>-<hash>/) is named by the scenario, run options,
    parameters and targets: the same command resumes it, other settings start another."""
    from jangmadang.experiments import checks
    from jangmadang.experiments.calibration import FITTED, TargetsError, check_inputs
    from jangmadang.experiments.calibration import calibrate as run_calibration

    with _reported():
        loaded, options = _resolved(scenario, population, seed, start, end)
        try:
            fitted = list(FITTED) if params is None else _split(params)
            chosen = check_inputs(loaded, fitted, targets, trials, seeds, span, replicates)[0][
                "names"
            ]
        except TargetsError as exc:  # a file given on the command line is named as an option
            shown = "--targets " if targets is not None else ""
            raise ScenarioError(
                [Problem(shown + p.source, p.key, p.reason) for p in exc.problems]
            ) from None
        checks.cluster(workers, scheduler)
        check_out(out)
        with _progress("calibration trials") as progress:
            result = run_calibration(
                scenario,
                chosen,
                targets=targets,
                trials=trials,
                seeds=seeds,
                span=span,
                replicates=replicates,
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                **options,
            )
    console.print(
        f"loss     {result.default_loss:.4g} (scenario's values) -> {result.best_loss:.4g} "
        f"(best of {result.trials} trials)"
    )
    for key, value in result.best_params.items():
        console.print(f"         {key} = {value:.4g}")
    shown = Table(
        "target", "observed", "tolerated", "scenario's values", "best (90% band)", "inside"
    )
    for row in result.fit.itertuples():
        shown.add_row(
            f"{row.target} {row.year}".strip(),
            row.observed,
            f"{row.low:.4g}-{row.high:.4g}",
            f"{row.default:.4g}",
            f"{row.best:.4g} ({row.best_5:.4g}-{row.best_95:.4g})",
            "[green]yes[/]" if row.inside else "[red]no[/]",
        )
    console.print(shown)
    console.print(f"study    {result.report_path.parent}", soft_wrap=True)
    console.print(f"scenario {result.scenario_path}", soft_wrap=True)
    console.print(f"report   {result.report_path}", soft_wrap=True)


@app.command()
def screen(
    scenario: Annotated[
        str, typer.Argument(help="Built-in scenario name or TOML file (from 2001).")
    ] = "history",
    trajectories: Annotated[
        int, typer.Option(help="Morris trajectories: each is one run per assumption, plus one.")
    ] = 2,
    workers: Workers = None,
    scheduler: Scheduler = None,
    population: Annotated[int, typer.Option(help="Number of persons per run.")] = 100_000,
    seed: Seed = None,
    start: Start = None,
    end: End = None,
    out: Out = Path("results"),
) -> None:
    """Which assumptions matter: Morris screening of every assumption with a range in the
    evidence ledger, on the calibration targets and the validation table's indicators.

    Results go to OUT/screening/<scenario>-morris-<hash of the settings>/; the same command
    resumes a screening that stopped."""
    import tomli_w

    from jangmadang.experiments import checks
    from jangmadang.experiments.screening import DEFAULT_END, check_inputs, ranking_markdown
    from jangmadang.experiments.screening import screen as run_screening

    with _reported():
        loaded, options = _resolved(scenario, population, seed, start, end or DEFAULT_END)
        check_inputs(loaded, trajectories)
        checks.cluster(workers, scheduler)
        check_out(out)
        with _progress("Morris screening runs") as progress:
            result = run_screening(
                scenario,
                trajectories=trajectories,
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                **options,
            )
    folder = out / "screening" / result.name
    (folder / "settings.toml").write_text(tomli_w.dumps(result.settings))
    result.indices.to_csv(folder / "indices.csv", index=False)
    result.ranking.to_csv(folder / "ranking.csv", index=False)
    command = (
        f"jangmadang screen {scenario} --trajectories {trajectories} --population {population}"
    )
    (folder / "ranking.md").write_text(ranking_markdown(result.ranking, command))
    shown = Table("rank", "assumption", "influence", "moves most", "range")
    for i, row in enumerate(result.ranking.head(10).itertuples(), 1):
        shown.add_row(str(i), row.parameter, f"{row.influence:.3g}", row.moves_most, str(row.range))
    console.print(shown)
    console.print(f"ranking  {folder / 'ranking.md'}", soft_wrap=True)


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
    from jangmadang.experiments import checks
    from jangmadang.experiments.validation import headline, markdown
    from jangmadang.experiments.validation import validate as run_validation

    with _reported():
        _resolved("baseline", population, seed)
        checks.interval_runs(runs)
        checks.cluster(workers, scheduler)
        check_out(out)
        with _progress("validation ensembles") as progress:
            table = run_validation(
                runs,
                out=out,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                population=population,
                seed=seed,
            )
    shown = Table("pattern", "origin", "source", "effect", "95% interval", "expected", "result")
    for row in table.sort_values("origin", kind="stable").itertuples():
        shown.add_row(
            row.pattern,
            row.origin,
            row.source,
            f"{row.effect:.3g}",
            f"{row.low:.3g} to {row.high:.3g}",
            row.expected,
            "[green]pass[/]" if row.passed else "[red]FAIL[/]",
        )
    console.print(shown)
    console.print(headline(table))
    command = f"jangmadang validate --runs {runs} --population {population}"
    report = out / "validation.md"
    report.write_text(markdown(table, command))
    console.print(f"report   {report}", soft_wrap=True)
    if not table.passed.all():
        raise typer.Exit(1)
