"""The shared enforcement function: detection, buying one's way out, and each sanction."""

import numpy as np
import pytest

import jangmadang as jm
from jangmadang.modules.enforcement import (
    BRIBE,
    DISMISSAL,
    EXILE,
    FINE,
    LABOUR_CAMP,
    OUTCOMES,
    Sentence,
)
from jangmadang.state import CADRE_ROLES, Role


def fresh_sim(seed=1, **enforcement):
    """An initialised (not run) small simulation, with enforcement parameters overridden."""
    scenario = jm.load_scenario("baseline", {"seed": seed, "population": {"persons": 20_000}})
    if enforcement:
        data = scenario.model_dump()
        data["enforcement"].update(enforcement)
        scenario = jm.Scenario.model_validate(data)
    sim = jm.Sim(scenario).init()
    sim.enforcement.declare("test_offence")
    return sim


def adults_in(sim, roles, n, urban=None):
    people, hh = sim.people, sim.households
    ok = np.isin(people.role, roles)
    if urban is not None:
        ok &= hh.urban[people.household] == urban
    chosen = np.flatnonzero(ok)
    chosen = chosen[np.r_[True, np.diff(people.household[chosen]) > 0]]  # one per household
    return chosen[:n]


def test_labour_camp_holds_people_away_then_returns_them_to_a_job():
    sim = fresh_sim(bribe_acceptance=0.0)
    persons = adults_in(sim, [Role.TRADER], 20)
    outcome = sim.enforcement.punish(
        "test_offence", persons, Sentence(fine_usd=10, camp=1.0, camp_months=3)
    )
    assert (outcome == LABOUR_CAMP).all()
    assert (sim.people.role[persons] == Role.DETAINED).all()
    present_before = sim.population.present()[sim.people.household[persons]]
    sim.ledger.check()

    months = sim.scenario.burn_in + sim.scenario.months
    for t, month in enumerate(months[1:3], start=1 - len(sim.scenario.burn_in)):
        sim.step(t, month)
    assert (sim.people.role[persons] == Role.DETAINED).all()  # months 0, 1, 2 of the term
    sim.step(3 - len(sim.scenario.burn_in), months[3])
    roles = sim.people.role[persons]  # an assigned job (some pay at once to trade instead)
    people, life = sim.people, sim.pars.demography
    age = (sim.population.month_index - people.birth_month[persons]) // 12
    retired = age >= life.retirement_age(people.female[persons])
    assert np.isin(roles[~retired], [Role.WORKER, Role.FARMER, Role.TRADER]).all()
    assert (roles[retired] == Role.DEPENDANT).all()  # past retirement age: home, not to work
    assert not np.isin(persons, sim.enforcement.camp_person).any()  # others may be sentenced
    assert (sim.population.present()[sim.people.household[persons]] >= present_before).all()


def test_an_inmate_who_dies_leaves_the_camp_that_month():
    sim = fresh_sim(bribe_acceptance=0.0)
    persons = adults_in(sim, [Role.TRADER], 10)
    sim.enforcement.punish("test_offence", persons, Sentence(fine_usd=10, camp=1.0, camp_months=6))
    sim.population.set_role(persons[:3], Role.DECEASED)  # as demography does, before enforcement
    sim.enforcement.step()
    assert not np.isin(persons[:3], sim.enforcement.camp_person).any()
    assert np.isin(persons[3:], sim.enforcement.camp_person).all()
    detained = np.flatnonzero(sim.people.role == Role.DETAINED)
    assert np.array_equal(np.sort(sim.enforcement.camp_person), detained)


def test_exile_moves_households_to_the_countryside():
    sim = fresh_sim(bribe_acceptance=0.0)
    hh, people = sim.households, sim.people
    persons = adults_in(sim, [Role.WORKER, *CADRE_ROLES], 30, urban=True)
    households = people.household[persons]
    province = hh.province[households].copy()
    outcome = sim.enforcement.punish("test_offence", persons, Sentence(fine_usd=10, exile=1.0))
    assert (outcome == EXILE).all()
    assert not hh.urban[households].any()
    assert (hh.province[households] == province).all()
    rural_units = set(hh.inminban[~hh.urban & ~np.isin(np.arange(hh.n), households)])
    assert set(hh.inminban[households]) <= rural_units
    members = sim.population.members(households)
    assert not np.isin(people.role[members], [Role.WORKER, *CADRE_ROLES]).any()
    assert set(households) <= set(sim.population.rural)
    assert np.array_equal(sim.population.rural, np.flatnonzero(~hh.urban))


