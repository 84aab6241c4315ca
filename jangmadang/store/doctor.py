"""``doctor``: check a results folder against the store's invariants, and repair it.

A kill or a crash can leave temporary files, a catalog row behind its run.json, a ``running``
run whose process is gone, a run folder that never reached the catalog, or a lost catalog.
Since run.json is the source of truth, each of these is repaired from the files alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from jangmadang.store.errors import NoCatalog, first_line
from jangmadang.store.files import TEMP_SUFFIX, TEMPORARY, remove, set_aside
from jangmadang.store.lock import catalog_lock
from jangmadang.store.records import (
    RESULTS_FILE,
    RUN_COLUMNS,
    RUN_FILE,
    alive,
    effective_status,
    from_json,
    mark_completed,
)
from jangmadang.store.tables import (
    CATALOG_FILE,
    SCHEMA,
    delete_run,
    present_tables,
    put_ensemble,
    put_member,
    put_run,
    stored_member,
)

if TYPE_CHECKING:
    from jangmadang.store.results_store import ResultsStore

ORPHANS = "orphans"


@dataclass
class Finding:
    """One problem ``doctor`` found (at ``path``, relative to the results folder) and its
    repair, ``fixed`` once done."""

    path: str
    problem: str
    repair: str
    fixed: bool = False


def examine(store: ResultsStore, fix: bool) -> list[Finding]:
    """The problems of ``store``'s folder, each repaired as it is found if ``fix`` (see
    :meth:`ResultsStore.doctor`), under the catalog's lock so no run changes state meanwhile."""
    if not store.catalog.is_file() and not (store.out / "runs").is_dir():
        raise NoCatalog(f"no results catalog at {store.catalog}, and no runs beside it")
    doctor = _Doctor(store, fix)
    with catalog_lock(store.catalog, fix, store.lock_timeout):
        doctor.temporaries()
        con = doctor.catalog()
        if con is not None:
            try:
                doctor.runs(con)
            finally:
                con.close()
    return doctor.found


