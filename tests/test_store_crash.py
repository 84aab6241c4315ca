"""A run or an ensemble member killed (SIGKILL) at any point of storing its results: every
query still works, no run is counted twice, and ``jangmadang doctor --fix`` leaves a clean
store. The kill points are reached by patching the store in a child process."""

import signal
import subprocess
import sys

import pandas as pd
import pytest
from test_bad_input import runner

from jangmadang.cli import app
from jangmadang.scenario import load_scenario, with_overrides
from jangmadang.store import ResultsStore

WINDOW = {"population.persons": 2000, "start": "2012-01", "end": "2012-02"}

CHILD = f"""
import os, signal, sys
import pandas as pd
from jangmadang.store import results_store as module
from jangmadang.scenario import load_scenario, with_overrides

out, point = sys.argv[1], sys.argv[2]
store = module.ResultsStore(out)
base = load_scenario("baseline", {WINDOW!r})
results = pd.read_parquet(sys.argv[3])
die = lambda: os.kill(os.getpid(), signal.SIGKILL)

if point == "while_writing_parquet":
    def write_table(table, path):
        path.write_bytes(b"PAR1")
        die()
    module.pq.write_table = write_table
elif point == "after_parquet_before_catalog":
    module.ResultsStore._update = lambda *args, **kwargs: die()
elif point == "while_writing_run_json":
    original = module.write_atomically
    def write_atomically(path, write):
        if path.name == module.RUN_FILE and finishing:
            path.with_name(module.temporary_name(path.name)).write_text('{{"run_id": ')
            die()
        return original(path, write)
    module.write_atomically = write_atomically
elif point == "after_run_json_before_catalog":
    original_put = module.put_run
    def put_run(con, record):
        if record["status"] == "completed":
            die()
        original_put(con, record)
    module.put_run = put_run
elif point == "member_after_parquet":
    original_results = module.ResultsStore._write_results
    def write_results(self, run_id, frame):
        original_results(self, run_id, frame)
        die()
    module.ResultsStore._write_results = write_results
elif point == "member_inside_the_transaction":
    module.put_member = lambda con, record: die()

finishing = False
if point.startswith("member"):
    store.open_ensemble("ens", base)
    store.save_member("ens", 0, with_overrides(base, {{"seed": 7}}), results, 0.1)
else:
    run_id = store.start_run(base)
    finishing = True
    store.finish_run(run_id, results, 0.1)
"""

POINTS = {  # kill point: the killed run's status after `doctor --fix`
    "while_writing_parquet": "interrupted",
    "after_parquet_before_catalog": "completed",
    "while_writing_run_json": "completed",  # its results were written before
    "after_run_json_before_catalog": "completed",
    "member_after_parquet": None,  # an unfinished member: moved to orphans/, run again
    "member_inside_the_transaction": None,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import jangmadang as jm

    path = tmp_path_factory.mktemp("series") / "results.parquet"
    frame = jm.Sim(load_scenario("baseline", WINDOW)).run().results
    frame.to_parquet(path)
    return path, frame


def killed(tmp_path, results, point) -> ResultsStore:
    """A store with one completed run, then a child killed at ``point``."""
    path, frame = results
    store = ResultsStore(tmp_path / "out")
    scenario = load_scenario("baseline", WINDOW)
    store.finish_run(store.start_run(scenario), frame, 0.1)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(store.out), point, str(path)],
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    return store


def assert_queries_work_and_count_each_run_once(store, rows: int) -> None:
    runs = store.runs()
    completed = runs[runs.status == "completed"]
    counts = store.query("SELECT run_id, count(*) AS n FROM results GROUP BY run_id")
    assert sorted(counts.run_id) == sorted(completed.run_id)
    assert (counts.n == rows).all()
    for args in (["runs"], ["query", "SELECT count(*) FROM results"]):
        result = runner.invoke(app, [*args, "--out", str(store.out)])
        assert result.exit_code == 0, result.stdout + result.stderr


@pytest.mark.parametrize("point", sorted(POINTS))
def test_a_kill_at_any_point_leaves_a_readable_store_that_doctor_repairs(tmp_path, results, point):
    store = killed(tmp_path, results, point)
    rows = len(results[1])
    assert_queries_work_and_count_each_run_once(store, rows)
    assert len(store.runs().query("status == 'completed'")) == 1  # the killed run is not

    if point.startswith("member"):  # `ensemble --resume` stores the member again
        assert store.ensemble_members("ens").empty
        scenario = with_overrides(load_scenario("baseline", WINDOW), {"seed": 7})
        store.save_member("ens", 0, scenario, results[1], 0.1)
        assert store.ensemble_members("ens").member.tolist() == [0]
        assert_queries_work_and_count_each_run_once(store, rows)

    check = runner.invoke(app, ["doctor", "--out", str(store.out)])
    assert check.exit_code == 1, check.stdout + check.stderr
    fix = runner.invoke(app, ["doctor", "--fix", "--out", str(store.out)])
    assert fix.exit_code == 0, fix.stdout + fix.stderr
    clean = runner.invoke(app, ["doctor", "--out", str(store.out)])
    assert clean.exit_code == 0 and "no problems" in clean.stdout, clean.stdout
    assert not list(store.out.rglob("*.tmp"))
    assert_queries_work_and_count_each_run_once(store, rows)
    statuses = store.runs().status.tolist()
    if POINTS[point] is None:
        assert statuses == ["completed", "completed"]
        assert len(store.ensemble_members("ens")) == 1
        assert len(list((store.out / "orphans").iterdir())) == 1
    else:
        assert statuses == ["completed", POINTS[point]]


