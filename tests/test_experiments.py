"""Experiments on Dask: ensembles that survive dead workers and interruptions, results that do
not depend on the number of workers, comparison, Sobol sensitivity, calibration, validation."""

import os
import signal

import numpy as np
import pandas as pd
import pytest

from jangmadang import evidence
from jangmadang.experiments import member_results, member_seeds, run_ensemble
from jangmadang.experiments.calibration import CENTRING, calibrate, load_targets, loss
from jangmadang.experiments.compare import compare
from jangmadang.experiments.ensemble import (
    EnsembleExists,
    ensemble_id_of,
    ensemble_summary,
    resolve,
)
from jangmadang.experiments.sensitivity import sensitivity
from jangmadang.experiments.validation import (
    PATTERNS,
    Pattern,
    effects,
    headline,
    markdown,
    validate,
)
from jangmadang.modules.defection import load_arrivals
from jangmadang.scenario import load_scenario, with_overrides
from jangmadang.store import ResultsStore

TINY = {"population": 8_000, "start": "2019-01", "end": "2019-12"}


def stored(folder, ensemble_id):
    return ResultsStore(folder).ensemble_members(ensemble_id)


def test_member_seeds_do_not_depend_on_the_ensemble_size():
    assert member_seeds(7, 3) == member_seeds(7, 5)[:3]
    assert len(set(member_seeds(7, 50))) == 50


def test_two_workers_give_the_same_results_as_one(client, tmp_path):
    one = run_ensemble("baseline", 4, out=tmp_path / "one", workers=1, **TINY)
    two = run_ensemble("baseline", 4, out=tmp_path / "two", client=client, **TINY)
    assert one == two  # same scenario and seed: same ensemble id
    a, b = (
        member_results(ResultsStore(tmp_path / "one"), one),
        member_results(ResultsStore(tmp_path / "two"), two),
    )
    assert sorted(a) == sorted(b) == [0, 1, 2, 3]
    for m in a:
        pd.testing.assert_frame_equal(a[m].drop(columns="run_id"), b[m].drop(columns="run_id"))
    assert not a[0].drop(columns="run_id").equals(a[1].drop(columns="run_id"))  # seeds differ


def test_a_worker_killed_mid_ensemble_loses_nothing_and_duplicates_nothing(client, tmp_path):
    killed = []

    def kill_a_worker(_member):
        if not killed:
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    options = dict(TINY, population=20_000, end="2020-12")
    ensemble_id = run_ensemble(
        "baseline", 6, out=tmp_path, client=client, on_member=kill_a_worker, **options
    )
    assert killed
    members = stored(tmp_path, ensemble_id)
    assert sorted(members.member) == list(range(6))
    assert list(members.seed) == member_seeds(resolve("baseline", **options).seed, 6)
    runs = ResultsStore(tmp_path).runs()
    assert len(runs) == 6 and runs.run_id.is_unique
    assert len(list(tmp_path.glob("runs/*/results.parquet"))) == 6
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker


def test_an_interrupted_ensemble_resumes_with_only_the_missing_seeds(client, tmp_path):
    class Interrupted(Exception):
        pass

    def interrupt(_member):
        raise Interrupted

    with pytest.raises(Interrupted):
        run_ensemble("baseline", 5, out=tmp_path, client=client, on_member=interrupt, **TINY)
    ensemble_id = ensemble_id_of(resolve("baseline", **TINY))
    before = stored(tmp_path, ensemble_id)
    assert 1 <= len(before) < 5
    with pytest.raises(EnsembleExists):
        run_ensemble("baseline", 5, out=tmp_path, client=client, **TINY)
    ran = []
    run_ensemble(
        "baseline", 5, out=tmp_path, client=client, resume=True, on_member=ran.append, **TINY
    )
    after = stored(tmp_path, ensemble_id)
    assert sorted(after.member) == list(range(5))
    assert sorted(ran) == sorted(set(range(5)) - set(before.member))
    kept = after.set_index("member").run_id
    assert all(kept[m] == r for m, r in zip(before.member, before.run_id, strict=True))
    assert len(ResultsStore(tmp_path).runs()) == 5


