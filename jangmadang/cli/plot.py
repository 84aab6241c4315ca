"""``jangmadang plot``: figures of a stored run or ensemble.

Without indicators it draws the default figure (``plot.png``, as ``run`` and ``ensemble`` do);
chosen indicators go to a figure of their own (``plot-<indicators>.png``), so a run's or an
ensemble's default figure is only ever replaced by the same figure, or by an explicit ``--file``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.store import ResultsStore, UnknownRun


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
) -> None:
    """Plot indicators of a stored run (or the bands of an ensemble), with events marked."""
    from jangmadang.experiments.checks import BadInput
    from jangmadang.experiments.ensemble import plot_ensemble_figure
    from jangmadang.plotting import DEFAULT_INDICATORS, figure_name, plot_run

    store = ResultsStore(out)
    name = figure_name(indicators) if indicators else "plot.png"
    with reported_errors():
        if file is not None:
            _check_file(file)
        if store.catalog.is_file() and not store.ensemble_members(run_id).empty:
            target = file or store.out / "ensembles" / run_id / name
            try:
                png = plot_ensemble_figure(store, run_id, target, indicators)
            except BadInput as exc:
                raise InputError(f"ensemble {run_id}: {exc.reason}") from None
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


def _check_file(file: Path) -> None:
    """A figure file matplotlib can write and a reader can open, in a folder that exists."""
    from jangmadang.plotting import FORMATS

    if file.suffix.lower() not in FORMATS:
        raise InputError(
            f"--file {str(file)!r}: write a {', '.join(FORMATS)} file "
            f"(not {file.suffix or 'a name without extension'})"
        )
    if file.is_dir():
        raise InputError(f"--file {str(file)!r}: is a folder; name a file in it")
    if not file.parent.is_dir():
        raise InputError(f"--file {str(file)!r}: no folder {str(file.parent)!r}")
