"""``jangmadang report``: one self-contained HTML file on a stored run or ensemble."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.cli.plot import check_file, unknown_id
from jangmadang.store import ResultsStore, UnknownRun


@app.command()
def report(
    run_id: Annotated[
        str, typer.Argument(help="A run id from `jangmadang runs`, or an ensemble id.")
    ],
    against: Annotated[
        str | None,
        typer.Option(help="Another run (or ensemble) id: add the differences over time."),
    ] = None,
    out: Out = Path("results"),
    file: Annotated[
        Path | None,
        typer.Option(help="HTML file to write (default: report-<id>.html beside the results)."),
    ] = None,
) -> None:
    """Write one HTML file on a run or an ensemble, to open anywhere offline: what was run,
    the key indicators, plots with events, province maps, and the differences from another."""
    from jangmadang.experiments.checks import BadInput
    from jangmadang.report import load_stored, write_report

    store = ResultsStore(out)
    with reported_errors():
        if file is not None:
            check_file(file, (".html", ".htm"))
        stored = {}
        for option, given in (("run id", run_id), ("--against", against)):
            try:
                stored[option] = load_stored(store, given) if given is not None else None
            except UnknownRun:
                raise unknown_id(store, given, option) from None
        try:
            path = write_report(store, stored["run id"], file, stored["--against"])
        except BadInput as exc:
            raise InputError(exc.message(f"--{exc.option}")) from None
    console.print(f"report   {path}", soft_wrap=True)