class _Doctor:
    """Findings as they are made; when fixing, each repair is done as it is found. The doctor
    is the store's own: it reads results and writes run.json through the store's internals."""

    def __init__(self, store: ResultsStore, fix: bool):
        self.store, self.out, self.fix, self.found = store, store.out, fix, []

    def add(self, path: Path, problem: str, repair: str, action: Callable[[], object] | None):
        finding = Finding(str(path.relative_to(self.out)), problem, repair)
        self.found.append(finding)
        if self.fix:
            if action is not None:
                action()
            finding.fixed = True

    def temporaries(self) -> None:
        for path in sorted(self.out.rglob(f".*{TEMP_SUFFIX}")):
            written = TEMPORARY.fullmatch(path.name)
            if ORPHANS in path.relative_to(self.out).parts or not written:
                continue
            if not alive(int(written["pid"])):
                kind = "folder" if path.is_dir() else "file"
                self.add(path, f"leftover temporary {kind}", "delete it", partial(remove, path))

    def catalog(self):
        """A connection to the catalog (when only checking, to a copy in memory, with any table
        an older version lacked); if the catalog is missing or unreadable, a new empty one when
        fixing (the runs are then catalogued from their run.json), else None."""
        catalog = self.store.catalog
        if catalog.is_file():
            con = None
            try:
                if self.fix:
                    con = duckdb.connect(str(catalog))
                    con.execute("SELECT count(*) FROM runs").fetchone()  # every version has it
                    con.execute(SCHEMA)
                else:
                    con = duckdb.connect()
                    con.execute(SCHEMA)
                    con.execute("ATTACH ? AS stored (READ_ONLY)", [str(catalog)])
                    for table in present_tables(con, "stored"):
                        con.execute(f"INSERT INTO {table} BY NAME FROM stored.{table}")
                    con.execute("DETACH stored")
                return con
            except duckdb.Error as exc:
                if con is not None:
                    con.close()
                problem = f"unreadable catalog ({first_line(exc)})"
        else:
            problem = "no catalog"
        self.add(catalog, problem, "set it aside, rebuild it from the run.json files", None)
        if not self.fix:
            return None
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
        for path in (catalog, catalog.with_name(f"{CATALOG_FILE}.wal")):
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.corrupt-{stamp}"))
        con = duckdb.connect(str(catalog))
        con.execute(SCHEMA)
        return con

    def runs(self, con) -> None:
        cursor = con.execute("SELECT * FROM runs")
        columns = [d[0] for d in cursor.description]
        rows = {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}
        folder = self.out / "runs"
        entries = {p.name: p for p in folder.iterdir()} if folder.is_dir() else {}
        entries = {n: p for n, p in entries.items() if not n.startswith(".")}
        for run_id in sorted(rows.keys() - entries.keys()):
            self.add(
                folder / run_id,
                "catalogued, but the run folder is missing",
                "remove it from the catalog",
                partial(delete_run, con, run_id),
            )
        for name, path in sorted(entries.items()):
            if name in rows:
                self.catalogued(con, rows[name], path)
            else:
                self.uncatalogued(con, name, path)
        known = {e for (e,) in con.execute("SELECT ensemble_id FROM ensembles").fetchall()}
        for path in sorted(self.out.glob("ensembles/*/ensemble.json")):
            row = from_json(path.read_text())
            if row["ensemble_id"] not in known:
                self.add(
                    path,
                    "ensemble not in the catalog",
                    "catalog it",
                    partial(put_ensemble, con, row),
                )

    def catalogued(self, con, row: dict, path: Path) -> None:
        record = _folder_record(path)
        if record is None:
            member = con.execute(
                "SELECT ensemble_id, member FROM ensemble_members WHERE run_id = ?",
                [row["run_id"]],
            ).fetchone()
            record = row | dict(zip(("ensemble_id", "member"), member or (None, None), strict=True))
            if record["status"] == "completed":
                mark_completed(record)
            self.add(
                path,
                f"no {RUN_FILE}",
                "write it from the catalog",
                partial(self.rewrite, con, record),
            )
        elif _catalogued(record) != _catalogued(row):
            self.add(
                path,
                f"catalog row behind {RUN_FILE}",
                "update the row",
                partial(put_run, con, record),
            )
        repaired, problem, repair = self.repaired(record)
        if problem:
            self.add(path, problem, repair, partial(self.rewrite, con, repaired))

    def uncatalogued(self, con, name: str, path: Path) -> None:
        record = _folder_record(path)
        member = record is not None and record.get("ensemble_id") is not None
        if member and effective_status(record) == "running":
            return  # a member being stored: catalogued only once complete
        reason = None
        if record is None:
            reason = f"no {RUN_FILE}" if path.is_dir() else "not a run folder"
        elif record["run_id"] != name:
            reason = f"its {RUN_FILE} names run {record['run_id']!r}"
        elif member:
            stored = stored_member(con, record["ensemble_id"], record["member"])
            if record["status"] != "completed":
                reason = "an unfinished ensemble member"
            elif stored is not None:
                reason = f"a duplicate of ensemble member {record['member']} (run {stored[0]})"
            else:
                reason = _results_problem(self.store._results(name))
        if reason is None:
            repaired = self.repaired(record)[0]
            self.add(
                path,
                f"{record['status']} run not in the catalog",
                f"catalog it ({repaired['status']})",
                partial(self.rewrite, con, repaired),
            )
        else:
            target = self.out / ORPHANS / name
            self.add(
                path,
                f"not a catalogued run: {reason}",
                f"move it to {target.relative_to(self.out)}",
                partial(set_aside, path, target),
            )

    def repaired(self, record: dict) -> tuple[dict, str | None, str | None]:
        """A record as it should be, the problem and the repair: a run with an unreadable
        results file ``failed``; a ``running`` run whose process is gone ``interrupted``, or
        ``completed`` if it wrote its results before it was killed."""
        status = effective_status(record)
        if record["status"] == "running" and record.get("pid") is None:
            status = "interrupted"  # stored by version 0.1, which kept no process id
        if status in ("running", "failed"):  # alive (or on another host), or settled
            return record, None, None
        results = self.store._results(record["run_id"])
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
                    mark_completed(record | {"finished_at": finished, "error": None}),
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

    def rewrite(self, con, record: dict) -> None:
        """Store a repaired record: run.json, catalog row and ensemble membership."""
        self.store._save_record(record)
        put_run(con, record)
        if record.get("ensemble_id") is not None:
            if record["status"] == "completed":
                put_member(con, record)
            else:
                con.execute("DELETE FROM ensemble_members WHERE run_id = ?", [record["run_id"]])


def _folder_record(path: Path) -> dict | None:
    """The run.json of a run folder, None if it has none or it cannot be read."""
    try:
        return from_json((path / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _results_problem(path: Path) -> str | None:
    """Why a results file cannot be read (missing, truncated, no run_id column), or None."""
    if not path.is_file():
        return f"no {RESULTS_FILE}"
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        return first_line(exc)
    return None if "run_id" in names else "no run_id column"


def _catalogued(record: dict) -> dict:
    """The fields a catalog row must share with its run.json."""
    return {c: record.get(c) for c in RUN_COLUMNS if c != "results_path"}
