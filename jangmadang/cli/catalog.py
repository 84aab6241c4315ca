"""Commands that read the catalog: ``runs`` and ``query``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import duckdb
import pandas as pd
import typer

from jangmadang.cli.common import InputError, Out, app, console, reported_errors
from jangmadang.store import QueryRefused, ResultsStore

_PLAIN = {"markup": False, "highlight": False, "soft_wrap": True}


class Listing(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command()
def runs(
    out: Out = Path("results"),
    fmt: Annotated[
        Listing,
        typer.Option("--format", help="table, or csv / json with every catalog column."),
    ] = Listing.table,
) -> None:
    """List the runs in the catalog: status (running, interrupted, completed, failed) and the
    month each reached."""
    with reported_errors():
        listing = ResultsStore(out).runs()
    if fmt is Listing.csv:
        print(listing.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S"), end="")
    elif fmt is Listing.json:
        listing = listing.astype({"seed": "Int64", "population": "Int64", "pid": "Int64"})
        records = json.loads(listing.to_json(orient="records", date_format="iso", date_unit="s"))
        print(json.dumps(records, indent=1))
    else:
        header = ("run id", "status", "reached", "scenario", "window", "seconds", "persons", "seed")
        rows = [
            (
                row.run_id,
                row.status,
                _text(row.reached_month),
                row.scenario,
                f"{row.start_month}..{row.end_month}",
                "" if pd.isna(row.wall_seconds) else f"{row.wall_seconds:.1f}",
                f"{row.population:,}",
                str(row.seed),
            )
            for row in listing.itertuples()
        ]
        _show(header, rows, fit=True)


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
    _show(
        [str(c) for c in frame.columns],
        [[_text(v) for v in row] for row in frame.head(200).itertuples(index=False)],
    )
    if len(frame) > 200:
        console.print(f"({len(frame) - 200} more rows)")


def _show(header, rows, fit: bool = False) -> None:
    """Aligned plain text, every value in full (for terminals, pipes and files alike). To
    ``fit`` a terminal too narrow for every column, the last ones are left out, named below."""
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(header)]
    shown = len(header)
    while (
        fit
        and console.is_terminal
        and shown > 1
        and sum(widths[:shown]) + 2 * (shown - 1) > console.width
    ):
        shown -= 1
    for i, line in enumerate([header, *rows]):
        text = "  ".join(v.ljust(w) for v, w in zip(line[:shown], widths, strict=False))
        console.print(text.rstrip(), style="bold" if i == 0 else None, **_PLAIN)
    if shown < len(header):
        hidden = ", ".join(header[shown:])
        console.print(f"(too narrow to show: {hidden})", style="dim", **_PLAIN)


def _text(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
