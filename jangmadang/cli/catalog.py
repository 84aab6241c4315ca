"""Commands that read the catalog: ``runs`` and ``query``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.table import Column, Table

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.store import QueryRefused, ResultsStore


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
def query(
    sql: Annotated[str, typer.Argument(help='SQL over tables "runs" and "results".')],
    out: Out = Path("results"),
) -> None:
    """Query the catalog (table runs) and all stored series (view results) with SQL."""
    with reported_errors():
        try:
            frame = ResultsStore(out).query(sql)
        except (duckdb.Error, QueryRefused) as exc:
            raise InputError(f"query: {str(exc).splitlines()[0]}") from None
    table = Table(*[str(c) for c in frame.columns])
    for row in frame.head(200).itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)
    if len(frame) > 200:
        console.print(f"({len(frame) - 200} more rows)")
