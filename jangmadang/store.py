"""The results store: each run's monthly series as Parquet, catalogued in an embedded DuckDB.

Layout of an output folder (default ``results/``)::

    results/jangmadang.duckdb              the catalog: one row per run in table ``runs``
    results/runs/<run_id>/results.parquet  long-format series (run_id, date, indicator, ...)
    results/runs/<run_id>/scenario.toml    the resolved scenario: rerun it to reproduce the run
    results/runs/<run_id>/plot.png         written by the CLI

SQL sees the catalog as ``runs`` and every run's series as the view ``results``.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tomli_w

import jangmadang
from jangmadang.scenario import Scenario
from jangmadang.timeline import format_month

CATALOG_FILE = "jangmadang.duckdb"

_RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    scenario VARCHAR,
    scenario_hash VARCHAR,
    seed BIGINT,
    population BIGINT,
    start_month VARCHAR,
    end_month VARCHAR,
    package_version VARCHAR,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    wall_seconds DOUBLE,
    status VARCHAR,
    error VARCHAR,
    results_path VARCHAR
)
"""


_ENSEMBLE_TABLES = """
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


class NoCatalog(FileNotFoundError):
    pass


class ResultsStore:
    def __init__(self, out_dir: str | Path = "results"):
        self.out = Path(out_dir)
        self.catalog = self.out / CATALOG_FILE

    def run_dir(self, run_id: str) -> Path:
        return self.out / "runs" / run_id

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A writable connection, creating the folder and catalog on first use."""
        self.out.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(self.catalog))
        con.execute(_RUNS_TABLE)
        con.execute(_ENSEMBLE_TABLES)
        return con

    def _read(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection: reading, listing and user SQL can never change the catalog."""
        if not self.catalog.is_file():
            raise NoCatalog(
                f"no results catalog at {self.catalog} (write one with `jangmadang run`)"
            )
        return duckdb.connect(str(self.catalog), read_only=True)

    def start_run(self, scenario: Scenario) -> str:
        """Catalog a run as ``running`` and write its resolved scenario; return its id."""
        stamp = datetime.now()
        run_id = self._new_run_folder(f"{scenario.name}-{stamp:%Y%m%d-%H%M%S}", scenario)
        with self._connect() as con:
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, 'running', NULL, NULL)",
                _run_row(run_id, scenario, stamp),
            )
        return run_id

    def finish_run(self, run_id: str, results: pd.DataFrame, wall_seconds: float) -> Path:
        """Write the run's series to Parquet and mark it ``completed``."""
        path = self._write_results(run_id, results)
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET status = 'completed', finished_at = ?, wall_seconds = ?, "
                "results_path = ? WHERE run_id = ?",
                [datetime.now(), wall_seconds, str(path), run_id],
            )
        return path

    def _new_run_folder(self, stem: str, scenario: Scenario) -> str:
        """A fresh run id (the stem and a random suffix) with its folder and scenario.toml."""
        run_id = f"{stem}-{secrets.token_hex(3)}"
        folder = self.run_dir(run_id)
        folder.mkdir(parents=True)
        (folder / "scenario.toml").write_text(scenario_to_toml(scenario))
        return run_id

    def _write_results(self, run_id: str, results: pd.DataFrame) -> Path:
        path = self.run_dir(run_id) / "results.parquet"
        table = pa.Table.from_pandas(
            results.assign(run_id=run_id)[["run_id", *results.columns]], preserve_index=False
        )
        pq.write_table(table, path)
        return path

    def fail_run(self, run_id: str, error: str) -> None:
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?",
                ["failed", datetime.now(), error, run_id],
            )

    def save_member(
        self,
        ensemble_id: str,
        member: int,
        scenario: Scenario,
        results: pd.DataFrame,
        wall_seconds: float,
    ) -> str:
        """Store one finished member of an ensemble: its folder and Parquet first, then its
        catalog rows in one transaction, so an interruption never leaves a half-stored member
        (a member is either catalogued with its results or absent and run again)."""
        stamp = datetime.now()
        run_id = self._new_run_folder(f"{ensemble_id}-m{member:04d}", scenario)
        path = self._write_results(run_id, results)
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'completed', NULL, ?)",
                [*_run_row(run_id, scenario, stamp), datetime.now(), wall_seconds, str(path)],
            )
            con.execute(
                "INSERT INTO ensemble_members VALUES (?, ?, ?, ?)",
                [ensemble_id, member, scenario.seed, run_id],
            )
            con.execute("COMMIT")
        return run_id

    def open_ensemble(self, ensemble_id: str, scenario: Scenario) -> None:
        """Catalog an ensemble (once); its members are added as they finish."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO ensembles VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [ensemble_id, scenario.name, scenario.fingerprint(), scenario.seed, datetime.now()],
            )

    def ensemble_members(self, ensemble_id: str) -> pd.DataFrame:
        """The stored members of an ensemble (member, seed, run_id, results_path)."""
        empty = pd.DataFrame(columns=["member", "seed", "run_id", "results_path"])
        if not self.catalog.is_file():
            return empty
        with self._read() as con:  # reading never changes the catalog
            tables = con.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_name = 'ensemble_members'"
            ).fetchone()[0]
            if not tables:
                return empty
            return con.execute(
                "SELECT m.member, m.seed, m.run_id, r.results_path FROM ensemble_members m "
                "JOIN runs r USING (run_id) WHERE m.ensemble_id = ? ORDER BY m.member",
                [ensemble_id],
            ).df()

    def save(self, sim) -> str:
        """Store a finished :class:`~jangmadang.Sim`; return the run id."""
        run_id = self.start_run(sim.scenario)
        self.finish_run(run_id, sim.results, sim.wall_seconds)
        return run_id

    def runs(self) -> pd.DataFrame:
        with self._read() as con:
            return con.execute("SELECT * FROM runs ORDER BY started_at").df()

    def run_info(self, run_id: str) -> dict:
        with self._read() as con:
            row = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).df()
        if row.empty:
            raise UnknownRun(run_id)
        return row.iloc[0].to_dict()

    def load(self, run_id: str) -> pd.DataFrame:
        info = self.run_info(run_id)
        if info["status"] != "completed":
            raise UnknownRun(f"{run_id} has status {info['status']}, no results")
        return pd.read_parquet(info["results_path"])

    def scenario(self, run_id: str) -> Scenario:
        from jangmadang.scenario import load_scenario

        self.run_info(run_id)
        return load_scenario(self.run_dir(run_id) / "scenario.toml")

    def query(self, sql: str) -> pd.DataFrame:
        """Run SQL against ``runs`` and the ``results`` view over every run's Parquet file."""
        with self._read() as con:
            files = sorted(self.out.glob("runs/*/results.parquet"))
            if files:
                listing = ", ".join("'" + f.as_posix().replace("'", "''") + "'" for f in files)
                con.execute(f"CREATE TEMP VIEW results AS SELECT * FROM read_parquet([{listing}])")
            else:
                con.execute(
                    "CREATE TEMP TABLE results (run_id VARCHAR, date TIMESTAMP, "
                    'indicator VARCHAR, dimension VARCHAR, "group" VARCHAR, value DOUBLE)'
                )
            return con.execute(sql).df()


def _run_row(run_id: str, scenario: Scenario, started: datetime) -> list:
    """The catalog columns a run has from its start: id, scenario, seed, size, window, version."""
    return [
        run_id,
        scenario.name,
        scenario.fingerprint(),
        scenario.seed,
        scenario.population.size,
        format_month(scenario.start),
        format_month(scenario.end),
        jangmadang.__version__,
        started,
    ]


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
