"""Remittances: every dollar from a defector is accounted for along the broker chain, and the
patterns of 002 and 004 emerge (share who send, amounts, envied families, closure effects)."""

import numpy as np
import pytest

import jangmadang as jm

PERSONS = 1_000_000


@pytest.fixture(scope="module")
def pair():
    kw = dict(population=PERSONS, start="2016-01", end="2022-12")
    return jm.Sim("baseline", **kw).run(), jm.Sim("no_border_closure", **kw).run()


def national(sim, indicator, window):
    return sim.series(indicator)[window]


def test_every_remitted_dollar_is_sent_kept_seized_or_delivered(pair):
    for sim in pair:
        sent = national(sim, "remittances_sent_usd", slice(None))
        fees = national(sim, "remittance_broker_fees_usd", slice(None))
        seized = national(sim, "remittances_seized_usd", slice(None))
        received = national(sim, "remittances_received_usd", slice(None))
        np.testing.assert_allclose(sent, fees + seized + received, rtol=1e-9)
        df = sim.results
        delivered = df[(df.indicator == "money_created_usd") & (df.group == "remittance_delivered")]
        np.testing.assert_allclose(delivered.value.sum(), received.sum(), rtol=1e-9)


def test_about_62_percent_of_defectors_send_money_in_a_year(pair):
    # 002: 62% of defectors surveyed had sent money home in 2018.
    share = national(pair[1], "defectors_sent_last_12_months_share", slice("2018-12", "2018-12"))
    assert 0.5 < share.iloc[0] < 0.75


def test_yearly_amounts_per_remitter_mostly_between_500_and_2000_dollars(pair):
    sim = pair[1]
    transfer = sim.remittances.transfer[sim.remittances.remitter]
    yearly = transfer * sim.pars.remittances.transfers_per_year
    inside = ((yearly >= 500) & (yearly <= 2000)).mean()
    assert inside > 0.7


def test_families_with_relatives_abroad_consume_more_from_the_mid_2010s(pair):
    # 002, 004: families of defectors live well and are envied as money masters.
    for sim in pair:
        with_ = sim.series("spending_usd", "relatives_abroad", "with")["2016":"2019"]
        without = sim.series("spending_usd", "relatives_abroad", "without")["2016":"2019"]
        assert with_.mean() > 1.3 * without.mean()


def test_closure_cuts_remittances_and_raises_the_brokers_share(pair):
    closed, open_ = pair
    window = slice("2020-03", "2022-12")
    assert (
        national(closed, "remittances_received_usd", window).sum()
        < 0.5 * national(open_, "remittances_received_usd", window).sum()
    )
    assert (
        national(closed, "broker_share_of_transfers", window).mean()
        > national(open_, "broker_share_of_transfers", window).mean() + 0.1
    )
    before = slice("2016-01", "2019-12")
    assert national(closed, "remittances_received_usd", before).equals(
        national(open_, "remittances_received_usd", before)
    )


def test_remittances_are_household_income(pair):
    sim = pair[1]
    assert sim.series("income_remittance_usd")["2018"].mean() > 0


def test_plot_stacks_where_each_remitted_dollar_went(pair, tmp_path):
    from jangmadang.plotting import plot_run

    sim = pair[0]
    path = plot_run(sim.results, sim.scenario.events, tmp_path / "flows.png", ["remittance_flows"])
    assert path.stat().st_size > 10_000