def test_ensemble_summary_bands_contain_the_median(client, tmp_path):
    ensemble_id = run_ensemble("baseline", 4, out=tmp_path, client=client, **TINY)
    summary = ensemble_summary(ResultsStore(tmp_path), ensemble_id, ["food_price_usd_per_kg"])
    assert (summary.runs == 4).all()
    assert (summary.q05 <= summary["median"]).all() and (summary["median"] <= summary.q95).all()


def test_comparison_pairs_members_on_the_same_seeds(client, tmp_path):
    options = dict(TINY, population=20_000, end="2021-12")
    result = compare(
        "no_border_closure",
        "baseline",
        3,
        indicators=["food_price_usd_per_kg", "remittances_received_usd"],
        window=("2020-02", "2021-12"),
        out=tmp_path,
        client=client,
        **options,
    )
    table = result.table.set_index("indicator")
    assert table.loc["food_price_usd_per_kg", "low"] > 0  # the closure raises prices
    assert table.loc["remittances_received_usd", "high"] < 0  # and cuts remittances
    base = member_results(ResultsStore(tmp_path), result.base_ensemble)
    alt = member_results(ResultsStore(tmp_path), result.alt_ensemble)
    before = "2019-12-01"  # common random numbers: identical until the closure
    for m in base:
        b, a = (df[df.date <= before].drop(columns="run_id") for df in (base[m], alt[m]))
        pd.testing.assert_frame_equal(b.reset_index(drop=True), a.reset_index(drop=True))


def test_sobol_on_four_parameters(client):
    params = [
        "food.harvest_sd",
        "markets.goods_spending_share",
        "defection.base_hazard",
        "loyalty.market_effect",
    ]
    table = sensitivity(
        "baseline",
        params,
        samples=8,
        indicators=["food_insecure_share", "private_loyalty"],
        client=client,
        **TINY,
    ).table
    assert len(table) == 8 and set(table.parameter) == set(params)
    assert np.isfinite(table[["S1", "ST"]].to_numpy()).all()
    loyalty = table[table.indicator == "private_loyalty"].set_index("parameter")
    assert loyalty.ST.idxmax() == "loyalty.market_effect"


def test_calibration_improves_on_a_misset_scenario(client, tmp_path):
    misset = with_overrides(
        resolve("baseline", population=60_000, start="2012-01", end="2019-12"),
        {"defection.base_hazard": 6.0e-5},  # the top of its plausible range, 2.4x the default
    )
    targets = tmp_path / "arrivals.toml"  # the shipped targets need the history since 2001
    targets.write_text(
        '[[targets]]\nname = "arrivals"\nkind = "yearly_total"\nindicator = '
        '"arrivals_south_korea"\ndata = "arrivals"\nyears = [2012, 2019]\ntolerance = 0.1\n'
    )
    options = {"targets": targets, "seeds": 2, "out": tmp_path, "client": client}
    result = calibrate(misset, ["defection.base_hazard"], trials=4, **options)
    assert result.best_loss < result.default_loss
    calibrated = load_scenario(result.scenario_path)
    assert calibrated.defection.base_hazard == pytest.approx(
        result.best_params["defection.base_hazard"]
    )
    # The fit report: a row a year, the best values' mean over seeds inside its 90% band,
    # closer to the observations than the mis-set value.
    fit = result.fit
    assert list(fit.year) == [str(y) for y in range(2012, 2020)]
    assert (fit.best_5 <= fit.best).all() and (fit.best <= fit.best_95).all()
    observed = fit.observed.astype(float)
    assert (fit.best - observed).abs().sum() < (fit.default - observed).abs().sum()
    assert "| arrivals 2012 |" in result.report_path.read_text()
    assert (result.report_path.parent / "fit.png").is_file()
    # The study is stored: running again adds trials to it.
    again = calibrate(misset, ["defection.base_hazard"], trials=2, **options)
    assert again.trials == result.trials + 2


