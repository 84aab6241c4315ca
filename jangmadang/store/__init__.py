"""The results store: each run's monthly series as Parquet, catalogued in an embedded DuckDB.

Layout of an output folder (default ``results/``)::

    results/jangmadang.duckdb               the catalog: tables runs, ensembles, ensemble_members
    results/jangmadang.lock                 locked around every connection to the catalog
    results/runs/<run_id>/run.json          the run's catalog row (and ensemble member number)
    results/runs/<run_id>/scenario.toml     the resolved scenario: rerun it to reproduce the run
    results/runs/<run_id>/results.parquet   long-format series (run_id, date, indicator, ...)
    results/runs/<run_id>/snapshot/         the last checkpoint of a resumable run (by the Sim)
    results/runs/<run_id>/plot.png          written by the CLI
    results/ensembles/<ensemble_id>/ensemble.json

SQL sees the catalog as ``runs`` and the series of completed runs as the view ``results``.

Why it is built this way. Any number of processes write (``run``, resumed runs, ensemble
members) and read (``runs``, ``query``, ``plot``) the same folder at once, and any of them may be
killed at any instant:

- *Atomic files.* Every file is written under a temporary name in its folder, flushed and
  fsynced, renamed over its target and the folder fsynced (:func:`write_atomically`); a run
  folder is assembled under a temporary name and renamed into place. A kill leaves the old file
  or the new one, never a partial one; leftovers are hidden ``*.tmp`` names.
- *run.json first, catalog second.* Each change of a run's state is written to its ``run.json``
  and then to its catalog row, both under the catalog's lock, so the catalog can always be
  rebuilt from the ``run.json`` files (``jangmadang doctor --fix``), and a run's results enter
  the ``results`` view only once its catalog row says ``completed``: a file written by a process
  killed before that commit is never queried, nor counted twice.
- *Short connections under a file lock.* DuckDB lets one process at a time open a file for
  writing, and a read-only open fails while a writer holds it, so every connection lasts one
  operation and is taken under ``flock`` on ``jangmadang.lock``: exclusive to write, shared to
  read, waiting at most ``lock_timeout`` seconds before :class:`StoreBusy`. ``query`` copies the
  catalog into memory and releases the lock before running the user's SQL, so a long query never
  holds up a writer.
- *Liveness.* A run records its process id and host when it starts or resumes; a ``running`` row
  whose process is gone from this host is shown ``interrupted``, with the month it reached.

One file a part: ``files`` (atomic writes), ``records`` (run.json), ``tables`` (the catalog's
schema and rows), ``lock``, ``sandbox`` (``query``), ``doctor``, ``scenario_file``
(scenario.toml), ``errors``, and ``results_store`` (:class:`ResultsStore`, which uses them all).
"""

from jangmadang.store.doctor import ORPHANS, Finding
from jangmadang.store.errors import (
    CatalogError,
    NoCatalog,
    NoResults,
    QueryRefused,
    RunNotResumable,
    StoreBusy,
    StoreError,
    UnknownRun,
)
from jangmadang.store.files import TEMP_SUFFIX, write_atomically
from jangmadang.store.lock import LOCK_FILE
from jangmadang.store.records import HOST, RESULTS_FILE, RUN_COLUMNS, RUN_FILE
from jangmadang.store.results_store import RUN_ID, ResultsStore
from jangmadang.store.sandbox import check_read_only
from jangmadang.store.scenario_file import scenario_to_toml
from jangmadang.store.tables import CATALOG_FILE

__all__ = [
    "CATALOG_FILE",
    "HOST",
    "LOCK_FILE",
    "ORPHANS",
    "RESULTS_FILE",
    "RUN_COLUMNS",
    "RUN_FILE",
    "RUN_ID",
    "TEMP_SUFFIX",
    "CatalogError",
    "Finding",
    "NoCatalog",
    "QueryRefused",
    "ResultsStore",
    "RunNotResumable",
    "StoreBusy",
    "StoreError",
    "NoResults",
    "UnknownRun",
    "check_read_only",
    "scenario_to_toml",
    "write_atomically",
]
