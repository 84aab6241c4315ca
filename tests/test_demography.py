"""Demography: schedules against the census, persons that balance every month, and a rebuilt
population whose arrays keep their layout and whose money is conserved."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

import jangmadang as jm
from jangmadang.modules.demography import (
    AGES,
    DemographyParams,
    census_structure,
    life_expectancy,
    mortality_schedule,
    period_life_expectancy,
    projected_population,
    projected_structure,
)
from jangmadang.modules.population import _role_counts
from jangmadang.state import AGE_BAND_STARTS, Role, age_bands

MARRIAGE_RATE = 0.15  # loyalty.marriage_rate's default


@pytest.fixture(scope="module")
def run():
    """Three years at 20,000 persons: three yearly rebuilds (April 2011, 2012, 2013)."""
    sim = jm.Sim("baseline", population=20_000, start="2011-01", end="2013-12", seed=4)
    return sim.run()


def series(sim, indicator, dimension="all", group="all"):
    return sim.series(indicator, dimension, group).to_numpy()


@pytest.mark.parametrize("female, target", [(False, 65.6), (True, 72.7)])
def test_mortality_schedule_gives_the_census_life_expectancy(female, target):
    hazards = mortality_schedule(DemographyParams(), female)
    assert life_expectancy(hazards) == pytest.approx(target, abs=0.01)
    assert 1 - np.exp(-hazards[0]) == pytest.approx(0.0193, rel=0.15)  # infant mortality
    assert np.all(np.diff(hazards[10:]) > 0)  # rising with age after childhood


def test_abridged_life_table_agrees_with_the_single_year_one():
    hazards = mortality_schedule(DemographyParams(), female=True)
    exposure = np.full(len(AGES), 1_000_000.0)
    deaths = exposure * hazards / 12  # a month's deaths at these hazards
    assert period_life_expectancy(deaths, exposure) == pytest.approx(72.7, abs=1.0)


def test_census_structure_holds_the_census_groups_and_sex_ratios():
    p = DemographyParams()
    counts = census_structure(p)
    total = counts.sum()
    assert total == pytest.approx(24_052_231)
    assert counts[:, AGES < 15].sum() / total == pytest.approx(0.232)
    assert counts[:, AGES >= 65].sum() / total == pytest.approx(0.087)
    assert counts[0].sum() / counts[1].sum() == pytest.approx(0.95)
    assert counts[0, AGES >= 65].sum() / counts[1, AGES >= 65].sum() == pytest.approx(0.51)


def test_projection_reaches_the_2021_population():
    persons = projected_population(DemographyParams(), MARRIAGE_RATE, date(2021, 7, 1))
    assert persons == pytest.approx(25_970_000, rel=0.03)


def test_back_projection_reaches_the_2001_population_from_the_census_cohorts():
    """Reverse survival: UN WPP puts 2001 at about 23 million; each cohort of 2001 is the
    census cohort seven years and nine months older, plus the deaths it had not yet had."""
    p = DemographyParams()
    census = projected_structure(p, MARRIAGE_RATE, p.census_month)
    early = projected_structure(p, MARRIAGE_RATE, date(2001, 1, 1))
    assert early.sum() == pytest.approx(23.0e6, rel=0.03)
    shift = 12 * 7 + 9
    assert np.all(early[:, : 12 * 60] > census[:, shift : shift + 12 * 60])
    assert np.all(early[:, : 12 * 40] < 1.1 * census[:, shift : shift + 12 * 40])


def test_full_scale_is_the_census_projected_to_the_first_simulated_month():
    early = jm.load_scenario("baseline", {"start": "2009-01"})
    late = jm.load_scenario("baseline", {"start": "2016-01"})
    assert early.population.size_at_full_scale < late.population.size_at_full_scale
    assert early.population.size == round(0.01 * early.population.size_at_full_scale)


def test_persons_balance_every_month(run):
    population = series(run, "population")
    births, deaths = series(run, "births"), series(run, "deaths")
    departures, returns = series(run, "defections"), series(run, "captured_in_transit")
    change = births - deaths - departures + returns
    np.testing.assert_array_equal(np.diff(population), change[1:])
    assert births.sum() > 0 and deaths.sum() > 0


def test_rebuilt_arrays_keep_their_layout(run):
    people, hh = run.people, run.households
    assert len(people.household) == people.n == hh.size.sum()
    np.testing.assert_array_equal(hh.first_person, np.cumsum(hh.size) - hh.size)
    np.testing.assert_array_equal(
        people.household, np.repeat(np.arange(hh.n), hh.size.astype(np.int64))
    )
    assert np.all(np.diff(hh.province) >= 0)  # households stay in province order
    assert np.all(hh.size > 0)
    counts = _role_counts(people.role, people.household, hh.first_person, hh.size)
    np.testing.assert_array_equal(counts, run.population.role_count)
    for struct in (people, hh):
        for name, array in struct.fields.items():
            assert len(array) == struct.n, name


def test_ages_and_the_life_course_follow_the_calendar(run):
    people, p = run.people, run.pars.demography
    age = (run.population.month_index - people.birth_month) // 12
    assert age.min() >= 0
    # Bands are set at the rebuild (April 2013); by December a few have had a birthday since.
    stale = age_bands(age) != people.age_band
    assert stale.mean() < 0.1
    retirement = p.retirement_age(people.female)
    worker = np.isin(people.role, (Role.WORKER, Role.FARMER)) | people.exempt
    # Retirement is applied once a year: at most a year past the age.
    assert np.all(age[worker] <= retirement[worker])
    assert np.all(age[worker] >= p.school_leaving_age - 1)
    assert not np.any(people.role == Role.DECEASED) or run.month.month != 4


def test_rebuild_removes_the_dead_and_moves_couples(run):
    formed = series(run, "households_formed")
    assert formed.sum() > 0
    assert (formed > 0).sum() == 3  # once a year, the month after the marriage round
    assert series(run, "households_dissolved").sum() >= 0
    assert series(run, "marriages_per_1000_unmarried").min() > 0


def test_results_carry_the_demographic_indicators(run):
    df = run.results
    for indicator in (
        "crude_birth_rate",
        "crude_death_rate",
        "total_fertility_rate",
        "household_size_mean",
        "newborns_waiting",
    ):
        assert indicator in set(df.indicator), indicator
    bands = df[(df.indicator == "population") & (df.dimension == "age_band")]
    assert set(bands.group) == {"child", "young", "adult", "middle", "elderly"}
    pyramid = df[(df.indicator == "population") & (df.dimension == "sex_age")]
    assert len(set(pyramid.group)) == 2 * 18
    life = df[df.indicator == "life_expectancy"]
    assert set(life.group) == {"male", "female"}
    assert 50 < life.value.mean() < 85


def test_age_bands_start_where_documented():
    np.testing.assert_array_equal(age_bands(AGE_BAND_STARTS - 1), [0, 1, 2, 3])
    np.testing.assert_array_equal(age_bands(AGE_BAND_STARTS), [1, 2, 3, 4])


def test_hunger_raises_mortality_and_zero_switches_it_off():
    factors = {}
    for strength in (0.0, 3.0):
        sim = jm.Sim("baseline", population=2_000).init()
        sim.pars.demography.hunger_mortality = strength
        factors[strength] = sim.demography._hunger_factors()
    assert factors[0.0] == (1.0, 1.0)
    secure, insecure = factors[3.0]
    assert insecure > 1 > secure


def test_candidate_months_follow_the_bound():
    """With a constant monthly bound q, the months to the next candidate are geometric: mean
    1 / q, and a share q comes the very next month."""
    from jangmadang.modules.demography_kernels import next_candidates

    n, q, now = 200_000, 0.01, 24_000
    rate = -np.log1p(-q)
    width = 12 * 101
    cumulative = np.tile(np.arange(width + 1) * rate, (2, 1))
    birth_month = np.full(n, now - 12 * 30, dtype=np.int16)  # everyone aged 30
    due = np.empty(n, dtype=np.int16)
    next_candidates(
        due, np.arange(n), now, birth_month, np.zeros(n, dtype=bool), cumulative, np.uint64(9)
    )
    wait = due.astype(np.int64) - now
    assert wait.min() == 1
    assert wait.mean() == pytest.approx(1 / q, rel=0.02)
    assert (wait == 1).mean() == pytest.approx(q, rel=0.05)


def test_money_is_conserved_through_every_rebuild():
    """Fourteen rebuilds at 30,000 persons (the ledger checks every month: an estate left in a
    dissolved household, or passed to another one dissolving, would fail the check)."""
    sim = jm.Sim("baseline", population=30_000, seed=1, check_money=True).run()
    assert series(sim, "households_dissolved").sum() > 0


def test_new_households_are_endowed_by_the_family_they_left(monkeypatch):
    """A couple's new household takes its start-up cash from the groom's family: the row just
    before it in the rebuilt order, past any sibling households formed the same year (the
    parent used to be named by its row before the rebuild, so cash came from a stranger)."""
    from jangmadang.modules.demography import Demography

    endowed = []
    endow = Demography._endow

    def recorded(self, created, parent):
        endowed.append((created.copy(), parent.copy(), self.sim.households.n))
        endow(self, created, parent)

    monkeypatch.setattr(Demography, "_endow", recorded)
    jm.Sim("baseline", population=20_000, start="2011-01", end="2012-06", seed=4).run()
    assert endowed and sum(len(created) for created, _, _ in endowed) > 0
    for created, parent, n in endowed:
        is_created = np.zeros(n, dtype=bool)
        is_created[created] = True
        assert not is_created[parent].any()
        for child, family in zip(created, parent, strict=True):
            assert family < child and is_created[family + 1 : child + 1].all()
