"""Markets that grow and shrink with tolerance, fee-paying traders, border trade, and the 2009
currency redenomination (jangmadang/modules/markets.py, jangmadang/modules/currency.py)."""

import numpy as np
import pytest

import jangmadang as jm
from jangmadang import kernels, streams
from jangmadang.kernels import uniforms32_at
from jangmadang.modules import markets_kernels
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


def test_spending_kernels_match_their_numpy_formulation():
    rng = np.random.default_rng(5)
    n = 3 * kernels.BLOCK + 17
    cash = rng.exponential(400, n) * (rng.random(n) < 0.9)
    blocks = kernels.n_blocks(n)
    desired, sums = np.empty(n), np.empty((blocks, 2))
    kernels.in_blocks(markets_kernels.desired_spending, n, desired, cash, 300.0, 0.2, 0.02, sums)
    ordinary = np.minimum(cash, 300.0)
    expected = ordinary * 0.2 + (cash - ordinary) * 0.02
    assert np.array_equal(desired, expected)
    assert np.allclose(sums.sum(axis=0), [expected.sum(), cash.sum()], rtol=1e-12)
    spending = rng.random(n).astype(np.float32)
    before, cash_before, totals = spending.copy(), cash.copy(), np.empty(blocks)
    kernels.in_blocks(markets_kernels.buy_goods, n, desired, spending, cash, totals, 0.7)
    assert np.array_equal(desired, expected * 0.7)
    before += expected * 0.7
    assert np.array_equal(spending, before)
    assert np.array_equal(cash, cash_before - expected * 0.7)
    assert np.allclose(totals.sum(), (expected * 0.7).sum(), rtol=1e-12)


@pytest.mark.parametrize("sorted_provinces", [True, False])
def test_selling_kernels_match_their_numpy_formulation(sorted_provinces):
    rng = np.random.default_rng(6)
    n, provinces = 4 * kernels.BLOCK + 5, 5
    traders = rng.integers(0, 3, n).astype(np.uint8)
    skill = rng.lognormal(0, 0.5, n).astype(np.float32)
    kind = rng.integers(0, 4, n).astype(np.int8)
    donju = 3
    cash = rng.normal(2_000, 5_000, n)
    patronage = (rng.random(n) * (rng.random(n) < 0.3)).astype(np.float32)
    province = rng.integers(0, provinces, n).astype(np.int8)
    if sorted_provinces:
        province.sort()
    blocks = kernels.n_blocks(n)
    sellers = np.empty(blocks, dtype=np.int64)
    kernels.in_blocks(markets_kernels.count_sellers, n, traders, kind, donju, sellers)
    may_sell = (traders > 0) | (kind == donju)
    assert np.array_equal(sellers, np.add.reduceat(may_sell, np.arange(0, n, kernels.BLOCK)))
    first_seller = np.concatenate(([0], np.cumsum(sellers)))
    luck = np.append(rng.lognormal(-0.125, 0.5, first_seller[-1]), 0.0).astype(np.float32)
    capacity, weight = np.empty(n), np.empty(n)
    local_capacity, local_weight = np.empty((blocks, provinces)), np.empty((blocks, provinces))
    donju_rows = np.flatnonzero(kind == donju)
    capital = 46.0 * np.power(np.maximum(cash[donju_rows], 0) / 10_000.0, 0.35)
    first_donju = np.searchsorted(donju_rows, np.arange(blocks) * kernels.BLOCK)
    kernels.in_blocks(
        markets_kernels.selling_weights,
        n,
        capacity,
        weight,
        traders,
        skill,
        donju_rows,
        capital,
        first_donju,
        patronage,
        province,
        luck,
        first_seller,
        local_capacity,
        local_weight,
    )
    expected = traders.astype(np.float64) * skill
    d = kind == donju
    expected[d] += 46.0 * np.power(np.maximum(cash[d], 0) / 10_000.0, 0.35)
    expected[d] *= 1 + patronage[d]
    assert np.array_equal(capacity, expected)
    expected_weight = np.zeros(n)
    expected_weight[may_sell] = capacity[may_sell] * luck[:-1]
    assert np.array_equal(weight, expected_weight)
    for local, values in ((local_capacity, expected), (local_weight, expected_weight)):
        assert np.allclose(local.sum(axis=0), np.bincount(province, values, provinces))

    rate = rng.random(provinces)
    exempt_count = (rng.integers(0, 3, n) * (rng.random(n) < 0.1)).astype(np.uint8)
    local_paid, fee_payers = np.empty((blocks, provinces)), np.empty((blocks, 2))
    income = rng.random((n, 4)).astype(np.float32)
    cash_before, income_before = cash.copy(), income.copy()
    kernels.in_blocks(
        markets_kernels.pay_traders,
        n,
        weight,
        province,
        rate,
        exempt_count,
        skill,
        capacity,
        local_paid,
        fee_payers,
        cash,
        income[:, 1],
    )
    paid = expected_weight * rate[province]
    assert np.array_equal(weight, paid)
    assert np.array_equal(cash, cash_before + paid)
    income_before[:, 1] += paid
    assert np.array_equal(income, income_before)
    assert np.allclose(local_paid.sum(axis=0), np.bincount(province, paid, provinces))
    payer_income = exempt_count * paid * skill / np.maximum(capacity, 1e-12)
    assert np.allclose(fee_payers.sum(axis=0), [payer_income.sum(), exempt_count.sum()])


