"""The store's errors, each worded for one line of the CLI."""

from __future__ import annotations


class UnknownRun(KeyError):
    pass


class StoreError(Exception):
    """A problem with the results folder, worded for one line of the CLI."""


class NoCatalog(StoreError, FileNotFoundError):
    pass


class CatalogError(StoreError):
    """The catalog file exists but DuckDB cannot read it."""


class StoreBusy(StoreError, TimeoutError):
    """Another process held the catalog's lock for longer than the timeout."""


class RunNotResumable(StoreError, ValueError):
    pass


class NoResults(StoreError, LookupError):
    """A catalogued run that has no results to read: still running, interrupted or failed."""


class QueryRefused(StoreError, ValueError):
    """SQL that is not one read-only statement."""


def first_line(exc: Exception) -> str:
    """The first line of an error's message (DuckDB and Arrow add context on the next ones)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
