"""Results store and CLI: a run is catalogued, stored as Parquet, plotted and reproducible."""

import pandas as pd
import pytest
from typer.testing import CliRunner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.store import ResultsStore

runner = CliRunner(env={"COLUMNS": "160"})
TINY = ["--population", "4000", "--start", "2016-01", "--end", "2016-06"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    result = runner.invoke(app, ["run", "baseline", *TINY, "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    store = ResultsStore(out)
    run_id = store.runs().run_id.iloc[-1]
    return out, store, run_id, result.output


def test_run_prints_summary_and_paths(stored):
    out, store, run_id, output = stored
    assert run_id in output
    assert "food_insecure_share" in output
    assert "results.parquet" in output and "plot.png" in output


def test_catalog_row_and_files(stored):
    out, store, run_id, _ = stored
    info = store.run_info(run_id)
    assert info["status"] == "completed"
    assert info["scenario"] == "baseline" and info["seed"] == 5 and info["population"] == 4000
    assert info["package_version"] == jm.__version__
    assert info["wall_seconds"] > 0 and len(info["scenario_hash"]) == 16
    folder = store.run_dir(run_id)
    assert (folder / "results.parquet").is_file() and (folder / "plot.png").is_file()


def test_stored_results_equal_a_fresh_run_of_the_resolved_scenario(stored):
    out, store, run_id, _ = stored
    stored_results = store.load(run_id).drop(columns="run_id")
    rerun = jm.Sim(store.run_dir(run_id) / "scenario.toml").run().results
    pd.testing.assert_frame_equal(stored_results, rerun, check_dtype=False)


def test_query_and_runs_and_plot(stored):
    out, store, run_id, _ = stored
    frame = store.query("SELECT count(DISTINCT date) AS months FROM results")
    assert frame.months.iloc[0] == 6
    result = runner.invoke(app, ["query", "SELECT scenario, status FROM runs", "--out", str(out)])
    assert result.exit_code == 0 and "completed" in result.output
    result = runner.invoke(app, ["runs", "--out", str(out)])
    assert result.exit_code == 0 and run_id in result.output
    target = out / "gini.png"
    result = runner.invoke(
        app,
        [
            "plot",
            run_id,
            "gini_income",
            "food_insecure_share",
            "--out",
            str(out),
            "--file",
            str(target),
        ],
    )
    assert result.exit_code == 0, result.output
    assert target.stat().st_size > 10_000


def test_scenarios_and_show_scenario():
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0 and "no_border_closure" in result.output
    result = runner.invoke(app, ["show-scenario", "no_border_closure"])
    assert result.exit_code == 0
    assert 'border = "open"' in result.output and 'name = "border_closure"' not in result.output


def test_python_api_store_save(tmp_path):
    sim = jm.Sim("baseline", population=3000, start="2012-01", end="2012-03").run()
    store = ResultsStore(tmp_path)
    run_id = store.save(sim)
    assert len(store.load(run_id)) == len(sim.results)
