"""``jangmadang evidence``: the sources behind parameters and rules."""

from __future__ import annotations

from typing import Annotated

import typer

from jangmadang.cli.common import InputError, app, console, reported_errors


@app.command()
def evidence(
    key: Annotated[str | None, typer.Argument(help="A parameter, rule or section.")] = None,
) -> None:
    """Show the evidence behind parameters and rules: source and what it says."""
    from jangmadang import evidence as ledger

    with reported_errors():
        if key is not None and not key.strip():
            raise InputError("evidence: empty key; give a parameter, rule or section, or none")
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
