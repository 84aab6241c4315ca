"""``jangmadang runs``: full values when piped, a fitting table in a narrow terminal, and
csv / json with every catalog column; status includes ``interrupted`` with the month reached."""

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from rich.console import Console
from test_bad_input import runner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.scenario import load_scenario
from jangmadang.store import RUN_COLUMNS, ResultsStore

WINDOW = {"population.persons": 2000, "start": "2012-01", "end": "2012-03"}

INTERRUPTED = f"""
import os, signal
from jangmadang.scenario import load_scenario
from jangmadang.store import ResultsStore
store = ResultsStore(os.environ["OUT"])
run_id = store.start_run(load_scenario("baseline", {WINDOW!r}))
store.checkpointed(run_id, "2012-02")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A completed run, an interrupted one (killed after reaching 2012-02) and a failed one."""
    out = tmp_path_factory.mktemp("results")
    store = ResultsStore(out)
    scenario = load_scenario("baseline", WINDOW)
    store.save(jm.Sim(scenario).run())
    killed = subprocess.run(
        [sys.executable, "-c", INTERRUPTED], env=os.environ | {"OUT": str(out)}, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    store.fail_run(store.start_run(scenario), "RuntimeError: boom")
    return store


def test_piped_table_shows_every_value_in_full(store):
    result = runner.invoke(app, ["runs", "--out", str(store.out)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "run", "id", "status", "reached", "scenario", "window", "seconds", "persons", "seed"
    ]  # fmt: skip
    listing = store.runs()
    for run_id, status in zip(listing.run_id, listing.status, strict=True):
        (line,) = [line for line in lines if line.startswith(run_id)]
        assert status in line.split() and "2012-01..2012-03" in line and "2,000" in line
    interrupted = next(line for line in lines if "interrupted" in line)
    assert "2012-02" in interrupted.split()
    assert "…" not in result.stdout


def test_narrow_terminal_keeps_whole_values_and_names_left_out_columns(store, monkeypatch):
    narrow = Console(force_terminal=True, width=80, color_system=None)
    monkeypatch.setattr("jangmadang.cli.catalog.console", narrow)
    result = runner.invoke(app, ["runs", "--out", str(store.out)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert all(run_id in result.stdout for run_id in store.runs().run_id)
    assert "interrupted" in result.stdout and "…" not in result.stdout
    assert lines[-1].startswith("(too narrow to show: ")


def test_csv_has_every_catalog_column_and_iso_times(store, tmp_path):
    result = runner.invoke(app, ["runs", "--format", "csv", "--out", str(store.out)])
    assert result.exit_code == 0, result.stderr
    path = tmp_path / "runs.csv"
    path.write_text(result.stdout)
    frame = pd.read_csv(path)
    assert list(frame.columns) == list(RUN_COLUMNS)
    assert sorted(frame.status) == ["completed", "failed", "interrupted"]
    assert frame.set_index("status").reached_month["interrupted"] == "2012-02"
    pd.to_datetime(frame.started_at, format="ISO8601")
    assert frame.started_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d").all()


def test_json_has_every_catalog_column_and_iso_times(store):
    result = runner.invoke(app, ["runs", "--format", "json", "--out", str(store.out)])
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert [list(r) for r in records] == [list(RUN_COLUMNS)] * 3
    by_status = {r["status"]: r for r in records}
    assert by_status["interrupted"]["reached_month"] == "2012-02"
    assert by_status["failed"]["error"] == "RuntimeError: boom"
    assert isinstance(by_status["completed"]["pid"], int)
    assert by_status["completed"]["finished_at"].count("T") == 1
    assert by_status["interrupted"]["finished_at"] is None


def test_unknown_format_is_refused(store):
    result = runner.invoke(app, ["runs", "--format", "xml", "--out", str(store.out)])
    assert result.exit_code == 2
