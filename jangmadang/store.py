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
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

import jangmadang
from jangmadang.scenario import Scenario
from jangmadang.timeline import format_month, parse_month

CATALOG_FILE = "jangmadang.duckdb"
LOCK_FILE = "jangmadang.lock"
RUN_FILE = "run.json"
RESULTS_FILE = "results.parquet"
TEMP_SUFFIX = ".tmp"
ORPHANS = "orphans"
HOST = socket.gethostname()
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")

RUN_COLUMNS = {
    "run_id": "VARCHAR PRIMARY KEY",
    "scenario": "VARCHAR",
    "scenario_hash": "VARCHAR",
    "seed": "BIGINT",
    "population": "BIGINT",
    "start_month": "VARCHAR",
    "end_month": "VARCHAR",
    "package_version": "VARCHAR",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "wall_seconds": "DOUBLE",
    "status": "VARCHAR",
    "error": "VARCHAR",
    "results_path": "VARCHAR",
    "pid": "BIGINT",
    "host": "VARCHAR",
    "reached_month": "VARCHAR",
}
_ADDED_COLUMNS = ("pid", "host", "reached_month")  # absent from catalogs of version 0.1.0
_TIMESTAMPS = ("started_at", "finished_at")
_TABLES = ("runs", "ensembles", "ensemble_members")
_EMPTY_RESULTS = (
    'run_id VARCHAR, date TIMESTAMP, indicator VARCHAR, dimension VARCHAR, "group" VARCHAR, '
    "value DOUBLE"
)
_TEMPORARY = re.compile(r"\..+\.(?P<pid>\d+)-[0-9a-f]{6}\.tmp")
_ONE_READ = "write one read-only statement: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"
_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(?:ANALYZE\s+)?(.*)", re.IGNORECASE | re.DOTALL)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs ({", ".join(f"{c} {t}" for c, t in RUN_COLUMNS.items())});
{"".join(f"ALTER TABLE runs ADD COLUMN IF NOT EXISTS {c} {RUN_COLUMNS[c]};" for c in _ADDED_COLUMNS)}
CREATE TABLE IF NOT EXISTS ensembles (
    ensemble_id VARCHAR PRIMARY KEY,
    scenario VARCHAR,
    scenario_hash VARCHAR,
    base_seed BIGINT,
    created_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS ensemble_members (
    ensemble_id VARCHAR,
    member INTEGER,
    seed BIGINT,
    run_id VARCHAR,
    PRIMARY KEY (ensemble_id, member)
)
"""


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


class QueryRefused(StoreError, ValueError):
    """SQL that is not one read-only statement."""


class ResultsStore:
    def __init__(self, out_dir: str | Path = "results", lock_timeout: float = 60.0):
        self.out = Path(out_dir)
        self.catalog = self.out / CATALOG_FILE
        self.lock_timeout = lock_timeout

    def run_dir(self, run_id: str) -> Path:
        if not RUN_ID.fullmatch(run_id):
            raise UnknownRun(f"{run_id!r} is not a run id")
        return self.out / "runs" / run_id

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, scenario: Scenario) -> str:
        """Create the run's folder (scenario.toml, run.json) and catalog it as ``running`` with
        this process's id and host; return its id."""
        stamp = datetime.now()
        record = _new_record(scenario, stamp)
        with self._catalog(write=True) as con:
            run_id = self._new_run_folder(
                f"{scenario.name}-{stamp:%Y%m%d-%H%M%S}", scenario, record
            )
            _put_run(con, record)
        return run_id

    def checkpointed(self, run_id: str, month: str) -> None:
        """Record that the run reached ``month`` (YYYY-MM) and has a snapshot to resume from."""
        self._update(run_id, reached_month=format_month(parse_month(month)))

    def reopen_run(self, run_id: str) -> None:
        """Mark an interrupted run, or a failed one with a snapshot, ``running`` again in this
        process, so ``jangmadang resume`` can continue it (an interrupted run without a
        snapshot starts over)."""
        with self._catalog(write=True) as con:
            row = _get_run(con, run_id)
            if row is None:
                raise RunNotResumable(f"run {run_id!r}: not in the catalog {self.catalog}")
            status = _effective_status(row)
            if status == "completed":
                raise RunNotResumable(f"run {run_id!r}: already completed")
            if status == "running":
                raise RunNotResumable(
                    f"run {run_id!r}: still running (process {row['pid']} on {row['host']})"
                )
            if status == "failed" and not (self.run_dir(run_id) / "snapshot").is_dir():
                raise RunNotResumable(f"run {run_id!r}: failed, with no snapshot to resume from")
            self._write_record(
                con, run_id, status="running", pid=os.getpid(), host=HOST, error=None
            )

    def finish_run(self, run_id: str, results: pd.DataFrame, wall_seconds: float) -> Path:
        """Write the run's series to Parquet (atomically), then mark it ``completed``."""
        path = self._write_results(run_id, results)
        self._update(
            run_id,
            status="completed",
            finished_at=datetime.now(),
            wall_seconds=wall_seconds,
            error=None,
        )
        return path

    def fail_run(self, run_id: str, error: str) -> None:
        self._update(run_id, status="failed", finished_at=datetime.now(), error=error)

    def save(self, sim) -> str:
        """Store a finished :class:`~jangmadang.Sim`; return the run id."""
        run_id = self.start_run(sim.scenario)
        self.finish_run(run_id, sim.results, sim.wall_seconds)
        return run_id

    # -- ensembles --------------------------------------------------------------------------

    def open_ensemble(self, ensemble_id: str, scenario: Scenario) -> None:
        """Catalog an ensemble (once); its members are added as they finish."""
        row = {
            "ensemble_id": ensemble_id,
            "scenario": scenario.name,
            "scenario_hash": scenario.fingerprint(),
            "base_seed": scenario.seed,
            "created_at": datetime.now(),
        }
        path = self._ensemble_file(ensemble_id)
        with self._catalog(write=True) as con:
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, lambda tmp: tmp.write_text(_to_json(row)))
            _put_ensemble(con, row)

    def save_member(
        self,
        ensemble_id: str,
        member: int,
        scenario: Scenario,
        results: pd.DataFrame,
        wall_seconds: float,
    ) -> str:
        """Store one finished member of an ensemble and return its run id. Its folder and
        Parquet are written first, then its run.json and catalog rows in one locked step, so a
        member is either catalogued with its results or absent (and run again). If another
        process stored the same member meanwhile, this copy is discarded and that run's id is
        returned: a member is catalogued once."""
        stamp = datetime.now()
        record = _new_record(scenario, stamp) | {"ensemble_id": ensemble_id, "member": member}
        run_id = self._new_run_folder(f"{ensemble_id}-m{member:04d}", scenario, record)
        self._write_results(run_id, results)
        with self._catalog(write=True) as con:
            stored = _stored_member(con, ensemble_id, member)
            if stored is not None:
                shutil.rmtree(self.run_dir(run_id))
                return stored[0]
            record |= {"finished_at": datetime.now(), "wall_seconds": wall_seconds}
            self._save_record(_completed(record))
            con.execute("BEGIN TRANSACTION")
            _put_run(con, record)
            _put_member(con, record)
            con.execute("COMMIT")
        return run_id

    def ensemble_members(self, ensemble_id: str) -> pd.DataFrame:
        """The stored members of an ensemble (member, seed, run_id, results_path)."""
        empty = pd.DataFrame(columns=["member", "seed", "run_id", "results_path"])
        if not self.catalog.is_file():
            return empty
        with self._catalog(write=False) as con:
            if "ensemble_members" not in _tables(con):
                return empty
            members = con.execute(
                "SELECT m.member, m.seed, m.run_id FROM ensemble_members m "
                "JOIN runs r USING (run_id) WHERE m.ensemble_id = ? AND r.status = 'completed' "
                "ORDER BY m.member",
                [ensemble_id],
            ).df()
        return members.assign(results_path=[str(self._results(r)) for r in members.run_id])

    # -- reading ----------------------------------------------------------------------------

    def verify_catalog(self) -> None:
        """Raise :class:`CatalogError` if a catalog exists that DuckDB cannot read."""
        if self.catalog.is_file():
            with self._catalog(write=False) as con:
                con.execute("SELECT count(*) FROM runs").fetchone()

    def runs(self) -> pd.DataFrame:
        """Every catalogued run, oldest first, with its effective status: a ``running`` run
        whose process is gone from this host is ``interrupted``."""
        with self._catalog(write=False) as con:
            frame = con.execute("SELECT * FROM runs ORDER BY started_at, run_id").df()
        return self._effective(frame)

    def run_info(self, run_id: str) -> dict:
        with self._catalog(write=False) as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).df()
        if row.empty:
            raise UnknownRun(run_id)
        return self._effective(row).iloc[0].to_dict()

    def load(self, run_id: str) -> pd.DataFrame:
        info = self.run_info(run_id)
        if info["status"] != "completed":
            raise UnknownRun(f"{run_id} has status {info['status']}, no results")
        return pd.read_parquet(self._results(run_id))

    def scenario(self, run_id: str) -> Scenario:
        from jangmadang.scenario import load_scenario

        self.run_info(run_id)
        return load_scenario(self.run_dir(run_id) / "scenario.toml")

    def query(self, sql: str) -> pd.DataFrame:
        """Run one read-only statement on the catalog's tables (``runs`` with effective
        statuses, ``ensembles``, ``ensemble_members``) and the view ``results`` over the Parquet
        files of completed runs, in a sandbox that can read those files and nothing else."""
        check_read_only(sql)
        with self._catalog(write=False) as con:
            tables = {t: con.execute(f"SELECT * FROM {t}").df() for t in _tables(con)}
        tables["runs"] = self._effective(tables["runs"].sort_values(["started_at", "run_id"]))
        files = [
            str(self._results(r).resolve())
            for r, s in zip(tables["runs"].run_id, tables["runs"].status, strict=True)
            if s == "completed"
        ]
        with _sandbox(tables, files) as con:
            return con.execute(sql).df()

    # -- doctor -----------------------------------------------------------------------------

    def doctor(self, fix: bool = False) -> list[Finding]:
        """Check the folder against its invariants and list the problems; with ``fix``, repair
        each one. The catalog's lock is held throughout, so no run changes state meanwhile.

        Problems: leftover temporary files; a missing or unreadable catalog (set aside and
        rebuilt from the run.json files); catalog rows behind their run.json, or without a
        folder; ``running`` runs whose process is gone (``interrupted``, or ``completed`` if
        their results were written); completed runs with unreadable results (``failed``);
        folders that are not catalogued runs (catalogued from their run.json, or moved to
        ``orphans/`` if they have none, or are unfinished or duplicate ensemble members).
        """
        if not self.catalog.is_file() and not (self.out / "runs").is_dir():
            raise NoCatalog(f"no results catalog at {self.catalog}, and no runs beside it")
        findings = _Findings(self.out, fix)
        with self._lock(exclusive=fix):
            self._doctor_temporaries(findings)
            con = self._doctor_catalog(findings)
            if con is not None:
                try:
                    self._doctor_runs(con, findings)
                finally:
                    con.close()
        return findings.found

    def _doctor_temporaries(self, findings: _Findings) -> None:
        for path in sorted(self.out.rglob(f".*{TEMP_SUFFIX}")):
            written = _TEMPORARY.fullmatch(path.name)
            if ORPHANS in path.relative_to(self.out).parts or not written:
                continue
            if not _alive(int(written["pid"])):
                kind = "folder" if path.is_dir() else "file"
                findings.add(
                    path, f"leftover temporary {kind}", "delete it", partial(_remove, path)
                )

    def _doctor_catalog(self, findings: _Findings):
        """A connection to the catalog (when only checking, to a copy in memory, with any table
        an older version lacked); if the catalog is missing or unreadable, a new empty one when
        fixing (the runs are then catalogued from their run.json), else None."""
        if self.catalog.is_file():
            con = None
            try:
                if findings.fix:
                    con = duckdb.connect(str(self.catalog))
                    con.execute("SELECT count(*) FROM runs").fetchone()  # every version has it
                    con.execute(_SCHEMA)
                else:
                    con = duckdb.connect()
                    con.execute(_SCHEMA)
                    con.execute("ATTACH ? AS stored (READ_ONLY)", [str(self.catalog)])
                    for table in _tables(con, "stored"):
                        con.execute(f"INSERT INTO {table} BY NAME FROM stored.{table}")
                    con.execute("DETACH stored")
                return con
            except duckdb.Error as exc:
                if con is not None:
                    con.close()
                problem = f"unreadable catalog ({_first_line(exc)})"
        else:
            problem = "no catalog"
        findings.add(
            self.catalog, problem, "set it aside, rebuild it from the run.json files", None
        )
        if not findings.fix:
            return None
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
        for path in (self.catalog, self.catalog.with_name(f"{CATALOG_FILE}.wal")):
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.corrupt-{stamp}"))
        con = duckdb.connect(str(self.catalog))
        con.execute(_SCHEMA)
        return con

    def _doctor_runs(self, con, findings: _Findings) -> None:
        cursor = con.execute("SELECT * FROM runs")
        columns = [d[0] for d in cursor.description]
        rows = {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}
        folder = self.out / "runs"
        entries = {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}
        entries = {n: p for n, p in entries.items() if not n.startswith(".")}
        for run_id in sorted(rows.keys() - entries.keys()):
            findings.add(
                folder / run_id,
                "catalogued, but the run folder is missing",
                "remove it from the catalog",
                partial(_delete_run, con, run_id),
            )
        for name, path in sorted(entries.items()):
            if name in rows:
                self._doctor_catalogued(con, rows[name], path, findings)
            else:
                self._doctor_uncatalogued(con, name, path, findings)
        known = {e for (e,) in con.execute("SELECT ensemble_id FROM ensembles").fetchall()}
        for path in sorted(self.out.glob("ensembles/*/ensemble.json")):
            row = _from_json(path.read_text())
            if row["ensemble_id"] not in known:
                findings.add(
                    path,
                    "ensemble not in the catalog",
                    "catalog it",
                    partial(_put_ensemble, con, row),
                )

    def _doctor_catalogued(self, con, row: dict, path: Path, findings: _Findings) -> None:
        record = _folder_record(path)
        if record is None:
            member = con.execute(
                "SELECT ensemble_id, member FROM ensemble_members WHERE run_id = ?",
                [row["run_id"]],
            ).fetchone()
            record = row | dict(zip(("ensemble_id", "member"), member or (None, None), strict=True))
            if record["status"] == "completed":
                _completed(record)
            findings.add(
                path,
                f"no {RUN_FILE}",
                "write it from the catalog",
                partial(self._rewrite, con, record),
            )
        elif _catalogued(record) != _catalogued(row):
            findings.add(
                path,
                f"catalog row behind {RUN_FILE}",
                "update the row",
                partial(_put_run, con, record),
            )
        repaired, problem, repair = self._repaired(record)
        if problem:
            findings.add(path, problem, repair, partial(self._rewrite, con, repaired))

    def _doctor_uncatalogued(self, con, name: str, path: Path, findings: _Findings) -> None:
        record = _folder_record(path)
        member = record is not None and record.get("ensemble_id") is not None
        if member and _effective_status(record) == "running":
            return  # a member being stored: catalogued only once complete
        reason = None
        if record is None:
            reason = f"no {RUN_FILE}" if path.is_dir() else "not a run folder"
        elif record["run_id"] != name:
            reason = f"its {RUN_FILE} names run {record['run_id']!r}"
        elif member:
            stored = _stored_member(con, record["ensemble_id"], record["member"])
            if record["status"] != "completed":
                reason = "an unfinished ensemble member"
            elif stored is not None:
                reason = f"a duplicate of ensemble member {record['member']} (run {stored[0]})"
            else:
                reason = _results_problem(self._results(name))
        if reason is None:
            repaired = self._repaired(record)[0]
            findings.add(
                path,
                f"{record['status']} run not in the catalog",
                f"catalog it ({repaired['status']})",
                partial(self._rewrite, con, repaired),
            )
        else:
            target = self.out / ORPHANS / name
            findings.add(
                path,
                f"not a catalogued run: {reason}",
                f"move it to {target.relative_to(self.out)}",
                partial(_set_aside, path, target),
            )

    def _repaired(self, record: dict) -> tuple[dict, str | None, str | None]:
        """A record as it should be, the problem and the repair: a run with an unreadable
        results file ``failed``; a ``running`` run whose process is gone ``interrupted``, or
        ``completed`` if it wrote its results before it was killed."""
        status = _effective_status(record)
        if record["status"] == "running" and record.get("pid") is None:
            status = "interrupted"  # stored by version 0.1, which kept no process id
        if status in ("running", "failed"):  # alive (or on another host), or settled
            return record, None, None
        results = self._results(record["run_id"])
        problem = _results_problem(results)
        if problem and (status == "completed" or results.exists()):
            error = f"{RESULTS_FILE} unreadable: {problem}"
            return record | {"status": "failed", "error": error}, error, "mark it failed"
        if status == "interrupted":
            gone = (
                f"process {record['pid']} on {record['host']} is gone"
                if record.get("pid") is not None
                else "with no process id (version 0.1)"
            )
            if not problem:
                finished = datetime.fromtimestamp(results.stat().st_mtime)
                return (
                    _completed(record | {"finished_at": finished, "error": None}),
                    f"{gone}, after writing its results",
                    "mark it completed",
                )
            if record["status"] == "running":
                return (
                    record | {"status": "interrupted"},
                    f"running, but {gone}",
                    "mark it interrupted",
                )
        return record, None, None

    def _rewrite(self, con, record: dict) -> None:
        """Store a repaired record: run.json, catalog row and ensemble membership."""
        self._save_record(record)
        _put_run(con, record)
        if record.get("ensemble_id") is not None:
            if record["status"] == "completed":
                _put_member(con, record)
            else:
                con.execute("DELETE FROM ensemble_members WHERE run_id = ?", [record["run_id"]])

    # -- internals --------------------------------------------------------------------------

    def _results(self, run_id: str) -> Path:
        return self.run_dir(run_id) / RESULTS_FILE

    def _ensemble_file(self, ensemble_id: str) -> Path:
        if not RUN_ID.fullmatch(ensemble_id):
            raise ValueError(f"{ensemble_id!r} is not an ensemble id")
        return self.out / "ensembles" / ensemble_id / "ensemble.json"

    def _effective(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Computed columns: the effective status and the results file of completed runs."""
        frame = frame.copy()
        frame["status"] = [_effective_status(row) for row in frame.to_dict("records")]
        frame["results_path"] = [
            str(self._results(r)) if s == "completed" else None
            for r, s in zip(frame.run_id, frame.status, strict=True)
        ]
        return frame

    @contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        """Hold ``jangmadang.lock``: exclusively to write, shared to read. A reader of a folder
        it cannot write to goes without (nobody can write there either)."""
        fd = _open_lock(self.out / LOCK_FILE, exclusive)
        if fd is None:
            yield
            return
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreBusy(
                            f"{self.catalog}: still locked by another process after "
                            f"{self.lock_timeout:g} s; try again when it has finished"
                        ) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextmanager
    def _catalog(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one operation, under the lock. Writing creates the folder and the
        catalog on first use; reading a missing catalog is :class:`NoCatalog`."""
        if write:
            self.out.mkdir(parents=True, exist_ok=True)
        elif not self.catalog.is_file():
            raise NoCatalog(
                f"no results catalog at {self.catalog} (write one with `jangmadang run`)"
            )
        with self._lock(exclusive=write):
            try:
                con = duckdb.connect(str(self.catalog), read_only=not write)
            except duckdb.Error as exc:
                raise self._unreadable(exc) from None
            try:
                if write:
                    try:
                        con.execute(_SCHEMA)
                    except duckdb.Error as exc:
                        raise self._unreadable(exc) from None
                yield con
            except duckdb.Error as exc:
                if write:
                    raise
                raise self._unreadable(exc) from None  # readers run only this module's SQL
            finally:
                con.close()

    def _unreadable(self, exc: duckdb.Error) -> CatalogError:
        reason = re.sub(r'"[^"]*" ', "", _first_line(exc))  # DuckDB quotes the path again
        return CatalogError(
            f"{self.catalog}: not a readable catalog ({reason}); "
            f"check and repair it with `jangmadang doctor --out {self.out}`"
        )

    def _new_run_folder(self, stem: str, scenario: Scenario, record: dict) -> str:
        """A fresh run id (the stem and a random suffix); its folder, holding scenario.toml and
        run.json, is assembled under a temporary name and renamed into place."""
        run_id = f"{stem}-{secrets.token_hex(3)}"
        folder = self.run_dir(run_id)
        runs = (self.out / "runs").resolve()
        if folder.resolve().parent != runs:
            raise ValueError(f"run id {run_id!r} would leave {runs}")
        runs.mkdir(parents=True, exist_ok=True)
        temporary = runs / _temporary_name(run_id)
        temporary.mkdir()
        try:
            record["run_id"] = run_id
            _write_synced(temporary / "scenario.toml", scenario_to_toml(scenario))
            _write_synced(temporary / RUN_FILE, _to_json(record))
            _fsync_dir(temporary)
            os.rename(temporary, folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        _fsync_dir(runs)
        return run_id

    def _write_results(self, run_id: str, results: pd.DataFrame) -> Path:
        path = self._results(run_id)
        table = pa.Table.from_pandas(
            results.assign(run_id=run_id)[["run_id", *results.columns]], preserve_index=False
        )
        write_atomically(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def _update(self, run_id: str, **changes) -> dict:
        """Change a run's fields in its run.json, then in its catalog row; return the record."""
        with self._catalog(write=True) as con:
            return self._write_record(con, run_id, **changes)

    def _write_record(self, con, run_id: str, **changes) -> dict:
        record = self._record(run_id) or _get_run(con, run_id)
        if record is None:
            raise UnknownRun(run_id)
        record |= changes
        if record["status"] == "completed":
            _completed(record)
        self._save_record(record)
        _put_run(con, record)
        return record

    def _record(self, run_id: str) -> dict | None:
        """A run's run.json (None if it has none: runs stored before version 0.2)."""
        path = self.run_dir(run_id) / RUN_FILE
        if not path.is_file():
            return None
        return _from_json(path.read_text())

    def _save_record(self, record: dict) -> None:
        path = self.run_dir(record["run_id"]) / RUN_FILE
        write_atomically(path, lambda tmp: tmp.write_text(_to_json(record)))


@dataclass
class Finding:
    """One problem ``doctor`` found (at ``path``, relative to the results folder) and its
    repair, ``fixed`` once done."""

    path: str
    problem: str
    repair: str
    fixed: bool = False


class _Findings:
    """Findings as they are made; when fixing, each repair is done as it is found."""

    def __init__(self, out: Path, fix: bool):
        self.out, self.fix, self.found = out, fix, []

    def add(self, path: Path, problem: str, repair: str, action: Callable[[], object] | None):
        finding = Finding(str(path.relative_to(self.out)), problem, repair)
        self.found.append(finding)
        if self.fix:
            if action is not None:
                action()
            finding.fixed = True


def _folder_record(path: Path) -> dict | None:
    """The run.json of a run folder, None if it has none or it cannot be read."""
    try:
        return _from_json((path / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _results_problem(path: Path) -> str | None:
    """Why a results file cannot be read (missing, truncated, no run_id column), or None."""
    if not path.is_file():
        return f"no {RESULTS_FILE}"
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        return _first_line(exc)
    return None if "run_id" in names else "no run_id column"


def _catalogued(record: dict) -> dict:
    """The fields a catalog row must share with its run.json."""
    return {c: record.get(c) for c in RUN_COLUMNS if c != "results_path"}


def _delete_run(con, run_id: str) -> None:
    con.execute("DELETE FROM ensemble_members WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])


def _set_aside(path: Path, target: Path) -> None:
    target.parent.mkdir(exist_ok=True)
    while target.exists():
        target = target.with_name(f"{target.name}-{secrets.token_hex(2)}")
    os.rename(path, target)
    _fsync_dir(path.parent)
    _fsync_dir(target.parent)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary)`` on a hidden temporary file beside ``path``, fsync it and rename
    it over ``path``, then fsync the folder: a kill at any instant leaves the old file or the new
    one, never a partial one."""
    temporary = path.with_name(_temporary_name(path.name))
    try:
        write(temporary)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def check_read_only(sql: str) -> None:
    """Accept exactly one statement that only reads (SELECT, WITH, FROM, VALUES, TABLE,
    DESCRIBE, SHOW, SUMMARIZE, PIVOT ... IN, or EXPLAIN of one of these), else
    :class:`QueryRefused`."""
    with duckdb.connect() as con:
        try:
            statements = con.extract_statements(sql)
            kind = statements[0].type if len(statements) == 1 else None
            explained = _EXPLAIN.fullmatch(sql)
            if kind == duckdb.StatementType.EXPLAIN and explained:
                inner = con.extract_statements(explained.group(1))
                kind = inner[0].type if len(inner) == 1 else None
        except duckdb.ParserException as exc:
            raise QueryRefused(f"{_first_line(exc)} ({_ONE_READ})") from None
    if not statements:
        raise QueryRefused(f"empty SQL ({_ONE_READ})")
    if kind != duckdb.StatementType.SELECT:
        got = f"{len(statements)} statements" if len(statements) > 1 else statements[0].type.name
        raise QueryRefused(f"refused {got} ({_ONE_READ})")


@contextmanager
def _sandbox(tables: dict[str, pd.DataFrame], files: list[str]):
    """An in-memory DuckDB holding ``tables`` and the view ``results`` over ``files``, then
    locked down: it can read those files and nothing else, write no file (not even spills),
    install or load no extension and change no setting."""
    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        if files:
            con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet([{listing}])")
        else:
            con.execute(f"CREATE TABLE results ({_EMPTY_RESULTS})")
        con.execute("SET temp_directory = ''")
        con.execute(f"SET allowed_paths = [{listing}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET allow_community_extensions = false")
        con.execute("SET lock_configuration = true")
        yield con
    finally:
        con.close()


def _temporary_name(name: str) -> str:
    """A hidden name that says which process writes it: ``.name.<pid>-<random>.tmp``."""
    return f".{name}.{os.getpid()}-{secrets.token_hex(3)}{TEMP_SUFFIX}"


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_lock(path: Path, exclusive: bool) -> int | None:
    """The lock file's descriptor; None for a reader in a folder where nobody can write it."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        if not exclusive:
            try:
                return os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            except OSError:
                pass
        raise StoreError(f"{path}: cannot open the lock file ({exc.strerror})") from None


def _alive(pid) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _effective_status(row: dict) -> str:
    """``running`` unless its process is known to be gone: then ``interrupted``."""
    status = row["status"]
    pid = row.get("pid")
    if status == "running" and row.get("host") == HOST and pid == pid and pid is not None:
        return "running" if _alive(pid) else "interrupted"
    return status


def _new_record(scenario: Scenario, started: datetime) -> dict:
    """A run's record from its start: the catalog columns, and no ensemble."""
    return dict.fromkeys(RUN_COLUMNS) | {
        "scenario": scenario.name,
        "scenario_hash": scenario.fingerprint(),
        "seed": scenario.seed,
        "population": scenario.population.size,
        "start_month": format_month(scenario.start),
        "end_month": format_month(scenario.end),
        "package_version": jangmadang.__version__,
        "started_at": started,
        "status": "running",
        "pid": os.getpid(),
        "host": HOST,
        "ensemble_id": None,
        "member": None,
    }


def _completed(record: dict) -> dict:
    """Mark a record completed: it reached its last month; its results path is catalogued
    relative to the results folder (which may move)."""
    record |= {
        "status": "completed",
        "reached_month": record["end_month"],
        "results_path": f"runs/{record['run_id']}/{RESULTS_FILE}",
    }
    return record


def _put_run(con, record: dict) -> None:
    columns = list(RUN_COLUMNS)
    con.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [record.get(c) for c in columns],
    )


def _stored_member(con, ensemble_id: str, member: int) -> tuple | None:
    """The completed run holding an ensemble's member, if any."""
    return con.execute(
        "SELECT run_id FROM ensemble_members JOIN runs USING (run_id) "
        "WHERE ensemble_id = ? AND member = ? AND status = 'completed'",
        [ensemble_id, member],
    ).fetchone()


def _put_member(con, record: dict) -> None:
    con.execute(
        "INSERT OR REPLACE INTO ensemble_members VALUES (?, ?, ?, ?)",
        [record["ensemble_id"], record["member"], record["seed"], record["run_id"]],
    )


def _put_ensemble(con, row: dict) -> None:
    con.execute(
        "INSERT INTO ensembles VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [row[c] for c in ("ensemble_id", "scenario", "scenario_hash", "base_seed", "created_at")],
    )


def _tables(con, database: str | None = None) -> list[str]:
    """``runs`` and the ensemble tables present in the catalog (older versions lacked them)."""
    present = {
        t
        for (t,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = coalesce(?, "
            "current_database())",
            [database],
        ).fetchall()
    }
    return [t for t in _TABLES if t in present or t == "runs"]


def _get_run(con, run_id: str) -> dict | None:
    cursor = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def _to_json(record: dict) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()},
        indent=1,
    )


def _from_json(text: str) -> dict:
    record = json.loads(text)
    for key in (*_TIMESTAMPS, "created_at"):
        if record.get(key):
            record[key] = datetime.fromisoformat(record[key])
    return record


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def scenario_to_toml(scenario: Scenario) -> str:
    """The resolved scenario as TOML: every value explicit, no ``extends``."""
    values = _without_empty({"description": scenario.description, **scenario.resolved()})
    header = (
        f"# Resolved scenario {scenario.name!r} (hash {scenario.fingerprint()}), "
        f"written by jangmadang {jangmadang.__version__}\n"
    )
    return header + tomli_w.dumps(values)


def _without_empty(value):
    """TOML has no null: drop None (and empty tables and labels inside events)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in (None, {}, "")}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value