SNAPSHOT_CHILD = f"""
import os, signal, sys
import jangmadang as jm
from jangmadang import snapshot
from jangmadang.scenario import load_scenario
from jangmadang.store import ResultsStore

store = ResultsStore(sys.argv[1])
scenario = load_scenario("baseline", {WINDOW!r})
run_id = store.start_run(scenario)
sim = jm.Sim(scenario).run(until="2012-01")
folder = store.run_dir(run_id) / "snapshot"
sim.save(folder)
store.checkpointed(run_id, "2012-01")
snapshot._replace_folder = lambda new, target: os.kill(os.getpid(), signal.SIGKILL)
sim.save(folder)
"""


def test_a_snapshot_killed_before_its_rename_is_a_temporary_that_doctor_deletes(tmp_path):
    """A checkpoint is assembled in the run's folder under a temporary name that says which
    process writes it: once that process is gone, doctor deletes it, and the run resumes from
    its previous snapshot."""
    out = tmp_path / "out"
    child = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_CHILD, str(out)], capture_output=True, text=True
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = ResultsStore(out)
    (run_id,) = store.runs().run_id
    (leftover,) = store.run_dir(run_id).glob(".snapshot.*.tmp")
    found = {f.path: f.problem for f in store.doctor()}
    assert found[str(leftover.relative_to(out))] == "leftover temporary folder"

    assert all(f.fixed for f in store.doctor(fix=True))
    assert not leftover.exists()
    assert store.run_info(run_id)["status"] == "interrupted"
    result = runner.invoke(app, ["resume", run_id, "--out", str(out), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert store.run_info(run_id)["status"] == "completed"
    assert store.doctor() == []


@pytest.mark.parametrize("size", [0, 4])
def test_truncated_results_files(tmp_path, results, size):
    """A stray truncated file (an older version's run killed while writing) never enters a
    query; a completed run's file truncated later (a disk fault) makes doctor fail that run."""
    _, frame = results
    store = ResultsStore(tmp_path / "out")
    scenario = load_scenario("baseline", WINDOW)
    stray = killed_run_of_an_older_version = store.start_run(scenario)
    store.run_dir(stray).joinpath("results.parquet").write_bytes(b"PAR1"[:size])
    good, corrupt = store.start_run(scenario), store.start_run(scenario)
    for run_id in (good, corrupt):
        store.finish_run(run_id, frame, 0.1)
    assert_queries_work_and_count_each_run_once(store, len(frame))
    store.run_dir(corrupt).joinpath("results.parquet").write_bytes(b"PAR1"[:size])
    fix = runner.invoke(app, ["doctor", "--fix", "--out", str(store.out)])
    assert fix.exit_code == 0, fix.stdout
    info = store.run_info(corrupt)
    assert info["status"] == "failed" and "results.parquet unreadable" in info["error"]
    assert store.run_info(killed_run_of_an_older_version)["status"] == "running"  # alive: us
    assert_queries_work_and_count_each_run_once(store, len(frame))


def test_a_corrupt_catalog_is_rebuilt_from_run_json(tmp_path, results):
    _, frame = results
    store = ResultsStore(tmp_path / "out")
    scenario = load_scenario("baseline", WINDOW)
    done = store.start_run(scenario)
    store.finish_run(done, frame, 0.1)
    running = store.start_run(scenario)
    store.checkpointed(running, "2012-01")
    store.open_ensemble("ens", scenario)
    member = store.save_member("ens", 0, with_overrides(scenario, {"seed": 9}), frame, 0.1)
    before = store.runs()
    store.catalog.write_bytes(b"not a database" * 100)
    assert runner.invoke(app, ["doctor", "--out", str(store.out)]).exit_code == 1
    fix = runner.invoke(app, ["doctor", "--fix", "--out", str(store.out)])
    assert fix.exit_code == 0, fix.stdout
    after = store.runs()
    pd.testing.assert_frame_equal(after, before)
    assert store.ensemble_members("ens").run_id.tolist() == [member]
    assert list(store.out.glob("jangmadang.duckdb.corrupt-*"))
    assert runner.invoke(app, ["doctor", "--out", str(store.out)]).exit_code == 0