def test_a_trial_is_judged_on_its_seeds_mean_and_pulled_to_the_middle_of_the_band():
    target = load_targets()[0]  # the yearly arrivals, 25% tolerance
    observed = load_arrivals()

    def run(factor):  # a run whose arrivals are the published ones times factor, at 1:1
        dates = pd.date_range("2001-01-01", "2019-12-01", freq="MS")
        return _member(
            [(d, target.indicator, "all", "all", observed[d.year] / 12 * factor) for d in dates]
        )

    assert loss([target], [run(1.0)], 1.0) == pytest.approx(0)
    inside = loss([target], [run(1.2)], 1.0)  # 20% above: inside the band, a small cost
    assert inside == pytest.approx(CENTRING * 0.2**2)
    outside = loss([target], [run(1.4)], 1.0)  # 15% beyond the band
    assert outside == pytest.approx(0.15**2 + CENTRING * 0.4**2)
    # Two seeds at 0.8 and 1.2 of the series: their mean is the series.
    assert loss([target], [run(0.8), run(1.2)], 1.0) == pytest.approx(0)


def test_every_pattern_names_a_known_source():
    known = set(evidence.sources()) | set(evidence.REPORTS)
    for pattern in PATTERNS:
        assert pattern.source in known, pattern.name


def _member(rows):
    return pd.DataFrame(rows, columns=["date", "indicator", "dimension", "group", "value"])


def test_pattern_effects_of_joined_groups_thresholds_and_correlations():
    dates = [f"{year}-01-01" for year in range(2001, 2006)]
    harvest = [1.0, 0.8, 1.1, 0.9, 1.2]
    rows = [(d, "harvest", "all", "all", h) for d, h in zip(dates, harvest, strict=True)]
    rows += [
        (d, "rations", "all", "all", 0.5 * h - 0.1) for d, h in zip(dates, harvest, strict=True)
    ]
    rows += [
        (d, "cash", "province", g, v) for d in dates for g, v in (("A", 3), ("B", 1), ("C", 2))
    ]
    member = {"history": {0: _member(rows)}}
    window = ("2001-01-01", "2005-12-01")

    def effect(**kw):
        return effects(Pattern("p", "model", base="history", window=window, **kw), member)[0]

    assert effect(
        kind="groups", indicator="cash", expect=1, dimension="province", groups=("A", "B+C")
    ) == pytest.approx(1.5)
    assert effect(
        kind="groups", indicator="cash", expect=1, dimension="province", groups=("A", "max:B+C")
    ) == pytest.approx(1.0)
    assert effect(
        kind="trend",
        indicator="harvest",
        expect=1,
        early=("2001-01-01", "2002-12-01"),
        threshold=0.1,
    ) == pytest.approx(1.0 - 0.9 - 0.1)
    assert effect(
        kind="correlation", indicator="harvest", other="rations", expect=1
    ) == pytest.approx(1.0)


def test_validation_fast_version(client, tmp_path):
    table = validate(3, out=tmp_path, client=client, population=30_000)
    assert list(table.pattern) == [p.name for p in PATTERNS]
    assert np.isfinite(table[["effect", "low", "high"]].to_numpy()).all()
    # At 30,000 persons a province has a few defector families and a few departures a year,
    # a few donju (most of a province's market income) and about 300 deaths a year (the
    # death rate of 3 runs then spans about 9-12): such patterns need `jangmadang validate`'s
    # size. The others must pass.
    rare = {
        "border provinces earn more from markets",
        "deaths are 8-11 per 1,000 a year (upper)",
        "closure cuts defections",
        "arrivals in the South fall after 2011",
        "arrivals in the South rise to 2009",
        "market growth ties donju to party secretaries",
        "border agents take more than interior agents",
        "families with relatives abroad spend more",
    }
    common = table[~table.pattern.isin(rare)]
    assert common.passed.all(), common[~common.passed]
    # Patterns that pass a scenario value or a rule through are plumbing checks, counted
    # apart from the emergent ones (issue 15).
    assert (table.origin == "emergent").sum() >= 12
    imposed = table[table.origin == "imposed"]
    assert {"sanctions cut exports", "closure raises the brokers' share"} <= set(imposed.pattern)
    assert (imposed.imposed != "").all() and (table.imposed[table.origin == "emergent"] == "").all()
    text = markdown(table, "jangmadang validate")
    assert headline(table) in text
    assert text.index("Emergent patterns") < text.index("Plumbing checks")
    verdicts = [line for line in text.splitlines() if "| pass |" in line or "| FAIL |" in line]
    assert len(verdicts) == len(table)
