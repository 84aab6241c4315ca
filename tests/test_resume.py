"""A run killed with SIGKILL after a checkpoint resumes to results identical to an
uninterrupted run; a killed run that is not resumed is shown as interrupted."""

import os
import signal
import subprocess
import sys
import time

import pytest
from pandas.testing import assert_frame_equal
from typer.testing import CliRunner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.store import ResultsStore, UnknownRun

RUN = ["--population", "40000", "--start", "2012-01", "--end", "2025-12", "--seed", "5"]


def start_and_kill_after_checkpoint(out) -> str:
    """Start `jangmadang run` in a new process and SIGKILL it once its first snapshot is
    complete; return the run id."""
    command = [sys.executable, "-m", "jangmadang", "run", "baseline", *RUN]
    command += ["--checkpoint-every", "1", "--no-plot", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while not any(reached_month(out, f.parent.name) for f in out.glob("runs/*/run.json")):
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    (run_dir,) = out.glob("runs/*")
    return run_dir.name


def reached_month(out, run_id) -> str | None:
    """The month the catalog says a run has a snapshot of (None while it has none)."""
    try:
        return ResultsStore(out).run_info(run_id)["reached_month"]
    except UnknownRun:  # its folder exists a moment before its catalog row
        return None


@pytest.fixture(scope="module")
def uninterrupted():
    return jm.Sim("baseline", population=40_000, seed=5).run().results


def test_killed_run_is_interrupted_and_resumes_to_identical_results(tmp_path, uninterrupted):
    run_id = start_and_kill_after_checkpoint(tmp_path)
    store = ResultsStore(tmp_path)
    info = store.run_info(run_id)
    assert info["status"] == "interrupted"
    assert info["reached_month"] >= "2012-01"

    plotted = CliRunner().invoke(app, ["plot", run_id, "--out", str(tmp_path)])
    assert plotted.exit_code == 2
    assert "is interrupted" in plotted.output and "jangmadang resume" in plotted.output

    result = CliRunner().invoke(app, ["resume", run_id, "--out", str(tmp_path), "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "Resuming" in result.output
    assert store.run_info(run_id)["status"] == "completed"
    stored = store.load(run_id).drop(columns="run_id")
    stored["date"] = stored["date"].astype(uninterrupted["date"].dtype)
    assert_frame_equal(stored, uninterrupted)
    assert not (store.run_dir(run_id) / "snapshot").exists()  # dropped once results are stored

    again = CliRunner().invoke(app, ["resume", run_id, "--out", str(tmp_path)])
    assert again.exit_code == 2
    assert "Traceback" not in again.output


def test_resume_refuses_unknown_runs(tmp_path):
    CliRunner().invoke(
        app,
        [
            "run",
            "baseline",
            "--population",
            "2000",
            "--start",
            "2012-01",
            "--end",
            "2012-02",
            "--no-plot",
            "--out",
            str(tmp_path),
        ],
    )
    result = CliRunner().invoke(app, ["resume", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
