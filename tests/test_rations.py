"""Rations from the state's grain: the compiled delivery pass, priority, bad harvests, the
border, the grain-trade ban, the memory of the last ration, and provinces that differ in food."""

import numpy as np
import pytest

import jangmadang as jm
from jangmadang.kernels import in_blocks
from jangmadang.modules.food import grain_deficit
from jangmadang.modules.official_economy_kernels import NEVER, deliver_rations, unit_mouths
from jangmadang.scenario import load_scenario

PERSONS = 20_000
NORTH_EAST = ["North Hamgyong", "South Hamgyong", "Ryanggang", "Chagang", "Kangwon"]


def run(start, end, persons=PERSONS, burn_in=0, scenario="baseline", **overrides):
    """A run of ``scenario``; ``overrides`` name parameters as section__field."""
    keys = {key.replace("__", "."): value for key, value in overrides.items()}
    keys |= {"population.persons": persons, "start": start, "end": end}
    keys["burn_in_months"] = burn_in
    return jm.Sim(load_scenario(scenario, keys)).run()


def series(sim, indicator, window, dimension="all", group="all"):
    return sim.series(indicator, dimension, group)[window]


# -- the compiled pass ---------------------------------------------------------------------------


def test_delivery_kernel_matches_numpy():
    rng = np.random.default_rng(3)
    n, units = 7000, 250
    urban = rng.random(n) < 0.6
    first_claim = rng.random(n) < 0.05
    inminban = np.sort(rng.integers(0, units, n)).astype(np.int32)
    served_first, served_rest = rng.random(units) < 0.9, rng.random(units) < 0.3
    present = rng.integers(0, 7, n).astype(np.int16)
    stock = rng.random(n, dtype=np.float32) * 40
    months = rng.integers(0, 256, n).astype(np.uint8)
    got_stock, got_months, delivered = stock.copy(), months.copy(), np.empty(n, bool)
    in_blocks(
        deliver_rations,
        n,
        delivered,
        got_months,
        got_stock,
        urban,
        first_claim,
        inminban,
        served_first,
        served_rest,
        present,
        9.0,
    )
    expected = urban & np.where(first_claim, served_first[inminban], served_rest[inminban])
    np.testing.assert_array_equal(delivered, expected)
    np.testing.assert_array_equal(
        got_stock, np.where(expected, stock + np.float32(9.0) * present, stock)
    )
    np.testing.assert_array_equal(
        got_months, np.where(expected, 0, np.minimum(months.astype(int) + 1, NEVER))
    )
    assert 0 < expected.sum() < urban.sum()

    first, rest = np.empty(units, np.int64), np.empty(units, np.int64)
    unit_mouths(inminban, urban, first_claim, present, first, rest)
    claim = urban & first_claim
    np.testing.assert_array_equal(first, np.bincount(inminban[claim], present[claim], units))
    other = urban & ~first_claim
    np.testing.assert_array_equal(rest, np.bincount(inminban[other], present[other], units))


# -- priority and what moves the state's grain ----------------------------------------------------


def test_scarce_grain_goes_to_cadres_agents_and_pyongyang_first():
    sim = run(
        "2019-01",
        "2019-03",
        persons=50_000,
        official_economy__procurement_kg_per_person=20.0,
        official_economy__state_imports_kg_per_person=0.0,
        official_economy__food_aid_kg_per_person=0.0,
    )
    hh, oe = sim.households, sim.official_economy
    claim = hh.urban & oe._first_claim()
    other = hh.urban & ~claim
    pyongyang = hh.province == sim.geography.pyongyang
    assert oe.delivered[claim].mean() == 1.0
    assert oe.delivered[other & pyongyang].mean() > 0.95
    assert oe.delivered[other & ~pyongyang].mean() < 0.2
    # Later in the order, not cut off: the deficit north-east gets less than the grain belt.
    share = sim.results
    share = share[(share.indicator == "ration_delivery_share") & (share.dimension == "province")]
    by_province = share.groupby("group").value.mean()
    belt = [n for n, b in zip(sim.geography.names, sim.geography.grain_belt, strict=True) if b]
    assert by_province[belt].mean() > by_province[NORTH_EAST].mean()


