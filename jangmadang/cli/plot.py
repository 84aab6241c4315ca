"""``jangmadang plot``: figures of a stored run or ensemble.

Without indicators it draws the default figure (``plot.png``, as ``run`` and ``ensemble`` do);
chosen indicators go to a figure of their own (``plot-<indicators>.png``), and a map of the
provinces to ``map-<indicator>-<YYYY-MM>.png``, so a run's or an ensemble's default figure is
only ever replaced by the same figure, or by an explicit ``--file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.store import ResultsStore, UnknownRun
from jangmadang.timeline import format_month


@app.command()
def plot(
    run_id: Annotated[
        str, typer.Argument(help="A run id from `jangmadang runs`, or an ensemble id.")
    ],
    indicators: Annotated[list[str] | None, typer.Argument(help="Indicators to plot.")] = None,
    out: Out = Path("results"),
    file: Annotated[
        Path | None,
        typer.Option(help="Figure to write, .png, .pdf or .svg (default: in the run's folder)."),
    ] = None,
    map_indicator: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="Draw this indicator on a map of the provinces instead (one with a province "
            "series; an ensemble's median over its runs).",
        ),
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="The map's month, YYYY-MM (default: the last).")
    ] = None,
) -> None:
    """Plot indicators of a stored run (or the bands of an ensemble), with events marked, or
    one indicator by province on a map."""
    from jangmadang.experiments.checks import BadInput
    from jangmadang.experiments.ensemble import plot_ensemble_figure
    from jangmadang.plotting import DEFAULT_INDICATORS, FORMATS, figure_name, plot_run
    from jangmadang.pyramid import PYRAMID

    store = ResultsStore(out)
    name = figure_name(indicators) if indicators else "plot.png"
    with reported_errors():
        if file is not None:
            check_file(file, FORMATS)
        if map_indicator is not None:
            _map(store, run_id, map_indicator, month, indicators, file)
            return
        if month is not None:
            raise InputError(f"--month {month!r}: chooses the month of a map; give --map too")
        if indicators and PYRAMID in indicators:
            _pyramid(store, run_id, indicators, file)
            return
        if store.catalog.is_file() and not store.ensemble_members(run_id).empty:
            target = file or store.out / "ensembles" / run_id / name
            try:
                png = plot_ensemble_figure(store, run_id, target, indicators)
            except BadInput as exc:
                raise InputError(f"ensemble {run_id}: {exc.reason}") from None
            console.print(f"plot     {png}", soft_wrap=True)
            return
        results, stored = _stored_run(store, run_id)
        try:
            png = plot_run(
                results,
                stored.events,
                file or store.run_dir(run_id) / name,
                tuple(indicators) if indicators else DEFAULT_INDICATORS,
                title=f"{stored.name} ({run_id})",
                scale=stored.population.effective_scale,
            )
        except KeyError as exc:
            known = ", ".join(sorted(results.indicator.unique()))
            raise InputError(f"unknown indicator {exc.args[0]} (known: {known})") from None
    console.print(f"plot     {png}", soft_wrap=True)


def _map(
    store: ResultsStore,
    run_id: str,
    indicator: str,
    month: str | None,
    indicators: list[str] | None,
    file: Path | None,
) -> None:
    """A run's (an ensemble's median) indicator by province at a month, on a map."""
    from jangmadang.experiments.checks import BadInput
    from jangmadang.maps import map_title, plot_map, province_values
    from jangmadang.report import load_stored

    if indicators:
        raise InputError(
            f"--map {indicator!r}: a map shows one indicator; drop {' '.join(indicators)}"
        )
    try:
        stored = load_stored(store, run_id)
    except UnknownRun:
        raise unknown_id(store, run_id) from None
    try:
        values, when = province_values(stored.results, indicator, month)
    except BadInput as exc:
        raise InputError(exc.message(f"--{exc.option}")) from None
    target = file or stored.folder / f"map-{indicator}-{format_month(when)}.png"
    png = plot_map(values, target, *map_title(indicator, when, stored.title))
    console.print(f"map      {png}", soft_wrap=True)


def _stored_run(store: ResultsStore, run_id: str):
    """A stored run's results and scenario, or the one-line error for an unknown id."""
    try:
        return store.load(run_id), store.scenario(run_id)
    except UnknownRun:
        raise unknown_id(store, run_id) from None


def _pyramid(store: ResultsStore, run_id: str, indicators: list[str], file: Path | None) -> None:
    """A run's population pyramid, its first and last year (``pyramid.png``)."""
    from jangmadang.pyramid import PYRAMID, plot_pyramid

    if len(indicators) > 1:
        others = " ".join(i for i in indicators if i != PYRAMID)
        raise InputError(f"{PYRAMID}: a figure of its own; plot {others} separately")
    if store.catalog.is_file() and not store.ensemble_members(run_id).empty:
        raise InputError(f"{PYRAMID}: draw it for one run of ensemble {run_id}")
    results, stored = _stored_run(store, run_id)
    try:
        png = plot_pyramid(
            results,
            file or store.run_dir(run_id) / "pyramid.png",
            title=f"{stored.name} ({run_id}): population pyramid",
            scale=stored.population.effective_scale,
        )
    except KeyError:
        raise InputError(
            f"run {run_id} has no population by sex and age (stored by an older version)"
        ) from None
    console.print(f"plot     {png}", soft_wrap=True)


def unknown_id(store: ResultsStore, run_id: str, name: str = "run id") -> InputError:
    """The error for an id that names no run and no ensemble (``name``: as the command knows it)."""
    return InputError(
        f"{name} {run_id!r}: not in the catalog {store.catalog} (no run or ensemble has that id)"
    )


def check_file(file: Path, formats: tuple[str, ...]) -> None:
    """A file to write, in one of ``formats`` (suffixes), in a folder that exists."""
    if file.suffix.lower() not in formats:
        raise InputError(
            f"--file {str(file)!r}: write a {', '.join(formats)} file "
            f"(not {file.suffix or 'a name without extension'})"
        )
    if file.is_dir():
        raise InputError(f"--file {str(file)!r}: is a folder; name a file in it")
    if not file.parent.is_dir():
        raise InputError(f"--file {str(file)!r}: no folder {str(file.parent)!r}")
