"""The sandbox of ``query``: only one read-only statement, run where it can read nothing but
the catalog's tables and the results files of completed runs.

Two independent guards: :func:`check_read_only` refuses any SQL but one statement that reads,
and :func:`sandbox` is an in-memory DuckDB locked down by DuckDB's own settings, so that a
statement the first guard let through still can neither write nor read anything else.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import duckdb
import pandas as pd

from jangmadang.store.errors import QueryRefused, first_line

_EMPTY_RESULTS = (
    'run_id VARCHAR, date TIMESTAMP, indicator VARCHAR, dimension VARCHAR, "group" VARCHAR, '
    "value DOUBLE"
)
_ONE_READ = "write one read-only statement: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN"
_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(?:ANALYZE\s+)?(.*)", re.IGNORECASE | re.DOTALL)


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
            raise QueryRefused(f"{first_line(exc)} ({_ONE_READ})") from None
    if not statements:
        raise QueryRefused(f"empty SQL ({_ONE_READ})")
    if kind != duckdb.StatementType.SELECT:
        got = f"{len(statements)} statements" if len(statements) > 1 else statements[0].type.name
        raise QueryRefused(f"refused {got} ({_ONE_READ})")


@contextmanager
def sandbox(tables: dict[str, pd.DataFrame], files: list[str]):
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
