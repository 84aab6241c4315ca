"""Experiments, plots and months: no silent nonsense.

Every bad input to ``ensemble``, ``compare``, ``sensitivity``, ``calibrate``, ``screen``,
``validate`` and
``plot`` (and a month outside the supported range for ``run``) ends before anything runs: exit
code 2, one line on stderr naming the option (or file) and the reason, no traceback, nothing
written under ``--out``. Inputs that look odd but are valid (a UTF-8 BOM, ``plot`` of an
ensemble) give a correct result.
"""

import inspect
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from jangmadang.cli import app
from jangmadang.experiments import dask_client, run_ensemble
from jangmadang.experiments.calibration import load_targets
from jangmadang.experiments.checks import BadInput
from jangmadang.experiments.compare import compare, interval
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import keyed
from jangmadang.scenario import load_scenario
from jangmadang.store import ResultsStore

RUN = ["--population", "2000", "--start", "2019-01", "--end", "2019-12"]
MEAN = '[[targets]]\nname = "t"\nkind = "mean"\nindicator = "{indicator}"\n{rest}'


def mean_target(rest: str, indicator: str = "compliance") -> str:
    return MEAN.format(indicator=indicator, rest=rest)


# Files written into the test's folder; "{file:NAME}" in a case's arguments is NAME's path.
FILES = {
    "unknown_indicator.toml": mean_target('window = ["2019-01", "2019-12"]\nvalue = 0.8\n', "nope"),
    "value_zero.toml": mean_target('window = ["2019-01", "2019-12"]\nvalue = 0\n'),
    "value_text.toml": mean_target('window = ["2019-01", "2019-12"]\nvalue = "abc"\n'),
    "garbage.toml": "this is not TOML at all\n",
    "window_reversed.toml": mean_target('window = ["2019-12", "2019-01"]\nvalue = 0.8\n'),
    "window_month_13.toml": mean_target('window = ["2019-13", "2019-12"]\nvalue = 0.8\n'),
    "window_outside_run.toml": mean_target('window = ["2017-01", "2017-12"]\nvalue = 0.8\n'),
    "unknown_province.toml": mean_target(
        'window = ["2019-01", "2019-12"]\nvalue = 0.8\nprovinces = { Atlantis = 1.0 }\n'
    ),
    "years_reversed.toml": (
        '[[targets]]\nname = "a"\nkind = "yearly_total"\nindicator = "arrivals_south_korea"\n'
        'data = "arrivals"\nyears = [2019, 2001]\n'
    ),
    "years_not_a_list.toml": (
        '[[targets]]\nname = "a"\nkind = "yearly_total"\nindicator = "arrivals_south_korea"\n'
        'data = "arrivals"\nyears = "2019"\n'
    ),
    "unknown_kind.toml": mean_target("").replace('"mean"', '"median"'),
    "year_one.toml": 'start = "0001-01"\n',
    "mid_month.toml": 'start = 2019-01-15\nend = "2019-12"\n',
    "later_start.toml": 'extends = "baseline"\nstart = "2013-01"\n',
}

