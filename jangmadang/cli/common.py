"""What every command shares: the Typer app, the consoles, the ``--out`` option and the
one-line error rule (a mistake prints one line naming the file or option, the key and the
reason, and exits with code 2, no traceback)."""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from jangmadang.scenario import Problem, ScenarioError
from jangmadang.store import ResultsStore, StoreError


class OneLineErrors(TyperGroup):
    """The command line's own parse errors (an unknown option, a value of the wrong type, a
    missing argument) follow the rule every other mistake follows: one line, exit code 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except typer.Abort:
            _print_error("aborted")
            sys.exit(1)
        except Exception as exc:
            # Click's exceptions (vendored by newer Typer versions) carry these two.
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
                raise
            if type(exc).__name__ == "NoArgsIsHelpError":  # `jangmadang` alone: the help
                exc.show()
                sys.exit(exc.exit_code)
            message = " ".join(exc.format_message().split())
            context = getattr(exc, "ctx", None)
            if context is not None:
                message += f" (see `{context.command_path} --help`)"
            _print_error(message)
            sys.exit(exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
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


def progress_bar(label: str = "{task.description}") -> Progress:
    """The commands' progress bar: label, bar, steps done of all, time; gone when it ends."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class InputError(Exception):
    """A user mistake the CLI reports in one line with exit code 2."""


def _out_option(value: str | Path) -> Path:
    """``--out ""`` would quietly mean the current folder, and a file cannot hold results:
    both stop every command at parsing, in one line."""
    problem = _folder_problem(Path(value)) if str(value).strip() else "empty; name a folder"
    if problem:
        _print_error(f"--out {str(value)!r}: {problem}")
        raise typer.Exit(2)
    return Path(value)


Out = Annotated[
    Path,
    typer.Option(
        "--out", parser=_out_option, help="Folder for Parquet results and the DuckDB catalog."
    ),
]


def check_out(out: Path) -> Path:
    """Stop before any work when ``out`` cannot take results: it is a file, cannot be created
    or written to, or holds a catalog DuckDB cannot read. Creates the folder. Call it inside
    :func:`reported_errors` (the error is one line, exit code 2)."""
    problem = _folder_problem(out)
    if problem is None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"cannot create the folder ({exc.strerror or exc})"
    if problem is None:
        try:
            with tempfile.TemporaryFile(dir=out):
                pass
        except OSError as exc:
            problem = f"cannot write in the folder ({exc.strerror or exc})"
    if problem:
        raise InputError(f"--out {str(out)!r}: {problem}")
    ResultsStore(out).verify_catalog()
    return out


def _folder_problem(out: Path) -> str | None:
    if out.exists() and not out.is_dir():
        return "is a file, not a folder"
    return None


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
