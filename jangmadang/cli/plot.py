"""``jangmadang plot``: figures of a stored run or ensemble."""

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
