"""Defection: arrivals match the published series, the registry agrees with persons and
households, and the patterns the reports describe emerge from the hazard."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

import jangmadang as jm
from jangmadang.modules.defection import RETURNED, SETTLED, TRANSIT, load_arrivals
from jangmadang.state import Role

PERSONS = 2_000_000  # about 110 arrivals a year: small enough for the suite, large enough to test
SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def runs():
    return [
        jm.Sim("baseline", population=PERSONS, seed=seed, start="2012-01", end="2019-12").run()
        for seed in SEEDS
    ]


def yearly(sim, indicator, dimension="all", group="all"):
    series = sim.series(indicator, dimension, group)
    return series.groupby(series.index.year).sum()


def test_arrivals_2012_2019_within_25_percent_of_the_published_series(runs):
    scale = runs[0].pars.population.effective_scale  # the run's share of the whole country
    simulated = sum(yearly(sim, "arrivals_south_korea") for sim in runs) / len(runs) / scale
    published = load_arrivals()
    for year, value in simulated.items():
        assert abs(value / published[year] - 1) < 0.25, (year, value, published[year])


def test_most_arrivals_are_women_because_men_are_tied_to_workplaces(runs):
    for sim in runs:
        women = yearly(sim, "arrivals_south_korea", "sex", "female").sum()
        men = yearly(sim, "arrivals_south_korea", "sex", "male").sum()
        assert women > 1.5 * men


def test_most_arrivals_come_from_the_tumen_border_provinces(runs):
    for sim in runs:
        by_province = {
            g: yearly(sim, "arrivals_south_korea", "province", g).sum() for g in sim.geography.names
        }
        tumen = by_province["North Hamgyong"] + by_province["Ryanggang"]
        assert tumen > 0.6 * sum(by_province.values())
        assert by_province["North Hamgyong"] > by_province["Pyongyang"]


def test_registry_agrees_with_roles_and_households(runs):
    sim = runs[0]
    reg, people, hh = sim.defection.registry, sim.people, sim.households
    stage = reg["stage"]
    abroad = np.flatnonzero(people.role == Role.ABROAD)
    assert np.array_equal(np.sort(reg["person"][(stage == TRANSIT) | (stage == SETTLED)]), abroad)
    detained = np.flatnonzero(people.role == Role.DETAINED)
    assert np.array_equal(np.sort(sim.enforcement.camp_person), detained)
    away = reg["person"][(stage == TRANSIT) | (stage == SETTLED)]
    returned = np.setdiff1d(reg["person"][stage == RETURNED], away)  # not left again since
    returned = returned[returned >= 0]  # -1: died after coming back
    assert not np.isin(people.role[returned], [Role.ABROAD]).any()
    settled_households = np.bincount(reg["household"][stage == SETTLED], minlength=hh.n)
    assert np.array_equal(settled_households, hh.relatives_abroad)
    alive = reg["person"] >= 0
    assert np.array_equal(people.household[reg["person"][alive]], reg["household"][alive])
    counts = sim.population.role_count
    assert np.array_equal(
        counts[Role.ABROAD], np.bincount(people.household[abroad], minlength=hh.n)
    )


def test_defectors_are_not_counted_at_home(runs):
    sim = runs[0]
    abroad = (sim.people.role == Role.ABROAD).sum()
    dead = (sim.people.role == Role.DECEASED).sum()  # until the yearly rebuild
    newborns = len(sim.demography.newborn_mother)  # counted before they have a row
    assert sim.series("population").iloc[-1] == sim.people.n - abroad - dead + newborns
    assert (
        sim.population.present().sum()
        == sim.people.n - abroad - dead - (sim.people.role == Role.DETAINED).sum()
    )


def test_trips_are_paid_to_brokers_through_the_ledger(runs):
    df = runs[0].results
    trips = df[(df.indicator == "money_destroyed_usd") & (df.group == "defection_trip")]
    assert trips.value.sum() > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_border_closure_cuts_defections_and_arrivals(seed):
    def run(name):
        return jm.Sim(name, population=500_000, seed=seed, start="2019-01", end="2022-12").run()

    closed, open_ = run("baseline"), run("no_border_closure")
    window = slice("2020-03", "2022-12")
    for indicator in ("defections", "arrivals_south_korea"):
        assert closed.series(indicator)[window].sum() < 0.5 * open_.series(indicator)[window].sum()


def test_arrivals_plot_compares_yearly_totals_with_the_published_series(runs, tmp_path):
    from jangmadang.plotting import plot_run

    sim = runs[0]
    path = plot_run(
        sim.results,
        sim.scenario.events,
        tmp_path / "arrivals.png",
        ["arrivals_south_korea"],
        scale=PERSONS / 25_970_000,
    )
    assert path.stat().st_size > 10_000


def test_a_run_starts_with_the_published_stock_in_the_south_on_the_road_and_in_the_network():
    sim = jm.Sim("baseline", population=500_000, start="2012-01", end="2012-12").init()
    defection, scale = sim.defection, sim.pars.population.effective_scale
    stage = defection.registry["stage"]
    first_year = sim.month.year  # the first burn-in month
    published = load_arrivals()
    before = sum(n for year, n in published.items() if year < first_year)
    settled = np.count_nonzero(stage == SETTLED)
    assert abs(settled / scale / before - 1) < 0.1
    assert np.count_nonzero(stage == TRANSIT) > 0  # those who left before the start
    assert defection.crossings > published[first_year - 1]  # a year's departures and more
    assert defection.network() == pytest.approx(settled / scale + defection.crossings)


def network_sim(start="2012-01", end="2012-12"):
    """A small run with a hazard high enough for a few departures a month."""
    scenario = jm.load_scenario("baseline", {"defection.base_hazard": 2e-3})
    return jm.Sim(scenario, population=50_000, start=start, end=end).init()


def test_a_larger_broker_network_raises_everyones_hazard():
    sim = network_sim(start="2001-01", end="2001-12")  # a small network: 947 settled by 1998
    leaving = sim.defection._leaving()
    sim.defection.crossings += 100_000  # same month, same stream: only the network differs
    more = sim.defection._leaving()
    assert len(more) > 3 * len(leaving) > 0
    assert np.isin(leaving, more).all()


def test_the_network_grows_with_the_stock_in_the_south_and_with_crossings():
    sim = network_sim(start="2005-01", end="2005-12").run()
    scale = sim.pars.population.effective_scale
    network = sim.series("broker_network")
    settled = sim.series("defectors_in_south_korea")
    assert settled.iloc[-1] > settled.iloc[0] and network.iloc[-1] > network.iloc[0]
    remembered = network - settled / scale
    departures = sim.series("defections").sum() / scale
    # the memory holds this year's crossings less what has faded: between a year's fading
    # of the start (no crossings) and the start plus every crossing
    months = sim.pars.defection.network_memory_months
    assert remembered.iloc[0] * (1 - 1 / months) ** 11 < remembered.iloc[-1]
    assert remembered.iloc[-1] < remembered.iloc[0] + departures


def test_the_crackdown_cuts_the_hazard_at_once_then_tightens_and_raises_the_price():
    sim = network_sim()
    defection, p = sim.defection, sim.pars.defection
    before = defection.guard(), defection.trip_cost()
    sim.month = p.crackdown_start
    at_start = defection.guard()
    sim.month = date(p.crackdown_start.year + 5, p.crackdown_start.month, 1)
    later = defection.guard(), defection.trip_cost()
    assert before == (1.0, p.trip_cost_usd)
    assert at_start == pytest.approx(p.crackdown_multiplier)
    assert later[0] == pytest.approx(at_start * np.exp(-5 * p.guard_tightening_per_year))
    assert later[1] == pytest.approx(p.trip_cost_usd / later[0]) and later[1] > 2 * before[1]


def test_a_group_airlift_flies_out_those_longest_on_the_road_first():
    sim = network_sim()
    defection, scale = sim.defection, sim.pars.population.effective_scale
    sim.pars.defection.airlift_persons = 400
    sim.rng = defection.rng = np.random.default_rng(5)
    transit = np.arange(60)
    defection.registry["months"] = np.resize(defection.registry["months"], 60)
    defection.registry["months"][transit] = np.arange(60)[::-1] % 7
    flown = defection._airlifted(transit)
    months = defection.registry["months"]
    assert 0 < len(flown) <= 60 and len(flown) == pytest.approx(400 * scale, abs=8)
    assert months[flown].min() >= np.delete(months, flown).max()


def test_the_2004_airlift_raises_that_years_arrivals():
    # The history's event flies 468 (full scale) out of those in transit in July 2004.
    scenario = jm.load_scenario("history", {"defection.base_hazard": 2e-3})
    events = [event for event in scenario.events if event.name != "airlift_2004"]
    without = scenario.model_copy(update={"events": events})
    runs = [
        jm.Sim(s, population=50_000, start="2004-06", end="2004-08").run()
        for s in (scenario, without)
    ]
    arrivals = [sim.series("arrivals_south_korea") for sim in runs]
    transit = [sim.series("in_transit") for sim in runs]
    june, july = pd.Timestamp("2004-06-01"), pd.Timestamp("2004-07-01")
    assert arrivals[0][june] == arrivals[1][june]  # the same run until July
    assert arrivals[0][july] > arrivals[1][july] and transit[0][july] < transit[1][july]
