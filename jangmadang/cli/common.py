"""What every command shares: the Typer app, the consoles, the ``--out`` option and the
one-line error rule (a mistake prints one line naming the file or option, the key and the
reason, and exits with code 2, no traceback)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from jangmadang.scenario import Problem, ScenarioError
from jangmadang.store import StoreError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Agent-based simulation of North Korea's informal political economy.",
)
console = Console()
errors = Console(stderr=True)

OPTION_FOR_KEY = {
    "population.persons": "--population",
    "population.scale": "--scale",
    "seed": "--seed",
    "start": "--start",
    "end": "--end",
}
Out = Annotated[
    Path, typer.Option("--out", help="Folder for Parquet results and the DuckDB catalog.")
]


class InputError(Exception):
    """A user mistake the CLI reports in one line with exit code 2."""


@contextmanager
def reported_errors():
    try:
        yield
    except ScenarioError as exc:
        for problem in exc.problems:
            if problem.source == "command line":
                problem = Problem(
                    problem.source, OPTION_FOR_KEY.get(problem.key, problem.key), problem.reason
                )
            _print_error(str(problem))
        raise typer.Exit(2) from None
    except (InputError, StoreError) as exc:
        _print_error(str(exc))
        raise typer.Exit(2) from None


def _print_error(message: str) -> None:
    """One unwrapped line per problem; the message is text, never Rich markup (a run id or a
    path like ``[/x]`` would otherwise be swallowed or raise a MarkupError)."""
    errors.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
