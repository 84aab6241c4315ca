"""Markets that grow and shrink with tolerance, fee-paying traders, border trade, and the 2009
currency redenomination (jangmadang/modules/markets.py, jangmadang/modules/currency.py)."""

import numpy as np
import pytest

import jangmadang as jm
from jangmadang import kernels, streams
from jangmadang.kernels import uniforms32_at
from jangmadang.state import AgeBand, HouseholdKind, Role

PERSONS = 20_000

REDENOMINATION = """
extends = "baseline"
name = "redenomination_test"
start = "2009-09"
end = "2010-04"
burn_in_months = 6

[[events]]
name = "redenomination"
start = "2009-12"
end = "2010-01"
set = { "currency.redenomination" = true }
"""

CRACKDOWN = """
extends = "baseline"
name = "crackdown_test"
start = "2012-01"
end = "2013-12"
burn_in_months = 6

[[events]]
name = "crackdown"
start = "2012-04"
set = { "markets.tolerance" = 0.2 }
"""


def scenario(tmp_path, text: str):
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def baseline():
    """Two years of the baseline: enough for the fee-payers and the border provinces."""
    return jm.Sim("baseline", population=50_000, start="2012-01", end="2013-12").run()


def test_redenomination_wipes_cash_above_the_limit_and_conserves_money(tmp_path):
    sim = jm.Sim(scenario(tmp_path, REDENOMINATION), population=PERSONS)  # checks money monthly
    sim.run(until="2009-11")
    hh, p = sim.households, sim.scenario.params_at(3).currency
    before = hh.cash.copy()
    limit = p.exchange_limit_usd * sim.population.present()
    donju = hh.kind == HouseholdKind.DONJU
    sim.pars = sim.scenario.params_at(3)  # 2009-12: the reform's parameters
    sim.currency._exchange()
    lost = before - hh.cash
    assert np.all(lost[before <= limit] == 0)
    above = before > limit
    kept_foreign = np.where(donju, p.donju_foreign_currency_share, p.foreign_currency_share)
    expected = (before - limit) * (1 - kept_foreign)
    assert np.allclose(lost[above], expected[above])
    assert sim.currency.wiped_usd == pytest.approx(lost.sum())


def test_redenomination_closes_markets_for_two_months_then_they_reopen(tmp_path):
    sim = jm.Sim(scenario(tmp_path, REDENOMINATION), population=PERSONS).run()
    loss = sim.series("redenomination_loss_usd")
    assert loss["2009-12-01"] > 0 and loss.drop(loss.index[3]).eq(0).all()
    flows = sim.results.query("indicator == 'money_destroyed_usd' and group == 'redenomination'")
    assert flows.value.sum() == pytest.approx(loss.sum())
    open_share = sim.series("market_open_share")
    closure = sim.pars.currency.closure_trade_share
    assert list(open_share["2009-11":"2010-02"]) == [1.0, closure, closure, 1.0]
    cash = sim.series("cash_mean_usd")
    assert cash["2009-12-01"] < 0.95 * cash["2009-11-01"]
    # Scarcity raises goods prices at once; sales fall while the markets are closed.
    price = sim.series("goods_price_index")
    assert price["2009-12-01"] > 1.2 * price["2009-11-01"]
    sales = sim.series("market_sales_usd")
    assert sales["2009-12-01"] < 0.8 * sales["2009-11-01"]
    assert sales["2010-03-01"] > sales["2009-12-01"]


def test_a_crackdown_shrinks_the_market_over_months_and_pushes_traders_out(tmp_path):
    calm = jm.Sim(scenario(tmp_path, CRACKDOWN.replace("0.2 }", "1.0 }")), population=PERSONS)
    calm.run()
    hit = jm.Sim(scenario(tmp_path, CRACKDOWN), population=PERSONS).run()
    scale = hit.series("market_scale")
    assert scale["2012-03-01"] == 1.0
    assert 0.8 < scale["2012-04-01"] < 1.0  # a lag, not a jump
    assert scale["2013-12-01"] < 0.3
    assert calm.series("market_scale").eq(1.0).all()

    def traders(sim):
        rows = sim.results.query("indicator == 'persons_by_role' and group == 'trader'")
        return rows.set_index("date").value

    assert traders(hit).iloc[-1] < 0.6 * traders(calm).iloc[-1]
    assert traders(hit).iloc[2] == traders(calm).iloc[2]  # same seed: identical before
    late = slice("2013-01", "2013-12")
    assert (
        hit.series("market_sales_usd")[late].mean() < calm.series("market_sales_usd")[late].mean()
    )
    assert hit.series("exempt_worker_share").iloc[-1] < calm.series("exempt_worker_share").iloc[-1]
    # Confiscation is at once: a money sink only where tolerance is below 1.
    assert calm.series("market_confiscation_usd").eq(0).all()
    assert hit.series("market_confiscation_usd")["2012-04-01"] > 0


