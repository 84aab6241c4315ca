"""The engine: population structure, determinism, money conservation, common random numbers."""

import numpy as np
import pandas as pd
import pytest

import jangmadang as jm
from jangmadang.modules.population import Geography, apportion
from jangmadang.state import HouseholdKind, Role

SMALL = 20_000  # persons; matches the small_run fixture


@pytest.fixture(scope="module")
def sim():
    return jm.Sim("baseline", population=SMALL).init()


def test_population_size_and_provinces_follow_the_census(sim):
    people, hh, geo = sim.people, sim.households, sim.geography
    assert people.n == SMALL
    assert hh.size.sum() == SMALL
    per_province = np.bincount(hh.province, weights=hh.size, minlength=geo.n)
    expected = SMALL * geo.census / geo.census.sum()
    assert np.all(np.abs(per_province - expected) <= 1)
    assert 3.5 < people.n / hh.n < 4.5  # about four persons per household


def test_households_are_contiguous_and_members_point_back(sim):
    people, hh = sim.people, sim.households
    assert np.all(np.diff(people.household) >= 0)
    assert np.array_equal(people.household[hh.first_person], np.arange(hh.n))
    assert np.all(np.diff(hh.province) >= 0)  # households stored by province


def test_inminban_hold_20_to_50_households_of_one_area(sim):
    hh = sim.households
    sizes = np.bincount(hh.inminban)
    assert sizes.min() >= 20 and sizes.max() <= 50
    assert abs(np.median(sizes) - sim.pars.population.households_per_inminban) <= 3
    unit_province = np.bincount(hh.inminban, weights=hh.province) / sizes
    unit_urban = np.bincount(hh.inminban, weights=hh.urban) / sizes
    assert np.all(unit_province == np.rint(unit_province))  # one province per unit
    assert np.all((unit_urban == 0) | (unit_urban == 1))  # all urban or all rural


def test_roles(sim):
    people, hh, p = sim.people, sim.households, sim.pars.population
    n_units = hh.inminban.max() + 1
    heads = people.role == Role.INMINBAN_HEAD
    headed = np.unique(hh.inminban[people.household[heads]])
    assert heads.sum() == len(headed)  # one head a unit
    # A unit without a head lost it to the defectors who had left before the first month.
    unheaded = np.setdiff1d(np.arange(n_units), headed)
    abroad = np.unique(hh.inminban[people.household[people.role == Role.ABROAD]])
    assert len(unheaded) <= 0.02 * n_units and np.isin(unheaded, abroad).all()
    assert (people.role == Role.MSS_AGENT).sum() == round(p.mss_agents * p.effective_scale)
    donju = (hh.kind == HouseholdKind.DONJU).mean()
    assert donju == pytest.approx(p.donju_household_share, abs=0.002)
    working_men = (people.role == Role.WORKER) & ~people.female
    assert working_men.sum() > 0
    traders = people.role == Role.TRADER
    assert people.female[traders].mean() > 0.95  # at the start only married women trade


def test_full_population_shape_without_building_it():
    geo = Geography.load()
    counts = apportion(25_970_000, geo.census.astype(float))
    assert counts.sum() == 25_970_000
    assert geo.border.sum() == 4
    assert set(np.array(geo.names)[geo.border]) == {
        "North Hamgyong",
        "Ryanggang",
        "Chagang",
        "North Pyongan",
    }


def test_same_seed_gives_identical_results_and_another_seed_differs():
    def run(seed):
        return jm.Sim("baseline", population=SMALL, seed=seed, start="2015-01", end="2015-12").run()

    a, b, c = run(7), run(7), run(8)
    pd.testing.assert_frame_equal(a.results, b.results)
    assert not a.results["value"].equals(c.results["value"])


def test_money_is_conserved_every_month():
    sim = jm.Sim("baseline", population=SMALL, start="2019-06", end="2021-06").init()
    total = sim.ledger.total()
    for t, month in enumerate(sim.months):
        sim.step(t, month)
        sim.ledger.check()
        assert sim.ledger.total() == pytest.approx(total, rel=1e-9)
    assert sim.households.cash.min() >= 0


def test_created_minus_destroyed_equals_change_in_household_money(small_run):
    df = small_run.results
    national = df[df.dimension == "all"].pivot(index="date", columns="indicator", values="value")
    change = national["money_in_circulation_usd"].diff().iloc[1:]
    net = (national["money_created_usd"] - national["money_destroyed_usd"]).iloc[1:]
    # Internal accounts (the market) clear every month, so households hold all internal money.
    np.testing.assert_allclose(change, net, rtol=1e-6, atol=1e-3)


def test_common_random_numbers_align_scenarios_until_the_policy_differs():
    base = jm.Sim("baseline", population=SMALL, start="2019-01", end="2020-06").run()
    alt = jm.Sim("no_border_closure", population=SMALL, start="2019-01", end="2020-06").run()
    before = base.results.date < "2020-01-01"
    pd.testing.assert_frame_equal(base.results[before], alt.results[before])
    after = ~before & (base.results.indicator == "food_price_usd_per_kg")
    assert not np.allclose(base.results[after].value, alt.results[after].value)


def test_results_are_tidy_and_cover_required_indicators(small_run):
    df = small_run.results
    assert list(df.columns) == ["date", "indicator", "dimension", "group", "value"]
    assert not df.duplicated(["date", "indicator", "dimension", "group"]).any()
    required = {
        "population",
        "households",
        "households_by_kind",
        "persons_by_role",
        "income_state_usd",
        "income_market_usd",
        "cash_mean_usd",
        "cash_median_usd",
        "gini_income",
        "food_price_usd_per_kg",
        "food_insecure_share",
        "money_created_usd",
        "money_destroyed_usd",
    }
    assert required <= set(df.indicator)
    assert {"all", "province", "household_kind", "flow"} <= set(df.dimension)
    assert df.date.nunique() == 36
    provinces = df[(df.indicator == "food_insecure_share") & (df.dimension == "province")]
    assert provinces.group.nunique() == 10


def test_burn_in_months_are_simulated_but_not_recorded():
    sim = jm.Sim("baseline", population=5_000, start="2016-01", end="2016-03")
    assert len(sim.scenario.burn_in) == 24
    sim.run()
    assert sim.results.date.min() == pd.Timestamp("2016-01-01")
