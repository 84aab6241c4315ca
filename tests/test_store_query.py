"""``jangmadang query`` is a sandbox: one read-only statement over the catalog and the results
of completed runs; every other read, write, extension or setting is refused in one line."""

import duckdb
import pytest
from test_bad_input import assert_cli_error, runner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.scenario import load_scenario
from jangmadang.store import QueryRefused, ResultsStore

WINDOW = {"population.persons": 2000, "start": "2012-01", "end": "2012-03"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two completed runs, one still running (its stray results must stay invisible)."""
    out = tmp_path_factory.mktemp("results")
    store = ResultsStore(out)
    scenario = load_scenario("baseline", WINDOW)
    results = jm.Sim(scenario).run().results
    done = [store.start_run(scenario) for _ in range(2)]
    for run_id in done:
        store.finish_run(run_id, results, 1.0)
    running = store.start_run(scenario)
    results.assign(run_id=running).to_parquet(store.run_dir(running) / "results.parquet")
    store.done, store.running, store.rows = done, running, len(results)
    return store


def files(folder):
    return sorted((p.relative_to(folder), p.stat().st_size) for p in folder.rglob("*"))


def test_results_hold_only_completed_runs_with_a_run_id(store):
    counts = store.query("SELECT run_id, count(*) AS n FROM results GROUP BY run_id ORDER BY 1")
    assert counts.run_id.tolist() == sorted(store.done)
    assert (counts.n == store.rows).all()
    first = store.done[0]
    one = store.query(f"SELECT DISTINCT run_id FROM results WHERE run_id = '{first}'")
    assert one.run_id.tolist() == [first]


LEGIT = [
    "SELECT count(*) FROM runs",
    "WITH r AS (SELECT * FROM runs) SELECT status, count(*) FROM r GROUP BY ALL",
    "FROM results LIMIT 3",
    "DESCRIBE results",
    "SHOW TABLES",
    "SUMMARIZE runs",
    "EXPLAIN SELECT * FROM results",
    "SELECT * FROM ensemble_members",
]


@pytest.mark.parametrize("sql", LEGIT)
def test_read_only_statements_work(store, sql):
    result = runner.invoke(app, ["query", sql, "--out", str(store.out)])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_query_output_in_a_pipe_is_never_cut(store):
    result = runner.invoke(
        app, ["query", "SELECT run_id, status FROM runs", "--out", str(store.out)]
    )
    assert all(run_id in result.stdout for run_id in store.done)
    assert "running" in result.stdout and "…" not in result.stdout


REFUSED = {
    "copy_query_to": "COPY (SELECT * FROM results) TO '{outside}/x.csv'",
    "copy_runs_to": "COPY runs TO '{outside}/runs.csv'",
    "copy_over_a_result": "COPY (FROM results LIMIT 1) TO '{completed}'",
    "export_database": "EXPORT DATABASE '{outside}/db'",
    "read_text": "SELECT * FROM read_text('/etc/passwd')",
    "read_csv_outside": "SELECT * FROM read_csv('/etc/passwd')",
    "read_the_catalog_file": "SELECT * FROM read_blob('{catalog}')",
    "read_a_stray_file_in_the_store": "SELECT * FROM read_parquet('{running}')",
    "glob": "SELECT * FROM glob('/etc/*')",
    "attach": "ATTACH '{outside}/new.duckdb'",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set": "SET threads = 1",
    "reset": "RESET lock_configuration",
    "pragma": "PRAGMA version",
    "create": "CREATE TABLE t AS SELECT 1",
    "insert": "INSERT INTO runs (run_id) VALUES ('x')",
    "delete": "DELETE FROM runs",
    "update": "UPDATE runs SET status = 'failed'",
    "drop": "DROP TABLE runs",
    "multiple_statements": "SELECT 1; SELECT 2",
    "select_then_copy": "SELECT 1; COPY runs TO '{outside}/y.csv'",
    "explain_analyze_copy": "EXPLAIN ANALYZE COPY runs TO '{outside}/z.csv'",
    "call": "CALL enable_logging()",
    "empty": "",
    "blank": "  ;  ",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_everything_else_is_refused_and_writes_nothing(store, tmp_path, case):
    outside = tmp_path
    sql = REFUSED[case].format(
        outside=outside,
        running=store.run_dir(store.running) / "results.parquet",
        completed=store.run_dir(store.done[0]) / "results.parquet",
        catalog=store.catalog,
    )
    before_store, before_outside = files(store.out), files(outside)
    result = runner.invoke(app, ["query", sql, "--out", str(store.out)])
    line = assert_cli_error(result, "query:")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert line.startswith("error: query:")
    assert files(store.out) == before_store and files(outside) == before_outside
    assert store.runs().status.tolist().count("completed") == 2


def test_python_api_refuses_too(store):
    with pytest.raises(QueryRefused, match="one read-only statement"):
        store.query("SELECT 1; SELECT 2")


@pytest.mark.parametrize(
    "case", ["copy_runs_to", "copy_over_a_result", "export_database", "attach", "set", "install"]
)
def test_the_sandbox_alone_refuses_writes_settings_and_extensions(
    store, tmp_path, monkeypatch, case
):
    """Without the one-statement rule, DuckDB's own settings still refuse."""
    monkeypatch.setattr("jangmadang.store.results_store.check_read_only", lambda sql: None)
    completed = store.run_dir(store.done[0]) / "results.parquet"
    sql = REFUSED[case].format(outside=tmp_path, completed=completed)
    before_store, before_outside = files(store.out), files(tmp_path)
    with pytest.raises(duckdb.Error):
        store.query(sql)
    assert files(store.out) == before_store and files(tmp_path) == before_outside