def test_review_kernels_match_their_numpy_formulation():
    rng = np.random.default_rng(7)
    n, provinces = 50_000, 4
    female, married, exempt = (rng.random((3, n)) < [[0.5], [0.6], [0.1]]).astype(bool)
    age_band = rng.integers(0, len(AgeBand), n).astype(np.int8)
    role = rng.choice([Role.WORKER, Role.FARMER, Role.TRADER, Role.DONJU], n).astype(np.int8)
    propensity = rng.integers(1, 256, n).astype(np.uint8)
    reviewing = np.flatnonzero(rng.random(n) < 0.2)
    outcome = np.empty(len(reviewing), dtype=np.int8)
    young, middle = int(AgeBand.YOUNG), int(AgeBand.MIDDLE)
    trader, worker, farmer = int(Role.TRADER), int(Role.WORKER), int(Role.FARMER)
    kernels.in_ranges(
        markets_kernels.review_women,
        len(reviewing),
        outcome,
        reviewing,
        female,
        married,
        age_band,
        exempt,
        role,
        propensity,
        young,
        middle,
        trader,
        worker,
        farmer,
        0.4,
    )
    r = reviewing
    women = female[r] & married[r] & (age_band[r] >= young) & (age_band[r] <= middle) & ~exempt[r]
    share = (propensity[r].astype(np.float32) - np.float32(0.5)) / np.float32(255)
    trades = share < np.float32(0.4)
    stop = women & (role[r] == trader) & ~trades
    start = women & ((role[r] == worker) | (role[r] == farmer)) & trades
    assert stop.any() and start.any()
    assert np.array_equal(outcome == markets_kernels.STOP_TRADING, stop)
    assert np.array_equal(outcome == markets_kernels.START_TRADING, start)

    household = (np.arange(n) // 4).astype(np.int32)
    province = rng.integers(0, provinces, n // 4 + 1).astype(np.int8)
    skill = rng.lognormal(0, 0.5, n // 4 + 1).astype(np.float32)
    expected = rng.random(provinces) * 200
    perception = np.exp(rng.normal(-0.005, 0.1, len(reviewing)))
    kernels.in_ranges(
        markets_kernels.review_workers,
        len(reviewing),
        outcome,
        reviewing,
        perception,
        household,
        province,
        skill,
        expected,
        exempt,
        role,
        age_band,
        worker,
        middle,
        100.0,
    )
    h = household[r]
    gain = expected[province[h]] * skill[h] * perception - 100.0
    quit_ = exempt[r] & (gain < 0)
    join = ~quit_ & (role[r] == worker) & (age_band[r] <= middle) & (gain > 0)
    assert quit_.any() and join.any()
    assert np.array_equal(outcome == markets_kernels.STOP_TRADING, quit_)
    assert np.array_equal(outcome == markets_kernels.START_TRADING, join)
