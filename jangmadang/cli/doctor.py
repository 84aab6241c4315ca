"""``jangmadang doctor``: check a results folder and repair what a kill or crash left."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jangmadang.cli.common import Out, app, console, reported_errors
from jangmadang.store import ResultsStore


@app.command()
def doctor(
    out: Out = Path("results"),
    fix: Annotated[bool, typer.Option("--fix", help="Repair the problems found.")] = False,
) -> None:
    """Check the results folder: stale running runs, unreadable results, orphan folders,
    leftover temporary files, an unreadable catalog. Exit 1 if problems remain."""
    with reported_errors():
        findings = ResultsStore(out).doctor(fix=fix)
    for f in findings:
        console.print(f"{f.path}: {f.problem}", highlight=False, soft_wrap=True, markup=False)
        state = "fixed" if f.fixed else "to fix"
        console.print(f"  {state}: {f.repair}", highlight=False, soft_wrap=True, markup=False)
    remaining = sum(not f.fixed for f in findings)
    if not findings:
        console.print(f"{out}: no problems", highlight=False, markup=False)
    elif remaining:
        console.print(
            f"{_problems(remaining)}; repair with `jangmadang doctor --fix --out {out}`",
            highlight=False,
            markup=False,
        )
        raise typer.Exit(1)
    else:
        console.print(f"{_problems(len(findings))} fixed", highlight=False)


def _problems(n: int) -> str:
    return f"{n} problem{'s' if n != 1 else ''}"
