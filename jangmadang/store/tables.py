"""The catalog's tables: their schema, and the statements that read and write their rows.

``runs`` holds a row a run, written from its run.json (:mod:`jangmadang.store.records`);
``ensembles`` and ``ensemble_members`` say which completed run holds each member. Catalogs of
version 0.1 lack the ensemble tables and some columns of ``runs``: writing adds them.
"""

from __future__ import annotations

from jangmadang.store.records import RUN_COLUMNS

CATALOG_FILE = "jangmadang.duckdb"
_ADDED_COLUMNS = ("pid", "host", "reached_month")  # absent from catalogs of version 0.1.0
_TABLES = ("runs", "ensembles", "ensemble_members")

SCHEMA = f"""
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


def present_tables(con, database: str | None = None) -> list[str]:
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


def get_run(con, run_id: str) -> dict | None:
    cursor = con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def put_run(con, record: dict) -> None:
    columns = list(RUN_COLUMNS)
    con.execute(
        f"INSERT OR REPLACE INTO runs ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        [record.get(c) for c in columns],
    )


def delete_run(con, run_id: str) -> None:
    con.execute("DELETE FROM ensemble_members WHERE run_id = ?", [run_id])
    con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])


def stored_member(con, ensemble_id: str, member: int) -> tuple | None:
    """The completed run holding an ensemble's member, if any."""
    return con.execute(
        "SELECT run_id FROM ensemble_members JOIN runs USING (run_id) "
        "WHERE ensemble_id = ? AND member = ? AND status = 'completed'",
        [ensemble_id, member],
    ).fetchone()


def put_member(con, record: dict) -> None:
    con.execute(
        "INSERT OR REPLACE INTO ensemble_members VALUES (?, ?, ?, ?)",
        [record["ensemble_id"], record["member"], record["seed"], record["run_id"]],
    )


def put_ensemble(con, row: dict) -> None:
    con.execute(
        "INSERT INTO ensembles VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [row[c] for c in ("ensemble_id", "scenario", "scenario_hash", "base_seed", "created_at")],
    )