def test_a_bad_harvest_cuts_rations_until_the_next_one():
    # 2016: the baseline sets the harvest level itself for 2018 (poor_harvest_2018).
    window = dict(start="2016-08", end="2017-10")
    normal = run(**window)
    bad = run(**window, food__harvest_level=0.85)
    before, after = slice("2016-08", "2016-10"), slice("2016-11", "2017-06")
    for indicator in ("rations_kg_per_person", "ration_delivery_share"):
        assert series(bad, indicator, before).equals(series(normal, indicator, before))
        assert series(bad, indicator, after).mean() < 0.7 * series(normal, indicator, after).mean()
    # Households without a ration for 12 months, counted when all 12 lie after the bad
    # harvest (at 2017-06 the months before it, equal in both runs, still count and the
    # difference is a few households at this size).
    assert (
        series(bad, "households_no_ration_12m_share", "2017-10").iloc[0]
        > series(normal, "households_no_ration_12m_share", "2017-10").iloc[0]
    )


def test_the_border_closure_cuts_imports_aid_and_rations():
    window = dict(start="2019-06", end="2020-12", official_economy__food_aid_kg_per_person=20.0)
    closed = run(**window)
    open_ = run(**window, scenario="no_border_closure")
    during = slice("2020-02", "2020-12")
    assert (
        series(closed, "rations_kg_per_person", during).mean()
        < 0.9 * series(open_, "rations_kg_per_person", during).mean()
    )


def test_a_grain_trade_ban_takes_farm_grain_into_rations():
    window = dict(start="2018-10", end="2019-03")
    free = run(**window)
    banned = run(**window, official_economy__grain_trade_ban=1.0)
    farm = ~free.households.urban
    assert banned.households.food_stock[farm].sum() < 0.97 * free.households.food_stock[farm].sum()
    after = slice("2018-11", "2019-03")
    assert (
        series(banned, "rations_kg_per_person", after).mean()
        > 1.2 * series(free, "rations_kg_per_person", after).mean()
    )


# -- the memory of the last ration ----------------------------------------------------------------


def test_months_since_the_last_ration_follow_households_through_the_yearly_rebuild():
    sim = jm.Sim("baseline", population=PERSONS, start="2019-01", end="2019-02")
    sim.run()  # the burn-in's two yearly rebuilds renumber the households
    oe, hh = sim.official_economy, sim.households
    assert oe.months_since_ration.dtype == np.uint8 and len(oe.months_since_ration) == hh.n
    assert np.all(oe.months_since_ration[oe.delivered] == 0)
    share = series(sim, "households_no_ration_12m_share", "2019-02").iloc[0]
    assert share == pytest.approx((oe.months_since_ration[hh.urban] >= 12).mean())
    assert 0.05 < share < 0.95
    # Pyongyang is supplied first: none of its town households go a year without a ration.
    pyongyang = series(sim, "households_no_ration_12m_share", "2019-02", "province", "Pyongyang")
    assert pyongyang.iloc[0] < 0.05


# -- provinces -----------------------------------------------------------------------------------


def test_grain_belt_farms_get_more_and_deficit_provinces_pay_more():
    sim = run("2019-10", "2019-10")
    geo, food = sim.geography, sim.food
    farm = np.flatnonzero(~sim.households.urban)
    allocation = food.farm_allocation(sim.population.present(), farm)
    belt = geo.grain_belt
    north_east = np.isin(geo.names, NORTH_EAST)
    assert allocation[belt].mean() > allocation[north_east].mean() * 1.1
    deficit = grain_deficit(geo)
    assert deficit[belt].max() < 0.05 and deficit[north_east].min() > 0.1
    assert np.all(food.province_price[north_east] > food.province_price[belt].max())


def test_pyongyang_least_and_the_north_east_most_food_insecure():
    sim = run("2019-01", "2019-12", persons=60_000, burn_in=12)
    df = sim.results
    insecure = df[(df.indicator == "food_insecure_share") & (df.dimension == "province")]
    by_province = insecure.groupby("group").value.mean()
    belt = [n for n, b in zip(sim.geography.names, sim.geography.grain_belt, strict=True) if b]
    assert by_province.idxmin() == "Pyongyang"
    assert by_province[belt].mean() < by_province[NORTH_EAST].mean() - 0.05