def test_markets_not_tolerated_at_all_sell_a_trickle_at_high_prices():
    """Tolerance 0 from the start (its range's low end, which the screening samples): the
    market's scale is 0, yet goods on offer stay positive, so prices stay finite (a division
    by zero before)."""
    window = {"population": {"persons": 2_000}, "start": "2012-01", "end": "2012-06"}
    low = jm.Sim(jm.load_scenario("baseline", {**window, "markets": {"tolerance": 0.0}})).run()
    full = jm.Sim(jm.load_scenario("baseline", window)).run()
    assert low.series("market_scale").eq(0).all()
    price = low.series("goods_price_index")
    assert np.isfinite(price).all() and (price > 10 * full.series("goods_price_index")).all()
    # What markets still sell is food and second-hand goods, not the goods trade.
    assert (low.series("market_sales_usd") < 0.25 * full.series("market_sales_usd")).all()


def test_fee_paying_traders_earn_at_least_the_wage_plus_the_fee(baseline):
    late = slice("2013-01", "2013-12")
    income = baseline.series("income_per_fee_payer_usd")[late].mean()
    assert income >= baseline.series("wage_plus_fee_usd")[late].mean()
    # ... while the average trader earns less: those who pay are those whose trade pays.
    assert baseline.series("income_per_trader_usd")[late].mean() < income


def border_ratio(sim) -> float:
    """Market income per household, border provinces over the interior (not Pyongyang)."""
    geo = sim.geography
    rows = sim.results.query("indicator == 'income_market_usd' and dimension == 'province'")
    mean = rows[rows.date >= rows.date.max().replace(month=1)].groupby("group").value.mean()
    border = [name for name, b in zip(geo.names, geo.border, strict=True) if b]
    interior = [n for n in geo.names if n not in border and n != "Pyongyang"]
    return mean[border].mean() / mean[interior].mean()


def test_border_provinces_earn_more_from_markets_through_the_import_margin(baseline, tmp_path):
    text = 'extends = "baseline"\nname = "t"\n[markets]\nborder_wholesale_share = 0.0\n'
    without = jm.Sim(scenario(tmp_path, text), population=50_000, end="2013-12").run()
    assert border_ratio(baseline) > 1.1
    assert border_ratio(baseline) > border_ratio(without) + 0.1


def test_women_trade_in_proportion_to_tolerance_at_the_start(tmp_path):
    shares = []
    for tolerance in (1.0, 0.4):
        text = f'extends = "baseline"\nname = "t"\n[markets]\ntolerance = {tolerance}\n'
        sim = jm.Sim(scenario(tmp_path, text), population=PERSONS, end="2012-01").init()
        people = sim.people
        adult_wives = people.female & people.married & (people.age_band == AgeBand.ADULT)
        shares.append(np.mean(people.role[adult_wives] == Role.TRADER))
        assert sim.markets.scale == tolerance
    expected = jm.Sim("baseline").pars.population.married_women_trader_share
    assert shares[0] == pytest.approx(expected, abs=0.05)
    assert shares[1] == pytest.approx(0.4 * expected, abs=0.05)


def test_women_draws_are_the_counter_based_uniforms_of_each_person():
    key = streams.key(1, "markets", None, "women")
    chosen = kernels.indices_below(key, 5_000, 0.3)
    persons = np.arange(0, 5_000, 7)  # any subset draws the same values
    drawn = persons[uniforms32_at(key, persons) < np.float32(0.3)]
    assert np.array_equal(drawn, np.intersect1d(chosen, persons))
