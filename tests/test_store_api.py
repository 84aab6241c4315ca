"""The store's run life cycle: start, checkpoint, interruption (process gone), resume, finish,
failure; run.json mirrors every catalog row."""

import fcntl
import json
import os
import signal
import subprocess
import sys

import duckdb
import pytest

import jangmadang as jm
from jangmadang.scenario import load_scenario
from jangmadang.store import RUN_FILE, ResultsStore, RunNotResumable, StoreBusy, UnknownRun

WINDOW = {"population.persons": 2000, "start": "2012-01", "end": "2012-03"}


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("baseline", WINDOW)


@pytest.fixture(scope="module")
def results():
    return jm.Sim("baseline", population=2000, start="2012-01", end="2012-03").run().results


def killed_run(out, checkpoint: str | None = None) -> str:
    """Start a run in another process, which is then killed with SIGKILL; return its id."""
    code = (
        "import os, signal\n"
        "from jangmadang.scenario import load_scenario\n"
        "from jangmadang.store import ResultsStore\n"
        f"store = ResultsStore({str(out)!r})\n"
        f"run_id = store.start_run(load_scenario('baseline', {WINDOW!r}))\n"
        f"if {checkpoint!r}:\n"
        f"    store.checkpointed(run_id, {checkpoint!r})\n"
        "print(run_id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip()


def run_json(store, run_id) -> dict:
    return json.loads((store.run_dir(run_id) / RUN_FILE).read_text())


def test_start_records_process_and_host(tmp_path, scenario):
    store = ResultsStore(tmp_path)
    run_id = store.start_run(scenario)
    info = store.run_info(run_id)
    assert info["status"] == "running" and info["pid"] == os.getpid() and info["host"]
    assert info["reached_month"] is None
    assert run_json(store, run_id)["status"] == "running"
    assert (store.run_dir(run_id) / "scenario.toml").is_file()


def test_killed_run_is_interrupted_with_the_month_it_reached(tmp_path):
    store = ResultsStore(tmp_path)
    run_id = killed_run(tmp_path, checkpoint="2012-02")
    info = store.run_info(run_id)
    assert info["status"] == "interrupted" and info["reached_month"] == "2012-02"
    assert store.runs().set_index("run_id").status[run_id] == "interrupted"
    frame = store.query(f"SELECT status, reached_month FROM runs WHERE run_id = '{run_id}'")
    assert frame.iloc[0].tolist() == ["interrupted", "2012-02"]


def test_checkpoint_and_finish(tmp_path, scenario, results):
    store = ResultsStore(tmp_path)
    run_id = store.start_run(scenario)
    store.checkpointed(run_id, "2012-02")
    assert store.run_info(run_id)["reached_month"] == "2012-02"
    path = store.finish_run(run_id, results, 1.5)
    info = store.run_info(run_id)
    assert info["status"] == "completed" and info["reached_month"] == "2012-03"
    assert info["results_path"] == str(path) and info["wall_seconds"] == 1.5
    assert run_json(store, run_id)["status"] == "completed"
    assert len(store.load(run_id)) == len(results)
    with pytest.raises(ValueError):
        store.checkpointed(run_id, "2012-13")


def test_reopen_refuses_what_cannot_be_resumed(tmp_path, scenario, results):
    store = ResultsStore(tmp_path)
    with pytest.raises(RunNotResumable, match="not in the catalog"):
        store.reopen_run("baseline-20000101-000000-abcdef")
    running = store.start_run(scenario)
    with pytest.raises(RunNotResumable, match="still running"):
        store.reopen_run(running)
    store.finish_run(running, results, 1.0)
    with pytest.raises(RunNotResumable, match="already completed"):
        store.reopen_run(running)
    failed = store.start_run(scenario)
    store.fail_run(failed, "RuntimeError: boom")
    with pytest.raises(RunNotResumable, match="failed, with no snapshot"):
        store.reopen_run(failed)
    assert isinstance(RunNotResumable("x"), ValueError)


@pytest.mark.parametrize("how", ["killed", "killed without snapshot", "failed"])
def test_reopen_resumes_an_interrupted_run_or_a_failed_one_with_a_snapshot(
    tmp_path, scenario, results, how
):
    store = ResultsStore(tmp_path)
    if how == "failed":
        run_id = store.start_run(scenario)
        store.checkpointed(run_id, "2012-02")
        store.fail_run(run_id, "MemoryError: ")
    else:
        run_id = killed_run(tmp_path, checkpoint=None if "without" in how else "2012-02")
    if "without" not in how:
        (store.run_dir(run_id) / "snapshot").mkdir()
    store.reopen_run(run_id)
    info = store.run_info(run_id)
    assert info["status"] == "running" and info["pid"] == os.getpid() and info["error"] is None
    assert info["reached_month"] == (None if "without" in how else "2012-02")
    store.finish_run(run_id, results, 2.0)
    assert store.run_info(run_id)["status"] == "completed"
    assert store.query("SELECT count(DISTINCT run_id) AS n FROM results").n.iloc[0] == 1


def test_run_ids_cannot_leave_the_store(tmp_path):
    store = ResultsStore(tmp_path)
    for bad in ("../../etc", "a/b", "", "x" * 300):
        with pytest.raises(UnknownRun):
            store.run_dir(bad)


def test_a_catalog_of_version_0_1_is_read_and_repaired(tmp_path, scenario, results):
    """No run.json, no pid, host or month reached: readable as is, then completed by doctor."""
    store = ResultsStore(tmp_path)
    old = ["baseline-20240101-000000-aaaaaa", "baseline-20240101-000001-bbbbbb"]
    for run_id in old:
        store.run_dir(run_id).mkdir(parents=True)
    results.assign(run_id=old[0]).to_parquet(store.run_dir(old[0]) / "results.parquet")
    with duckdb.connect(str(store.catalog)) as con:
        con.execute(
            "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, scenario VARCHAR, "
            "scenario_hash VARCHAR, seed BIGINT, population BIGINT, start_month VARCHAR, "
            "end_month VARCHAR, package_version VARCHAR, started_at TIMESTAMP, "
            "finished_at TIMESTAMP, wall_seconds DOUBLE, status VARCHAR, error VARCHAR, "
            "results_path VARCHAR)"
        )
        for run_id, status in zip(old, ["completed", "running"], strict=True):
            con.execute(
                "INSERT INTO runs VALUES (?, 'baseline', 'h', 1, 2000, '2012-01', '2012-03', "
                "'0.1.0', now(), NULL, NULL, ?, NULL, ?)",
                [run_id, status, f"/elsewhere/{run_id}/results.parquet"],
            )
    assert store.runs().status.tolist() == ["completed", "running"]
    assert store.query("SELECT count(*) AS n FROM results").n[0] == len(results)
    assert len(store.doctor()) == 3  # two run.json missing, one run that cannot be running
    store.doctor(fix=True)
    assert store.doctor() == []
    assert store.runs().status.tolist() == ["completed", "interrupted"]
    assert store.run_info(old[0])["reached_month"] == "2012-03"
    assert store.load(old[0]).run_id.unique().tolist() == [old[0]]
    new = store.start_run(scenario)
    assert store.run_info(new)["pid"] == os.getpid()


def test_a_lock_held_too_long_is_a_clear_error(tmp_path, scenario):
    store = ResultsStore(tmp_path, lock_timeout=0.2)
    store.start_run(scenario)
    holder = os.open(tmp_path / "jangmadang.lock", os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as a writer in another process would
    try:
        with pytest.raises(StoreBusy, match="still locked by another process after 0.2 s"):
            store.runs()
        with pytest.raises(StoreBusy):
            store.start_run(scenario)
    finally:
        os.close(holder)
    assert len(store.runs()) == 1
