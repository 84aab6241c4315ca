"""State security: agents live off defector families, more so at the border and when ordered
to watch them closely (004_50cf4b8f26c8f34a.txt)."""

import numpy as np
import pytest

import jangmadang as jm

PERSONS = 1_000_000
SEEDS = (1, 2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenarios")
    without = folder / "no_order.toml"
    without.write_text('extends = "baseline"\nremove_events = ["surveillance_order_2018"]\n')
    out = {}
    for seed in SEEDS:
        for name, scenario in (("order", "baseline"), ("no_order", without)):
            out[name, seed] = jm.Sim(
                scenario, population=PERSONS, seed=seed, start="2017-01", end="2019-06"
            ).run()
    return out


def test_border_agents_take_more_than_interior_agents(runs):
    for seed in SEEDS:
        sim = runs["order", seed]
        border = sim.series("agent_bribe_income_usd", "border", "border").mean()
        interior = sim.series("agent_bribe_income_usd", "border", "interior").mean()
        assert border > 2 * interior


def test_a_surveillance_order_raises_agents_bribe_income(runs):
    for seed in SEEDS:
        window = slice("2018-04", "2018-09")
        with_order = runs["order", seed].series("agent_bribe_income_usd")[window].mean()
        without = runs["no_order", seed].series("agent_bribe_income_usd")[window].mean()
        assert with_order > 1.2 * without
        before = slice("2017-01", "2018-03")
        assert (
            runs["order", seed]
            .series("agent_bribe_income_usd")[before]
            .equals(runs["no_order", seed].series("agent_bribe_income_usd")[before])
        )


def test_agents_earn_more_from_families_than_from_the_state(runs):
    sim = runs["no_order", 1]
    wage = sim.pars.official_economy.wage_usd * sim.pars.official_economy.mss_wage_multiplier
    border = sim.series("agent_bribe_income_usd", "border", "border").mean()
    assert border > wage


def test_agents_cut_is_part_of_what_families_receive(runs):
    sim = runs["no_order", 1]
    cuts = sim.series("agent_remittance_cuts_usd")
    received = sim.series("remittances_received_usd")
    assert 0 < cuts.sum() <= sim.pars.security.remittance_cut * received.sum() * (1 + 1e-6)
    df = sim.results
    flows = df[(df.indicator == "money_flow_usd") & (df.group.str.startswith("agent_"))]
    assert set(flows.group) == {"agent_remittance_cut", "agent_bribe", "agent_errand_fee"}
    assert np.isfinite(flows.value).all()
