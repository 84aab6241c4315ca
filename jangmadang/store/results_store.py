""":class:`ResultsStore`: a results folder's runs and ensembles, as the rest of the package and
the CLI see them (see :mod:`jangmadang.store` for the design)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from jangmadang.scenario import Scenario
from jangmadang.store.doctor import Finding, examine
from jangmadang.store.errors import (
    CatalogError,
    NoCatalog,
    NoResults,
    RunNotResumable,
    UnknownRun,
    first_line,
)
from jangmadang.store.files import fsync_dir, temporary_name, write_atomically, write_synced
from jangmadang.store.lock import catalog_lock
from jangmadang.store.records import (
    HOST,
    RESULTS_FILE,
    RUN_FILE,
    effective_status,
    from_json,
    mark_completed,
    new_record,
    to_json,
)
from jangmadang.store.sandbox import check_read_only, sandbox
from jangmadang.store.scenario_file import scenario_to_toml
from jangmadang.store.tables import (
    CATALOG_FILE,
    SCHEMA,
    get_run,
    present_tables,
    put_ensemble,
    put_member,
    put_run,
    stored_member,
)
from jangmadang.timeline import format_month, parse_month

RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


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
        record = new_record(scenario, stamp)
        with self._catalog(write=True) as con:
            run_id = self._new_run_folder(
                f"{scenario.name}-{stamp:%Y%m%d-%H%M%S}", scenario, record
            )
            put_run(con, record)
        return run_id

    def checkpointed(self, run_id: str, month: str) -> None:
        """Record that the run reached ``month`` (YYYY-MM) and has a snapshot to resume from."""
        self._update(run_id, reached_month=format_month(parse_month(month)))

    def reopen_run(self, run_id: str) -> None:
        """Mark an interrupted run, or a failed one with a snapshot, ``running`` again in this
        process, so ``jangmadang resume`` can continue it (an interrupted run without a
        snapshot starts over)."""
        with self._catalog(write=True) as con:
            row = get_run(con, run_id)
            if row is None:
                raise RunNotResumable(f"run {run_id!r}: not in the catalog {self.catalog}")
            status = effective_status(row)
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
                write_atomically(path, lambda tmp: tmp.write_text(to_json(row)))
            put_ensemble(con, row)

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
        record = new_record(scenario, stamp) | {"ensemble_id": ensemble_id, "member": member}
        run_id = self._new_run_folder(f"{ensemble_id}-m{member:04d}", scenario, record)
        self._write_results(run_id, results)
        with self._catalog(write=True) as con:
            stored = stored_member(con, ensemble_id, member)
            if stored is not None:
                shutil.rmtree(self.run_dir(run_id))
                return stored[0]
            record |= {"finished_at": datetime.now(), "wall_seconds": wall_seconds}
            self._save_record(mark_completed(record))
            con.execute("BEGIN TRANSACTION")
            put_run(con, record)
            put_member(con, record)
            con.execute("COMMIT")
        return run_id

    def ensemble_members(self, ensemble_id: str) -> pd.DataFrame:
        """The stored members of an ensemble (member, seed, run_id, results_path)."""
        empty = pd.DataFrame(columns=["member", "seed", "run_id", "results_path"])
        if not self.catalog.is_file():
            return empty
        with self._catalog(write=False) as con:
            if "ensemble_members" not in present_tables(con):
                return empty
            members = con.execute(
                "SELECT m.member, m.seed, m.run_id FROM ensemble_members m "
                "JOIN runs r USING (run_id) WHERE m.ensemble_id = ? AND r.status = 'completed' "
                "ORDER BY m.member",
                [ensemble_id],
            ).df()
        return members.assign(results_path=[str(self._results(r)) for r in members.run_id])

    def ensembles(self) -> pd.DataFrame:
        """Every catalogued ensemble, oldest first, with its number of completed ``members``
        (the dashboard lists them beside the runs)."""
        columns = ["ensemble_id", "scenario", "scenario_hash", "base_seed", "created_at"]
        empty = pd.DataFrame(columns=[*columns, "members"])
        if not self.catalog.is_file():
            return empty
        with self._catalog(write=False) as con:
            if "ensemble_members" not in present_tables(con):
                return empty
            return con.execute(
                "SELECT e.*, (SELECT count(*) FROM ensemble_members m JOIN runs r USING (run_id) "
                "WHERE m.ensemble_id = e.ensemble_id AND r.status = 'completed') AS members "
                "FROM ensembles e ORDER BY e.created_at, e.ensemble_id"
            ).df()[[*columns, "members"]]

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
        status = info["status"]
        if status != "completed":
            reached = f", reached {info['reached_month']}" if info.get("reached_month") else ""
            advice = {
                "running": "wait for it to finish",
                "interrupted": f"continue it with `jangmadang resume {run_id}`",
            }.get(status, "see `jangmadang runs` for its error")
            raise NoResults(f"run {run_id!r} is {status}{reached} and has no results yet; {advice}")
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
            tables = {t: con.execute(f"SELECT * FROM {t}").df() for t in present_tables(con)}
        tables["runs"] = self._effective(tables["runs"].sort_values(["started_at", "run_id"]))
        files = [
            str(self._results(r).resolve())
            for r, s in zip(tables["runs"].run_id, tables["runs"].status, strict=True)
            if s == "completed"
        ]
        with sandbox(tables, files) as con:
            return con.execute(sql).df()

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
        return examine(self, fix)

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
        frame["status"] = [effective_status(row) for row in frame.to_dict("records")]
        frame["results_path"] = [
            str(self._results(r)) if s == "completed" else None
            for r, s in zip(frame.run_id, frame.status, strict=True)
        ]
        return frame

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
        with catalog_lock(self.catalog, write, self.lock_timeout):
            try:
                con = duckdb.connect(str(self.catalog), read_only=not write)
            except duckdb.Error as exc:
                raise self._unreadable(exc) from None
            try:
                if write:
                    try:
                        con.execute(SCHEMA)
                    except duckdb.Error as exc:
                        raise self._unreadable(exc) from None
                yield con
            except duckdb.Error as exc:
                if write:
                    raise
                raise self._unreadable(exc) from None  # readers run only this package's SQL
            finally:
                con.close()

    def _unreadable(self, exc: duckdb.Error) -> CatalogError:
        reason = re.sub(r'"[^"]*" ', "", first_line(exc))  # DuckDB quotes the path again
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
        temporary = runs / temporary_name(run_id)
        temporary.mkdir()
        try:
            record["run_id"] = run_id
            write_synced(temporary / "scenario.toml", scenario_to_toml(scenario))
            write_synced(temporary / RUN_FILE, to_json(record))
            fsync_dir(temporary)
            os.rename(temporary, folder)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
        fsync_dir(runs)
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
        record = self._record(run_id) or get_run(con, run_id)
        if record is None:
            raise UnknownRun(run_id)
        record |= changes
        if record["status"] == "completed":
            mark_completed(record)
        self._save_record(record)
        put_run(con, record)
        return record

    def _record(self, run_id: str) -> dict | None:
        """A run's run.json (None if it has none: runs stored before version 0.2)."""
        path = self.run_dir(run_id) / RUN_FILE
        if not path.is_file():
            return None
        return from_json(path.read_text())

    def _save_record(self, record: dict) -> None:
        path = self.run_dir(record["run_id"]) / RUN_FILE
        write_atomically(path, lambda tmp: tmp.write_text(to_json(record)))