# (arguments, fragments of the one stderr line). "{out}" is the shared results folder,
# "{run}" a stored run and "{ensemble}" a stored ensemble; "{tmp}" a scratch folder.
CASES = {
    # sensitivity
    "sensitivity_unknown_indicator": (
        ["sensitivity", "baseline", "--params", "food.harvest_sd", "--indicators", "nope"],
        ["--indicators:", "no national indicator 'nope'", "known: "],
    ),
    "sensitivity_size_parameter": (
        ["sensitivity", "baseline", "--params", "population.scale"],
        ["--params:", "population.scale sets the size of the run", "--population"],
    ),
    "sensitivity_persons": (
        ["sensitivity", "baseline", "--params", "population.persons"],
        ["--params:", "population.persons sets the size of the run"],
    ),
    "sensitivity_duplicate_parameter": (
        ["sensitivity", "baseline", "--params", "food.harvest_sd,food.harvest_sd"],
        ["--params:", "food.harvest_sd given more than once"],
    ),
    "sensitivity_unknown_parameter": (
        ["sensitivity", "baseline", "--params", "food.nope"],
        ["--params:", "unknown parameter 'food.nope'"],
    ),
    "sensitivity_parameter_without_range": (
        ["sensitivity", "baseline", "--params", "world.border"],
        ["--params:", "world.border: no plausible range"],
    ),
    "sensitivity_no_parameter": (
        ["sensitivity", "baseline", "--params", " , "],
        ["--params:", "give at least one name"],
    ),
    "sensitivity_method": (
        ["sensitivity", "baseline", "--params", "food.harvest_sd", "--method", "x"],
        ["--method 'x':", "one of sobol, morris"],
    ),
    "sensitivity_samples": (
        ["sensitivity", "baseline", "--params", "food.harvest_sd", "--samples", "1"],
        ["--samples 1:", "at least 2"],
    ),
    "sensitivity_window_reversed": (
        ["sensitivity", "baseline", "--params", "food.harvest_sd", "--window", "2012-03:2012-01"],
        ["--window:", "the last month 2012-01 is before the first 2012-03"],
    ),
    # calibrate: the targets file, field by field, before a study exists
    "targets_unknown_indicator": (
        ["calibrate", "baseline", "--targets", "{file:unknown_indicator.toml}", *RUN],
        ["--targets {file:unknown_indicator.toml}: targets[0].indicator:", "'nope'"],
    ),
    "targets_value_zero": (
        ["calibrate", "baseline", "--targets", "{file:value_zero.toml}", *RUN],
        ["--targets {file:value_zero.toml}: targets[0].value:", "must not be 0"],
    ),
    "targets_value_text": (
        ["calibrate", "baseline", "--targets", "{file:value_text.toml}", *RUN],
        ["--targets {file:value_text.toml}: targets[0].value:", "valid number", "'abc'"],
    ),
    "targets_garbage": (
        ["calibrate", "baseline", "--targets", "{file:garbage.toml}", *RUN],
        ["--targets {file:garbage.toml}:", "not valid TOML"],
    ),
    "targets_window_reversed": (
        ["calibrate", "baseline", "--targets", "{file:window_reversed.toml}", *RUN],
        ["--targets {file:window_reversed.toml}: targets[0].window:", "before the first 2019-12"],
    ),
    "targets_window_month_13": (
        ["calibrate", "baseline", "--targets", "{file:window_month_13.toml}", *RUN],
        ["--targets {file:window_month_13.toml}: targets[0].window[0]:", "YYYY-MM"],
    ),
    "targets_window_outside_the_run": (
        ["calibrate", "baseline", "--targets", "{file:window_outside_run.toml}", *RUN],
        ["targets[0].window:", "2017-01..2017-12 is not inside the run's 2019-01..2019-12"],
    ),
    "targets_years_reversed": (
        ["calibrate", "baseline", "--targets", "{file:years_reversed.toml}", *RUN],
        ["--targets {file:years_reversed.toml}: targets[0].years:", "before the first 2019"],
    ),
    "targets_years_not_a_list": (
        ["calibrate", "baseline", "--targets", "{file:years_not_a_list.toml}", *RUN],
        ["targets[0].years:", "valid list"],
    ),
    "targets_unknown_kind": (
        ["calibrate", "baseline", "--targets", "{file:unknown_kind.toml}", *RUN],
        ["targets[0].kind:", "one of yearly_total, mean, range", "'median'"],
    ),
    "targets_missing_file": (
        ["calibrate", "baseline", "--targets", "{tmp}/missing.toml", *RUN],
        ["--targets {tmp}/missing.toml:", "no such targets file"],
    ),
    "shipped_targets_outside_a_short_run": (
        ["calibrate", "history", *RUN[:2], "--start", "2002-01", "--end", "2019-12"],
        [
            "the shipped targets.toml: targets[1].window:",
            "2001-01..2001-12 is not inside the run's 2002-01..2019-12",
        ],
    ),
    "shipped_targets_need_the_history": (
        ["calibrate", "baseline", *RUN[:2]],
        ["the shipped targets.toml: targets[1].window:", "not inside the run's 2012-01..2025-12"],
    ),
    "targets_unknown_province": (
        ["calibrate", "baseline", "--targets", "{file:unknown_province.toml}", *RUN],
        ["targets[0].provinces:", "no province 'Atlantis'"],
    ),
    # screen
    "screen_one_trajectory": (
        ["screen", "--trajectories", "1"],
        ["--trajectories 1:", "at least 2", "Morris needs two"],
    ),
    "screen_starts_too_late": (
        ["screen", "baseline"],
        ["--start '2012-01':", "the outputs begin in 2001-01"],
    ),
    "screen_ends_too_early": (
        ["screen", "--end", "2015-12"],
        ["--end '2015-12':", "the outputs end in 2019-12"],
    ),
    "calibrate_trials": (
        ["calibrate", "history", "--trials", "0"],
        ["--trials 0:", "at least 1"],
    ),
    "calibrate_span": (
        ["calibrate", "history", "--span", "1.5"],
        ["--span 1.5:", "must be above 0 and at most 1"],
    ),
    "calibrate_seeds": (
        ["calibrate", "history", "--seeds", "0"],
        ["--seeds 0:", "at least 1"],
    ),
    "calibrate_replicates": (
        ["calibrate", "history", "--replicates", "0"],
        ["--replicates 0:", "at least 1"],
    ),
    "calibrate_duplicate_parameter": (
        ["calibrate", "baseline", "--params", "defection.base_hazard,defection.base_hazard"],
        ["--params:", "given more than once"],
    ),
    # compare
    "compare_window_reversed": (
        ["compare", "baseline", "no_border_closure", "--window", "2012-03:2012-01"],
        ["--window:", "the last month 2012-01 is before the first 2012-03"],
    ),
    "compare_window_month_13": (
        ["compare", "baseline", "no_border_closure", "--window", "2012-13:2013-01"],
        ["--window:", "expected a month written YYYY-MM, got '2012-13'"],
    ),
    "compare_window_outside_the_run": (
        ["compare", "baseline", "no_border_closure", "--window", "2011-01:2011-06"],
        ["--window:", "2011-01..2011-06 is not inside the run's months 2012-01..2025-12"],
    ),
    "compare_window_not_a_span": (
        ["compare", "baseline", "no_border_closure", "--window", "2020"],
        ["--window '2020':", "FIRST:LAST"],
    ),
    "compare_one_run": (
        ["compare", "baseline", "no_border_closure", "--runs", "1"],
        ["--runs 1:", "at least 2 (an interval needs two members)"],
    ),
    "compare_unknown_indicator": (
        ["compare", "baseline", "no_border_closure", "--indicators", "nope"],
        ["--indicators:", "no national indicator 'nope'"],
    ),
    "compare_scenario_in_year_one": (
        ["compare", "baseline", "{file:year_one.toml}"],
        ["{file:year_one.toml}: start:", "from 1900-01 to 2100-12, got '0001-01'"],
    ),
    "compare_scenarios_over_different_months": (
        ["compare", "baseline", "{file:later_start.toml}"],
        ["ALT:", "runs 2013-01..2025-12, the base 2012-01..2025-12"],
    ),
    # ensemble: the cluster and the run options
    "ensemble_no_workers": (
        ["ensemble", "baseline", "--workers", "0"],
        ["--workers 0:", "at least 1"],
    ),
    "ensemble_negative_workers": (
        ["ensemble", "baseline", "--workers", "-1"],
        ["--workers -1:", "at least 1"],
    ),
    "ensemble_unreachable_scheduler": (
        ["ensemble", "baseline", "--scheduler", "tcp://127.0.0.1:1"],
        ["--scheduler 'tcp://127.0.0.1:1':", "no Dask scheduler answers at 127.0.0.1:1"],
    ),
    "ensemble_scheduler_not_an_address": (
        ["ensemble", "baseline", "--scheduler", "notaurl"],
        ["--scheduler 'notaurl':", "not a scheduler address", "tcp://host:port"],
    ),
    "ensemble_workers_and_scheduler": (
        ["ensemble", "baseline", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
        ["--workers:", "not both"],
    ),
    "ensemble_unknown_scenario": (
        ["ensemble", "no_such_scenario"],
        ["no_such_scenario:", "no scenario file or built-in scenario named"],
    ),
    "ensemble_no_runs": (["ensemble", "baseline", "--runs", "0"], ["--runs 0:", "at least 1"]),
    "ensemble_population_zero": (
        ["ensemble", "baseline", "--population", "0"],
        ["command line: --population:", "greater than 0"],
    ),
    "ensemble_start_year_one": (
        ["ensemble", "baseline", "--start", "0001-01"],
        ["command line: --start:", "expected a month from 1900-01 to 2100-12, got '0001-01'"],
    ),
    # validate
    "validate_population_zero": (
        ["validate", "--population", "0"],
        ["command line: --population:", "greater than 0"],
    ),
    "validate_one_run": (["validate", "--runs", "1"], ["--runs 1:", "at least 2"]),
    # plot
    "plot_file_in_missing_folder": (
        ["plot", "{run}", "--file", "{tmp}/missing/plot.png"],
        ["--file '{tmp}/missing/plot.png':", "no folder"],
    ),
    "plot_file_txt": (["plot", "{run}", "--file", "{tmp}/plot.txt"], ["--file", "not .txt"]),
    "plot_file_xyz": (["plot", "{run}", "--file", "{tmp}/plot.xyz"], [".png, .pdf, .svg"]),
    "plot_file_is_a_folder": (["plot", "{run}", "--file", "{tmp}"], ["--file", "not a"]),
    "plot_ensemble_unknown_indicator": (
        ["plot", "{ensemble}", "nope"],
        ["ensemble {ensemble}:", "no national indicator 'nope'"],
    ),
    "plot_ensemble_stacked_panel": (
        ["plot", "{ensemble}", "remittance_flows"],
        ["remittance_flows: a stacked panel, drawn for single runs only"],
    ),
    # run: months in the supported range, printed as YYYY-MM
    "run_year_one": (
        ["run", "--start", "0001-01"],
        ["command line: --start:", "expected a month from 1900-01 to 2100-12, got '0001-01'"],
    ),
    "run_scenario_in_year_one": (
        ["run", "{file:year_one.toml}"],
        ["{file:year_one.toml}: start:", "from 1900-01 to 2100-12"],
    ),
    "run_mid_month_date": (
        ["run", "{file:mid_month.toml}"],
        ["{file:mid_month.toml}: start:", "got the day 2019-01-15 (write 2019-01)"],
    ),
}


def make_runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2
        return CliRunner(mix_stderr=False)
    return CliRunner()


runner = make_runner()


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results folder with a tiny run and a tiny ensemble, and a scratch folder with the
    input files: every bad call below must leave the results folder exactly as it was."""
    out = tmp_path_factory.mktemp("results")
    done = runner.invoke(app, ["run", *RUN, "--out", str(out), "--no-plot"])
    assert done.exit_code == 0, done.stdout + done.stderr
    (run_id,) = ResultsStore(out).runs().run_id
    ensemble_id = run_ensemble(
        "baseline", 2, out=out, workers=1, population=2_000, start="2019-01", end="2019-12"
    )
    tmp = tmp_path_factory.mktemp("inputs")
    for name, text in FILES.items():
        (tmp / name).write_text(text, encoding="utf-8")
    return {"out": str(out), "run": run_id, "ensemble": ensemble_id, "tmp": str(tmp)}


def filled(text: str, places: dict) -> str:
    for name in FILES:
        text = text.replace(f"{{file:{name}}}", f"{places['tmp']}/{name}")
    return text.format(**places)


def contents(folder) -> dict:
    """Every file under ``folder`` with its size and modification time (lock files aside)."""
    from pathlib import Path

    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.name.endswith((".wal", ".lock"))
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_stops_before_anything_runs(stored, case):
    args, fragments = CASES[case]
    args = [filled(a, stored) for a in args]
    fragments = [filled(f, stored) for f in fragments]
    before = contents(stored["out"])
    scratch = contents(stored["tmp"])
    started = time.perf_counter()
    result = runner.invoke(app, [*args, "--out", stored["out"]])
    everything = result.stdout + result.stderr
    assert result.exit_code == 2, everything
    assert result.exception is None or isinstance(result.exception, SystemExit), everything
    assert "Traceback" not in everything
    lines = result.stderr.splitlines()
    assert len(lines) == 1, everything
    assert lines[0].startswith("error: ") and all(f in lines[0] for f in fragments), lines[0]
    assert result.stdout == ""  # no progress bar, no table: nothing started
    assert time.perf_counter() - started < 10  # no hang
    assert contents(stored["out"]) == before
    assert contents(stored["tmp"]) == scratch


# --------------------------------------------------------------------------------------------
# Valid inputs that used to fail or mislead


def test_plot_of_an_ensemble_draws_the_default_panels_and_keeps_them(stored):
    out, ensemble_id = stored["out"], stored["ensemble"]
    folder = ResultsStore(out).out / "ensembles" / ensemble_id
    result = runner.invoke(app, ["plot", ensemble_id, "--out", out])
    assert result.exit_code == 0, result.stdout + result.stderr
    default = (folder / "plot.png").stat()
    result = runner.invoke(app, ["plot", ensemble_id, "private_loyalty", "--out", out])
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (folder / "plot-private_loyalty.png").is_file()
    assert (folder / "plot.png").stat().st_mtime_ns == default.st_mtime_ns


def test_plot_of_a_run_with_indicators_keeps_the_default_figure(stored, tmp_path):
    out, run_id = stored["out"], stored["run"]
    result = runner.invoke(app, ["plot", run_id, "compliance", "--out", out])
    assert result.exit_code == 0, result.stdout + result.stderr
    folder = ResultsStore(out).run_dir(run_id)
    assert (folder / "plot-compliance.png").is_file() and not (folder / "plot.png").exists()
    for suffix in (".pdf", ".svg"):
        target = tmp_path / f"figure{suffix}"
        result = runner.invoke(app, ["plot", run_id, "--out", out, "--file", str(target)])
        assert result.exit_code == 0 and target.stat().st_size > 0


def test_files_with_a_utf8_bom_are_read(tmp_path):
    targets = tmp_path / "targets.toml"
    targets.write_text("\ufeff" + mean_target('window = ["2019-01", "2019-12"]\nvalue = 0.8\n'))
    base = resolve("baseline", population=2_000, start="2019-01", end="2019-12")
    (target,) = load_targets(targets, base)
    assert target.value == 0.8
    scenario = tmp_path / "bom.toml"
    scenario.write_text('\ufeffextends = "baseline"\nseed = 7\n', encoding="utf-8")
    assert load_scenario(scenario).seed == 7


def test_experiments_are_named_by_everything_that_defines_them():
    """Another population, window or seed gives another calibration study and another
    sensitivity folder; the same settings give the same name (so they resume)."""
    base = resolve("baseline", population=2_000, start="2019-01", end="2019-12")
    variants = [
        resolve("baseline", population=3_000, start="2019-01", end="2019-12"),
        resolve("baseline", population=2_000, start="2019-02", end="2019-12"),
        resolve("baseline", population=2_000, start="2019-01", end="2020-12"),
        resolve("baseline", population=2_000, start="2019-01", end="2019-12", seed=9),
    ]
    name, _ = keyed("baseline-sobol", base, params=["food.harvest_sd"], samples=8)
    assert keyed("baseline-sobol", base, params=["food.harvest_sd"], samples=8)[0] == name
    others = {
        keyed("baseline-sobol", v, params=["food.harvest_sd"], samples=8)[0] for v in variants
    }
    others.add(keyed("baseline-sobol", base, params=["food.harvest_sd"], samples=16)[0])
    others.add(keyed("baseline-sobol", base, params=["loyalty.market_effect"], samples=8)[0])
    assert name not in others and len(others) == 6


def test_structural_population_parameters_vary_and_size_does_not():
    """Sensitivity refuses the run's size (``population.scale``, ``persons``, ``full_size``)
    but varies the population's structure, which each run builds anew."""
    from jangmadang.experiments.sensitivity import point_scenario, problem
    from jangmadang.sim import Sim

    for size in ("population.scale", "population.full_size"):
        with pytest.raises(BadInput, match="size of the run"):
            problem([size])
    base = resolve("baseline", population=2_000, start="2019-01", end="2019-03")
    spec = problem(["population.urban_share"])
    low, high = (point_scenario(base, spec["names"], np.array([v])) for v in spec["bounds"][0])
    urban = [Sim(s).run().series("food_insecure_share").mean() for s in (low, high)]
    assert urban[0] != urban[1]


def test_an_interval_needs_two_values_and_the_api_refuses_one_run(tmp_path):
    mean, low, high = interval(np.array([0.3]))
    assert mean == 0.3 and np.isnan(low) and np.isnan(high)
    with pytest.raises(BadInput, match="runs"):
        compare("baseline", "no_border_closure", 1, out=tmp_path, population=2_000)
    assert not tmp_path.joinpath("jangmadang.duckdb").exists()


@pytest.mark.parametrize("workers", [0, -1])
def test_a_cluster_without_workers_is_refused_at_once(workers):
    started = time.perf_counter()
    with pytest.raises(BadInput, match="at least 1"), dask_client(workers=workers):
        pass
    assert time.perf_counter() - started < 5