def test_dismissal_takes_posts_and_fines_the_rest():
    sim = fresh_sim(bribe_acceptance=0.0)
    cadres = adults_in(sim, list(CADRE_ROLES), 20)
    traders = adults_in(sim, [Role.TRADER], 20)
    persons = np.concatenate([cadres, traders])
    cash_before = sim.households.cash[sim.people.household[traders]].copy()
    outcome = sim.enforcement.punish("test_offence", persons, Sentence(fine_usd=5, dismissal=1.0))
    assert (outcome[: len(cadres)] == DISMISSAL).all()
    assert (outcome[len(cadres) :] == FINE).all()
    assert np.isin(sim.people.role[cadres], [Role.WORKER, Role.FARMER]).all()
    paid = cash_before - sim.households.cash[sim.people.household[traders]]
    assert np.allclose(paid, np.minimum(5, cash_before))
    sim.ledger.check()


def test_rich_offenders_buy_their_way_out_and_agents_pocket_it():
    sim = fresh_sim(bribe_acceptance=1.0, escape_price_multiple=10.0)
    hh, people = sim.households, sim.people
    persons = adults_in(sim, [Role.TRADER], 40)
    households = people.household[persons]
    hh.cash[households[:20]] = 0.0  # the first half cannot pay
    hh.cash[households[20:]] = np.maximum(hh.cash[households[20:]], 500.0)
    sim.ledger.start()  # conservation from these balances on
    agents = np.flatnonzero(people.role == Role.MSS_AGENT)
    agents_cash = hh.cash[people.household[agents]].sum()
    outcome = sim.enforcement.punish(
        "test_offence", persons, Sentence(fine_usd=20, camp=1.0, camp_months=6)
    )
    assert (outcome[:20] == LABOUR_CAMP).all()
    assert (outcome[20:] == BRIBE).all()
    assert sim.enforcement.bribes == pytest.approx(20 * 10 * 20)
    assert hh.cash[people.household[agents]].sum() > agents_cash
    sim.ledger.check()


def test_harshness_zero_leaves_only_fines_and_bribes():
    sim = fresh_sim(harshness=0.0)
    persons = adults_in(sim, [Role.WORKER, *CADRE_ROLES], 50)
    sentence = Sentence(fine_usd=20, camp=0.5, camp_months=6, exile=0.3, dismissal=0.2)
    outcome = sim.enforcement.punish("test_offence", persons, sentence)
    assert np.isin(outcome, [FINE, BRIBE]).all()


def test_detection_rises_with_surveillance_and_falls_with_protection():
    def share(households, protected=None, **enforcement):
        sim = fresh_sim(informer_rate=0.0, **enforcement)
        return sim.enforcement.detect(households, 0.3, protected).mean()

    sim = fresh_sim()
    households = np.repeat(np.arange(sim.households.n), 5)
    base = share(households)
    assert share(households, surveillance_intensity=2.0) > 1.5 * base
    assert share(households, np.ones(len(households), dtype=bool)) < 0.5 * base
    border = sim.geography.border[sim.households.province[households]]
    detected = fresh_sim(informer_rate=0.0).enforcement.detect(households, 0.3)
    assert detected[border].mean() > detected[~border].mean()


def test_punishments_are_reported_by_type_offence_role_and_province():
    # Years of many departures, so that some returnees are caught and sent to a camp.
    sim = jm.Sim("baseline", population=300_000, seed=3, start="2012-01", end="2014-12").run()
    df = sim.results[sim.results.indicator == "punishments"]
    total = df[df.dimension == "all"].value.sum()
    assert total > 0
    for dimension in ("type", "offence", "role", "province"):
        assert df[df.dimension == dimension].value.sum() == total
    assert set(df[df.dimension == "type"].group) == set(OUTCOMES)
    assert {"returned_defector", "reported_defector_family", "remittance_seized"} <= set(
        df[df.dimension == "offence"].group
    )
    camp = sim.series("labour_camp_population")
    assert (camp.to_numpy() == 0).sum() < len(camp)
