"""Demography: ages, births, deaths, and marriages that move people between households.

Each person has a month of birth (``people.birth_month``, a month index in int16), so ages move
with the calendar; ``people.age_band`` is derived from it once a year.

Every month deaths follow an age- and sex-specific schedule, raised in food-insecure households
and in the camps, and births come to married women of 15-49. Both are rare, so each person
carries the month of their next candidate death and birth (``people.death_due``,
``people.birth_due``), drawn from an upper bound of the probability; in that month the
candidate becomes an event with the ratio of the true probability to the bound
(``demography_kernels``, thinning). A month touches only the persons whose candidate is due,
and the persons in the country by age come from the population's cohort counts. A death gives the person the role ``DECEASED``
through ``population.set_role``, so every post they held falls vacant and every tie ends at
once; the row stays until the yearly rebuild. A newborn counts in the population from the month
of birth and waits in a short list (mother, sex, month) for its row.

Once a year, the month after the marriage round, the population is rebuilt: the dead leave,
brides move into the groom's household or the couple sets up a household of its own in the
groom's inminban, newborns join their mother's household, households left with no one dissolve
(their cash goes to the neighbouring household of the inminban, else to the state), and every
module renumbers what it keeps (``Module.renumbered``). Then everyone ages a year of bands:
school leavers take an assigned job, workers of retirement age retire, and vacant posts are
filled (``population.refill_posts``). Persons of a household stay contiguous and households stay
in province order, so the monthly kernels keep their layout.

The population a run starts with is the 2008 census projected by the same schedules to the
first simulated month (:func:`projected_structure`), so a run starting in 2012 has about the
2012 population and grows as the country did; a run starting before the census (the history
from 2001) starts from the census cohorts projected backwards by reverse survival.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from pydantic import Field

from jangmadang import streams
from jangmadang.kernels import in_blocks, in_ranges, uniforms_at
from jangmadang.ledger import HOUSEHOLDS
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.demography_kernels import (
    LEAVES_SCHOOL,
    NEVER,
    RETIRES,
    STOPS_PAYING,
    age_everyone,
    count_stayers,
    due_now,
    nearest_in_unit,
    next_candidates,
    order_households,
    place_arrivals,
    place_stayers,
)
from jangmadang.state import (
    AGE_BAND_STARTS,
    IS_AWAY,
    IS_NOT_HERE,
    AgeBand,
    Renumbering,
    Role,
    age_bands,
    label,
)
from jangmadang.timeline import Month, month_index

OLDEST = 100  # ages in completed years run 0..100, the last one open
AGES = np.arange(OLDEST + 1)
SEXES = ("male", "female")
MARRIAGE_AGE = 18  # no one younger is married (the legal ages are 17 for women, 18 for men)
FERTILE_AGES = (15, 49)
# Five-year age groups of the population pyramid and of the life table (the last one open).
PYRAMID_STARTS = np.arange(0, 90, 5)


class DemographyParams(ParameterModel):
    census_population: int = Field(24_052_231, gt=0)
    census_month: Month = date(2008, 10, 1)
    census_child_share: float = Field(0.232, gt=0, lt=1)
    census_elderly_share: float = Field(0.087, gt=0, lt=1)
    census_men_per_woman: float = Field(0.95, gt=0.5, lt=1.5)
    census_men_per_woman_elderly: float = Field(0.51, gt=0.2, lt=1.5)
    structure_growth_rate: float | None = Field(None, ge=-0.02, le=0.04)  # None: solved
    life_expectancy_men: float = Field(65.6, ge=30, le=90)
    life_expectancy_women: float = Field(72.7, ge=30, le=90)
    infant_mortality: float = Field(0.0193, ge=0, le=0.2)
    infant_mortality_male_ratio: float = Field(1.2, ge=0.8, le=1.6)
    child_mortality_share: float = Field(0.12, ge=0, le=1)
    background_mortality: float = Field(0.0015, ge=0, le=0.01)
    mortality_slope: float = Field(0.075, ge=0.05, le=0.12)
    mortality_improvement_per_year: float = Field(0.01, ge=0, le=0.05)
    hunger_mortality: float = Field(0.5, ge=0, le=3)
    hunger_reference_share: float = Field(0.3, ge=0, le=1)
    total_fertility: float = Field(1.95, ge=0, le=8)
    fertility_peak_age: float = Field(28.0, ge=18, le=40)
    fertility_spread: float = Field(5.0, ge=2, le=12)
    sex_ratio_at_birth: float = Field(1.04, ge=0.9, le=1.2)
    new_household_share: float = Field(0.5, ge=0, le=1)
    new_household_cash_share: float = Field(0.2, ge=0, le=1)
    school_leaving_age: int = Field(17, ge=14, le=20)
    retirement_age_men: int = Field(60, ge=45, le=80)
    retirement_age_women: int = Field(55, ge=45, le=80)

    def retirement_age(self, female: np.ndarray) -> np.ndarray:
        """Each person's retirement age by sex."""
        return np.where(female, self.retirement_age_women, self.retirement_age_men)


# -- schedules ------------------------------------------------------------------------------


def mortality_schedule(p: DemographyParams, female: bool) -> np.ndarray:
    """Annual death hazards by age in completed years (0..OLDEST) for the census year: the
    infant rate, a falling child component, a constant background and a Gompertz slope whose
    level is solved so that the schedule's life expectancy is the census one."""
    share_male = p.sex_ratio_at_birth / (1 + p.sex_ratio_at_birth)
    male_infant = p.infant_mortality / (
        share_male + (1 - share_male) / p.infant_mortality_male_ratio
    )
    infant = male_infant / p.infant_mortality_male_ratio if female else male_infant
    target = p.life_expectancy_women if female else p.life_expectancy_men

    def hazards(level: float) -> np.ndarray:
        h = p.background_mortality + level * np.exp(p.mortality_slope * (AGES - 60.0))
        h[1:] += p.child_mortality_share * infant * np.exp(-0.9 * (AGES[1:] - 1))
        h[0] = -np.log(1 - infant)
        return h

    low, high = 1e-6, 10.0
    for _ in range(100):  # life expectancy falls as the Gompertz level rises
        mid = np.sqrt(low * high)
        low, high = (mid, high) if life_expectancy(hazards(mid)) > target else (low, mid)
    return hazards(np.sqrt(low * high))


def life_expectancy(hazards: np.ndarray, widths: np.ndarray | None = None) -> float:
    """Period life expectancy at birth from annual hazards of consecutive age intervals (one
    year each unless ``widths`` says otherwise; the last interval is open). Deaths fall in the
    middle of an interval, except in the first year of life (at 0.3)."""
    hazards = np.asarray(hazards, dtype=np.float64)
    widths = np.ones(len(hazards)) if widths is None else np.asarray(widths, dtype=np.float64)
    if not np.all(np.isfinite(hazards)) or np.any(hazards[-1:] <= 0):
        return float("nan")
    survive = np.exp(-hazards[:-1] * widths[:-1])
    alive = np.r_[1.0, np.cumprod(survive)]
    dying = alive[:-1] * (1 - survive)
    share_lived = np.full(len(survive), 0.5)
    share_lived[0] = 0.3 if widths[0] == 1 else 0.5
    years = widths[:-1] * (alive[:-1] - dying * (1 - share_lived))
    return float(years.sum() + alive[-1] / hazards[-1])


def fertility_shape(p: DemographyParams) -> np.ndarray:
    """Relative fertility by age (zero outside 15-49), peaking at ``fertility_peak_age``."""
    shape = np.exp(-0.5 * ((AGES - p.fertility_peak_age) / p.fertility_spread) ** 2)
    shape[(FERTILE_AGES[0] > AGES) | (FERTILE_AGES[1] < AGES)] = 0
    return shape


def married_share(marriage_rate: float) -> np.ndarray:
    """Share married by age at the start of a run: the steady state of the yearly marriage
    round (``loyalty.marriage_rate`` of the unmarried marry each year from 18 to 29), the same
    for men and women."""
    years = np.clip(AGES - MARRIAGE_AGE + 1, 0, AgeBand.ADULT * 15 - MARRIAGE_AGE)
    return 1 - (1 - marriage_rate) ** years


def marital_fertility(p: DemographyParams, marriage_rate: float) -> np.ndarray:
    """Annual births per married woman by age, scaled so that women of the steady marriage
    pattern have ``total_fertility`` children over their lives (births are within marriage)."""
    shape = fertility_shape(p)
    per_woman = (shape * married_share(marriage_rate)).sum()
    return shape * (p.total_fertility / per_woman if per_woman > 0 else 0.0)


def census_structure(p: DemographyParams) -> np.ndarray:
    """Persons by sex and age (2, OLDEST + 1) at the census: a stable population of the census
    mortality (single years have no published source here), growing at the rate that gives the
    census's share of children unless ``structure_growth_rate`` sets one, then held to the
    census's broad age groups and sex ratios (fewer old people than a stable population has)."""
    survivors = np.array(
        [
            p.sex_ratio_at_birth * np.exp(-np.cumsum(np.r_[0, mortality_schedule(p, False)[:-1]])),
            np.exp(-np.cumsum(np.r_[0, mortality_schedule(p, True)[:-1]])),
        ]
    )

    def stable(rate: float) -> np.ndarray:
        return survivors * np.exp(-rate * (AGES + 0.5))

    rate = p.structure_growth_rate
    if rate is None:  # the rate at which the stable population has the census's children
        low, high = -0.05, 0.05
        for _ in range(60):
            mid = (low + high) / 2
            counts = stable(mid)
            if counts[:, AGES < 15].sum() / counts.sum() < p.census_child_share:
                low = mid
            else:
                high = mid
        rate = (low + high) / 2
    counts = stable(rate)
    groups = [AGES < 15, (AGES >= 15) & (AGES < 65), AGES >= 65]
    shares = [p.census_child_share, 1 - p.census_child_share - p.census_elderly_share]
    shares.append(p.census_elderly_share)
    for ages, share in zip(groups, shares, strict=True):
        counts[:, ages] *= share / counts[:, ages].sum()
    elderly = groups[2]
    ratio = p.census_men_per_woman_elderly
    total_elderly = counts[:, elderly].sum()
    counts[0, elderly] *= total_elderly * ratio / (1 + ratio) / counts[0, elderly].sum()
    counts[1, elderly] *= total_elderly / (1 + ratio) / counts[1, elderly].sum()
    # Younger ages: the same split at every age, such that the whole population has the
    # census's men per woman.
    younger = ~elderly
    men_wanted = p.census_men_per_woman / (1 + p.census_men_per_woman) - counts[0, elderly].sum()
    both = counts[:, younger].sum(axis=0)
    men_share = men_wanted / both.sum()
    counts[:, younger] = [both * men_share, both * (1 - men_share)]
    return counts * p.census_population / counts.sum()


REVERSE_SURVIVAL_LIMIT = 85  # years: older persons before the census keep the census counts


def projected_structure(p: DemographyParams, marriage_rate: float, month: date) -> np.ndarray:
    """Persons by sex and age in months (2, 12 * (OLDEST + 1)) in ``month``: the census
    projected month by month with the schedules (deaths at the reference level of hunger,
    births to the census marriage pattern, the last age open). Before the census, projected
    backwards by reverse survival: each census cohort is one month younger a month earlier
    and more numerous by the deaths it had not yet suffered (at the higher mortality of the
    earlier years). Reverse survival is unreliable for the oldest old (a few survivors divided
    by tiny survival rates), so ages from ``REVERSE_SURVIVAL_LIMIT`` keep the census counts."""
    census = np.repeat(census_structure(p), 12, axis=1) / 12
    counts = census.copy()
    steps = month_index(month) - month_index(p.census_month)
    hazards = np.repeat([mortality_schedule(p, False), mortality_schedule(p, True)], 12, axis=1)
    if steps < 0:
        oldest_old = 12 * REVERSE_SURVIVAL_LIMIT
        for step in range(0, steps, -1):
            improvement = np.exp(-p.mortality_improvement_per_year * (step - 1) / 12)
            survival = np.exp(-hazards[:, :oldest_old] * improvement / 12)
            counts[:, :oldest_old] = counts[:, 1 : oldest_old + 1] / survival
            counts[:, oldest_old:] = census[:, oldest_old:]
        return counts
    fertility = np.repeat(marital_fertility(p, marriage_rate) * married_share(marriage_rate), 12)
    boy = p.sex_ratio_at_birth / (1 + p.sex_ratio_at_birth)
    for step in range(steps):
        improvement = np.exp(-p.mortality_improvement_per_year * step / 12)
        births = (counts[1] * fertility).sum() / 12
        counts *= np.exp(-hazards * improvement / 12)
        oldest = counts[:, -1].copy()
        counts[:, 1:] = counts[:, :-1]
        counts[:, -1] += oldest
        counts[:, 0] = births * boy, births * (1 - boy)
    return counts


def projected_population(p: DemographyParams, marriage_rate: float, month: date) -> int:
    """The country's population in ``month`` by :func:`projected_structure`: 1:1 scale."""
    return round(float(projected_structure(p, marriage_rate, month).sum()))


def period_life_expectancy(deaths: np.ndarray, exposure: np.ndarray) -> float:
    """Life expectancy at birth from one month's deaths and persons by single year of age,
    grouped as a standard abridged table (0, 1-4, 5-9, ..., 85+)."""
    starts = np.r_[0, 1, np.arange(5, 90, 5)]
    deaths_g = np.add.reduceat(deaths, starts)
    exposure_g = np.add.reduceat(exposure, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazards = 12 * deaths_g / exposure_g  # annual: a month's deaths per person-month
    widths = np.diff(np.r_[starts, OLDEST + 1])
    return life_expectancy(hazards, widths)


# -- the module -----------------------------------------------------------------------------


class Demography(Module):
    name = "demography"
    Params = DemographyParams
    rules = {
        "demography.ageing": "Everyone has a month of birth; age bands, school leaving and retirement follow the calendar, checked once a year.",
        "demography.mortality": "Each month a person at home or in a camp dies with an age- and sex-specific probability whose schedule gives the census life expectancy, falling slowly over the years.",
        "demography.hunger_deaths": "Hunger raises mortality: members of food-insecure households and camp inmates die more often.",
        "demography.fertility": "Each month a married woman of 15-49 at home may give birth, with an age-specific rate that gives the observed total fertility; the child joins her household.",
        "demography.death_removes": "A death ends every role the person held: posts fall vacant and are refilled, ties with donju end, and a household left with no one dissolves, its cash going to a neighbour of the inminban or to the state.",
        "demography.marriage_moves": "After the yearly marriage round the bride moves into the groom's household, or the couple sets up its own household in the groom's inminban with part of his family's cash; a woman who marries leaves the state workplace and trades or keeps house.",
        "demography.life_course": "School leavers take an assigned job (a factory in town, a farm in the countryside), men for life and women until marriage; workers, cadres and agents retire at 60 (men) or 55 (women).",
        "demography.start_population": "The population at the first simulated month is the 2008 census projected by the same schedules.",
    }

    def init_state(self) -> None:
        people = self.sim.people
        people.add("death_due", np.int16, fill=NEVER)  # month of the next candidate death
        people.add("birth_due", np.int16, fill=NEVER)  # ... and birth (women)
        self.death_probability = np.zeros((2, OLDEST + 1))  # this year's, per month
        self.birth_probability = np.zeros(OLDEST + 1)  # per married woman and month
        self.death_bound = np.zeros((2, OLDEST + 1))  # what the candidates are drawn from
        self.birth_bound = np.zeros(OLDEST + 1)
        self._set_schedules()
        self.newborn_mother = np.zeros(0, dtype=np.int64)
        self.newborn_female = np.zeros(0, dtype=bool)
        self.newborn_month = np.zeros(0, dtype=np.int16)
        self.brides = np.zeros(0, dtype=np.int64)  # married at the last round, not yet moved
        self.grooms = np.zeros(0, dtype=np.int64)
        self.exposure = np.zeros((2, OLDEST + 1), dtype=np.int64)  # this month, by sex and age
        self.deaths = np.zeros((2, OLDEST + 1), dtype=np.int64)
        self.births = np.zeros(OLDEST + 1, dtype=np.int64)  # by the mother's age
        self.births_female = 0
        self.formed = self.dissolved = 0
        self.marriages_per_1000_unmarried = np.nan

    def _set_schedules(self) -> None:
        """This year's monthly probabilities: the census schedules, improved since the census.
        Candidates are redrawn for everyone only if a probability outgrew its bound (the first
        time, or after an event raised mortality or fertility)."""
        p, sim = self.pars, self.sim
        years = (month_index(sim.month) - month_index(p.census_month)) / 12
        improvement = np.exp(-p.mortality_improvement_per_year * years)
        for sex, female in enumerate((False, True)):
            annual = mortality_schedule(p, female) * improvement
            self.death_probability[sex] = 1 - np.exp(-annual / 12)
        annual = marital_fertility(p, sim.pars.loyalty.marriage_rate)
        self.birth_probability[:] = 1 - np.exp(-annual / 12)
        self._schedule_year = sim.month.year
        highest = self.death_probability * max(self._hunger_factors())
        if np.any(highest > self.death_bound) or np.any(self.birth_probability > self.birth_bound):
            self.death_bound = np.minimum(highest, 1.0)
            self.birth_bound = self.birth_probability.copy()
            for lo in range(0, sim.people.n, 1 << 20):  # a million at a time: little memory
                some = np.arange(lo, min(lo + (1 << 20), sim.people.n))
                self._schedule(some, "death")
                self._schedule(some[sim.people.female[some]], "birth")

    def _schedule(self, persons: np.ndarray, event: str) -> None:
        """Draw the month of the next candidate death (or birth) of ``persons`` after this one."""
        people, sim = self.sim.people, self.sim
        bound = (
            self.death_bound
            if event == "death"
            else np.array([0 * self.birth_bound, self.birth_bound])
        )
        rates = np.repeat(-np.log1p(-np.minimum(bound, 1 - 1e-12)), 12, axis=1)
        cumulative = np.concatenate([np.zeros((2, 1)), np.cumsum(rates, axis=1)], axis=1)
        due = np.empty(len(persons), dtype=np.int16)
        next_candidates(
            due,
            persons,
            self.month_index,
            people.birth_month,
            people.female,
            cumulative,
            streams.key(sim.seed, self.name, sim.month, f"{event}_schedule"),
        )
        people.fields[f"{event}_due"][persons] = due

    # -- monthly rule --------------------------------------------------------------------------

    def step(self) -> None:
        sim = self.sim
        self.formed = self.dissolved = 0
        self.marriages_per_1000_unmarried = np.nan
        if sim.month.year != self._schedule_year:
            self._set_schedules()
        if sim.month.month == self.rebuild_month and self.sim.steps_done > 0:
            self._rebuild()
        self._count_exposure()
        people = sim.people
        dying, bearing = due_now(people.death_due, people.birth_due, self.month_index)
        dead = self._deaths_due(dying)
        mothers = self._births_due(bearing)
        self._newborns_die()
        self._newborns_arrive(mothers)
        self._deaths(dead)

    @property
    def rebuild_month(self) -> int:
        """The month after the marriage round."""
        return self.sim.pars.loyalty.marriage_month % 12 + 1

    def _hunger_factors(self) -> tuple[float, float]:
        """Mortality relative to the schedule for the fed and the hungry: the schedule holds
        for a population with the reference share of hungry households."""
        p = self.pars
        mean = 1 + p.hunger_mortality * p.hunger_reference_share
        return 1 / mean, (1 + p.hunger_mortality) / mean

    def _count_exposure(self) -> None:
        """Persons in the country at the start of the month by sex and age in years, from the
        population's cohorts (month of birth) and the newborns waiting for a row."""
        population = self.sim.population
        births = population.first_birth_month + np.arange(population.cohorts.shape[1])
        age = np.clip((self.month_index - births) // 12, 0, OLDEST)
        born = births <= self.month_index
        self.exposure = np.array(
            [np.bincount(age[born], population.cohorts[s, born], OLDEST + 1) for s in (0, 1)]
        ).astype(np.int64)

    def _deaths_due(self, due: np.ndarray) -> np.ndarray:
        """Persons whose candidate death is due: each dies with the ratio of the true
        probability (age, sex, hunger or the camp) to the bound it was drawn from."""
        sim = self.sim
        people, hh = sim.people, sim.households
        role = people.role[due]
        here = ~IS_NOT_HERE[role]
        age = np.minimum((self.month_index - people.birth_month[due]) // 12, OLDEST)
        sex = people.female[due].astype(np.int64)
        secure, hungry = self._hunger_factors()
        hungry_now = (role == Role.DETAINED) | hh.food_insecure[people.household[due]]
        chance = self.death_probability[sex, age] * np.where(hungry_now, hungry, secure)
        chance /= self.death_bound[sex, age]
        draw = uniforms_at(streams.key(sim.seed, self.name, sim.month, "deaths"), due)
        dies = here & (draw < chance)
        self.deaths = np.zeros((2, OLDEST + 1), dtype=np.int64)
        np.add.at(self.deaths, (sex[dies], age[dies]), 1)
        dead = due[dies]
        people.death_due[dead] = NEVER
        people.birth_due[dead] = NEVER
        self._schedule(due[~dies], "death")
        return dead

    def _births_due(self, due: np.ndarray) -> np.ndarray:
        """Women whose candidate birth is due give birth if married, at home and of
        childbearing age (with the ratio of the true probability to the bound)."""
        sim = self.sim
        people = sim.people
        age = np.minimum((self.month_index - people.birth_month[due]) // 12, OLDEST)
        able = people.married[due] & ~IS_AWAY[people.role[due]]
        bound = self.birth_bound[age]
        chance = np.divide(
            self.birth_probability[age], bound, out=np.zeros(len(due)), where=bound > 0
        )
        draw = uniforms_at(streams.key(sim.seed, self.name, sim.month, "births"), due)
        gives_birth = able & (draw < chance)
        self.births = np.bincount(age[gives_birth], minlength=OLDEST + 1).astype(np.int64)
        self._schedule(due, "birth")
        return due[gives_birth]

    def _newborns_die(self) -> None:
        """Newborns waiting for their row die like infants of their mother's household."""
        if len(self.newborn_mother) == 0:
            return
        sim = self.sim
        secure, hungry = self._hunger_factors()
        hungry_home = sim.households.food_insecure[sim.people.household[self.newborn_mother]]
        sex = self.newborn_female.astype(np.int64)
        p = self.death_probability[sex, 0] * np.where(hungry_home, hungry, secure)
        dies = self.rng.random(len(p)) < p
        self.exposure[:, 0] += np.bincount(sex, minlength=2)
        self.deaths[:, 0] += np.bincount(sex[dies], minlength=2)
        keep = ~dies
        self.newborn_mother = self.newborn_mother[keep]
        self.newborn_female = self.newborn_female[keep]
        self.newborn_month = self.newborn_month[keep]

    def _newborns_arrive(self, mothers: np.ndarray) -> None:
        p = self.pars
        female = self.rng.random(len(mothers)) < 1 / (1 + p.sex_ratio_at_birth)
        self.births_female = int(female.sum())
        self.newborn_mother = np.concatenate([self.newborn_mother, mothers])
        self.newborn_female = np.concatenate([self.newborn_female, female])
        self.newborn_month = np.concatenate(
            [self.newborn_month, np.full(len(mothers), self.month_index, dtype=np.int16)]
        )

    def _deaths(self, dead: np.ndarray) -> None:
        """The dead leave every role; a donju's business passes to an adult of the household."""
        sim = self.sim
        people, population = sim.people, sim.population
        donju_households = people.household[dead[people.role[dead] == Role.DONJU]]
        population.set_role(dead, Role.DECEASED)
        if len(donju_households):
            population.pass_on_business(donju_households)

    def newborns_by_province(self) -> np.ndarray:
        """Newborns not yet given a row, by province (they count in the population)."""
        sim = self.sim
        province = sim.households.province[sim.people.household[self.newborn_mother]]
        return np.bincount(province, minlength=sim.geography.n)

    # -- marriages ----------------------------------------------------------------------------

    def marry(self, brides: np.ndarray, grooms: np.ndarray) -> None:
        """Couples of this year's marriage round (aligned arrays); they move at the rebuild."""
        people = self.sim.people
        unmarried = self._unmarried_adults()
        self.marriages_per_1000_unmarried = 1000 * len(brides) / max(unmarried, 1)
        people.married[brides] = True
        people.married[grooms] = True
        self.brides = np.concatenate([self.brides, brides])
        self.grooms = np.concatenate([self.grooms, grooms])

    def _unmarried_adults(self) -> int:
        """Unmarried persons of marriageable age at home, counted before this round."""
        people = self.sim.people
        at_home = ~IS_AWAY[people.role]
        adult = people.age_band >= AgeBand.YOUNG
        return int(np.count_nonzero(at_home & adult & ~people.married))

    # -- the yearly rebuild -------------------------------------------------------------------

    def _rebuild(self) -> None:
        """Remove the dead, move the newly married, give newborns their rows, dissolve empty
        households and form new ones; then age everyone and follow the life course."""
        sim, p = self.sim, self.pars
        people, hh, ledger = sim.people, sim.households, sim.ledger
        n_households = hh.n
        deceased = int(Role.DECEASED)

        # Couples: drop those where one died since the round or both live in one household.
        brides, grooms = self.brides, self.grooms
        self.brides = self.grooms = np.zeros(0, dtype=np.int64)
        ok = (people.role[brides] != deceased) & (people.role[grooms] != deceased)
        ok &= people.household[brides] != people.household[grooms]
        brides, grooms = brides[ok], grooms[ok]
        groom_home = people.household[grooms].astype(np.int64)
        own_home = self.rng.random(len(grooms)) < p.new_household_share
        own_home &= hh.size[groom_home] > 1  # a man living alone: she moves in with him
        parent = groom_home[own_home]
        created = n_households + np.arange(len(parent))
        created_of_couple = np.full(len(grooms), -1, dtype=np.int64)
        created_of_couple[own_home] = created
        bride_home = np.where(own_home, created_of_couple, groom_home)
        movers = np.concatenate([brides, grooms[own_home]])
        mover_home = np.concatenate([bride_home, created])
        order = np.argsort(movers, kind="stable")
        movers, mover_home = movers[order], mover_home[order]

        # Newborns join the mother's new household (her old one if she died).
        mother = self.newborn_mother
        mother_home = people.household[mother].astype(np.int64)
        moved = np.searchsorted(movers, mother)
        is_mover = moved < len(movers)
        is_mover[is_mover] = movers[moved[is_mover]] == mother[is_mover]
        newborn_home = mother_home.copy()
        followed = is_mover & (people.role[mother] != deceased)
        newborn_home[followed] = mover_home[moved[followed]]

        total = n_households + len(parent)
        moving = np.zeros(people.n, dtype=bool)
        moving[movers] = True
        stayers = np.empty(n_households, dtype=np.int64)
        in_blocks(
            count_stayers, n_households, stayers, hh.first_person, hh.size, people.role,
            deceased, moving,
        )  # fmt: skip
        size = np.bincount(mover_home, minlength=total)
        size[:n_households] += stayers
        size += np.bincount(newborn_home, minlength=total)
        gone = np.flatnonzero(size[:n_households] == 0)
        self._settle_estates(gone, movers, mover_home, parent)

        # New order of households: the survivors in order, each followed by those it formed.
        by_parent = np.argsort(parent, kind="stable")
        parent_sorted = parent[by_parent]
        household_new, source, new_size, first_new, new_of_created, filled = order_households(
            size, stayers, parent_sorted, by_parent
        )
        del size

        mover_from = household_new[people.household[movers]]  # -1: the old home dissolved
        person_new = np.full(people.n, -1, dtype=np.int32)
        person_source = np.empty(first_new[-1], dtype=np.int32)
        new_household = np.empty(first_new[-1], dtype=np.int32)
        in_blocks(
            place_stayers, n_households, person_new, person_source, new_household,
            hh.first_person, hh.size, people.role, deceased, moving, household_new, first_new,
        )  # fmt: skip
        del moving, stayers
        newborn_rows = place_arrivals(
            person_new, person_source, new_household, filled, movers, mover_home,
            newborn_home, mother, household_new, first_new,
        )  # fmt: skip
        age_band = np.empty(len(person_source), dtype=np.int8)  # set by _age_everyone
        people.rearrange(
            person_source,
            newborn_rows,
            person_source[newborn_rows],
            written={"household": new_household, "age_band": age_band},
        )
        del person_source, new_household
        people.female[newborn_rows] = self.newborn_female
        people.birth_month[newborn_rows] = self.newborn_month
        sim.population.add_to_cohorts(people.female[newborn_rows], people.birth_month[newborn_rows])
        codes = self._age_everyone()
        self._schedule(newborn_rows, "death")
        self._schedule(newborn_rows[people.female[newborn_rows]], "birth")
        self.newborn_mother = np.zeros(0, dtype=np.int64)
        self.newborn_female = np.zeros(0, dtype=bool)
        self.newborn_month = np.zeros(0, dtype=np.int16)

        hh.rearrange(source, new_of_created, parent_sorted)
        hh.size[:] = new_size
        hh.first_person[:] = first_new[:-1]
        ledger.rebind(hh.cash, hh.income)
        self.formed, self.dissolved = len(parent), len(gone)
        change = Renumbering(
            person=person_new,
            household=household_new[:n_households],
            household_source=source,
            created=new_of_created,
            arrived=np.concatenate([person_new[movers].astype(np.int64), newborn_rows]),
            left=np.concatenate([mover_from, np.full(len(newborn_rows), -1)]),
        )
        for module in sim.modules:
            module.renumbered(change)
        # ``source`` names a new household's parent by its old row: endow from its new one
        # (none if the parent dissolved, every other member having died or married away).
        parent_row = household_new[source[new_of_created]]
        kept = parent_row >= 0
        self._endow(new_of_created[kept], parent_row[kept])
        self._life_course(person_new[brides], codes)

    def _settle_estates(self, gone, movers, mover_home, parent) -> None:
        """Cash of households left with no one: to the household the last member married into,
        else the nearest household of the same inminban (stored next to it), else the state.
        A couple's new household has no row yet: its share goes to the groom's family."""
        sim = self.sim
        hh, people, ledger = sim.households, sim.people, sim.ledger
        surviving = np.ones(hh.n, dtype=bool)  # every dissolving household, with cash or not
        surviving[gone] = False
        cash = hh.cash[gone]
        gone, cash = gone[cash > 0], cash[cash > 0]
        if len(gone) == 0:
            return
        heir = np.full(len(gone), -1, dtype=np.int64)
        left = people.household[movers]  # a household whose last member married away
        position = np.searchsorted(gone, left)
        found = position < len(gone)
        found[found] = gone[position[found]] == left[found]
        heir[position[found]] = mover_home[found]
        # Neighbours in storage order that survive, within the same inminban.
        unclaimed = heir < 0
        heir[unclaimed] = nearest_in_unit(gone[unclaimed], surviving, hh.inminban)
        new_home = heir >= hh.n
        heir[new_home] = parent[heir[new_home] - hh.n]
        heir[~surviving[np.maximum(heir, 0)]] = -1
        to_heir = heir >= 0
        ledger.pay(
            "estate_inherited",
            HOUSEHOLDS,
            HOUSEHOLDS,
            cash[to_heir],
            debit_idx=gone[to_heir],
            credit_idx=heir[to_heir],
        )
        ledger.pay("estate_to_state", HOUSEHOLDS, "state", cash[~to_heir], debit_idx=gone[~to_heir])

    def _endow(self, created: np.ndarray, parent: np.ndarray) -> None:
        """A new household starts with a share of the groom's family's cash (split among the
        households the family formed this year)."""
        hh, p = self.sim.households, self.pars
        if len(created) == 0:
            return
        siblings = np.bincount(parent, minlength=hh.n)[parent]
        amount = hh.cash[parent] * p.new_household_cash_share / siblings
        self.sim.ledger.pay(
            "household_formation",
            HOUSEHOLDS,
            HOUSEHOLDS,
            amount,
            debit_idx=parent,
            credit_idx=created,
        )

    def _age_everyone(self) -> np.ndarray:
        """Everyone's age band for the year, and the life-course code of each person (one
        compiled pass, ``demography_kernels.age_everyone``)."""
        p, people = self.pars, self.sim.people
        codes = np.empty(people.n, dtype=np.uint8)
        retiring_role = np.zeros(len(Role), dtype=bool)
        retiring_role[list(RETIRING_ROLES)] = True
        in_ranges(
            age_everyone,
            people.n,
            codes,
            people.age_band,
            people.role,
            people.female,
            people.married,
            people.exempt,
            people.birth_month,
            self.month_index,
            AGE_BAND_STARTS,
            retiring_role,
            int(Role.DEPENDANT),
            p.school_leaving_age,
            p.retirement_age_men,
            p.retirement_age_women,
        )
        return codes

    def _life_course(self, brides: np.ndarray, codes: np.ndarray) -> None:
        """Marriage, school leaving and retirement change roles; vacant posts are filled."""
        sim = self.sim
        people, population = sim.people, sim.population
        # A bride leaves a town workplace: she trades or keeps house.
        working = brides[people.role[brides] == Role.WORKER]
        trades = self.rng.random(len(working)) < sim.pars.population.married_women_trader_share
        population.set_role(working[trades], Role.TRADER)
        population.set_role(working[~trades], Role.DEPENDANT)
        changing = np.flatnonzero(codes != 0)  # nonzero of a bool array: 6x as fast
        code = codes[changing]
        del codes
        population.set_role(changing[code == RETIRES], Role.DEPENDANT)
        sim.markets.end_exemptions(changing[code == STOPS_PAYING])
        population.assign_ordinary_job(changing[code == LEAVES_SCHOOL])
        population.refill_posts(self.rng)

    # -- results ------------------------------------------------------------------------------

    def record(self, rec) -> None:
        exposure, deaths = self.exposure.astype(np.float64), self.deaths
        births = int(self.births.sum())
        population = exposure.sum()
        waiting = len(self.newborn_mother)
        rec.add("births", births)
        rec.add_groups("births", [births - self.births_female, self.births_female], "sex", SEXES)
        rec.add("deaths", int(deaths.sum()))
        rec.add_groups("deaths", deaths.sum(axis=1), "sex", SEXES)
        band = age_bands(AGES)
        band_names = [label(b) for b in AgeBand]
        rec.add_groups(
            "deaths", np.bincount(band, deaths.sum(axis=0), len(AgeBand)), "age_band", band_names
        )
        # Persons at the start of the month (abroad excepted), newborns waiting for a row too.
        rec.add_groups(
            "population",
            np.bincount(band, exposure.sum(axis=0), len(AgeBand)),
            "age_band",
            band_names,
        )
        rec.add_groups("population", exposure.sum(axis=1), "sex", SEXES)
        groups = np.searchsorted(PYRAMID_STARTS, AGES, side="right") - 1
        pyramid = np.array([np.bincount(groups, exposure[s], len(PYRAMID_STARTS)) for s in (0, 1)])
        labels = [
            f"{sex}_{lo}_{lo + 4}" if lo < PYRAMID_STARTS[-1] else f"{sex}_{lo}_plus"
            for sex in SEXES
            for lo in PYRAMID_STARTS
        ]
        rec.add_groups("population", pyramid.ravel(), "sex_age", labels)
        per_year = 12 * 1000 / max(population, 1)
        rec.add("crude_birth_rate", births * per_year)
        rec.add("crude_death_rate", deaths.sum() * per_year)
        women = exposure[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            fertility = np.where(women > 0, 12 * self.births / women, 0.0)
        rec.add("total_fertility_rate", fertility.sum())
        rec.add_groups(
            "life_expectancy",
            [period_life_expectancy(deaths[s], exposure[s]) for s in (0, 1)],
            "sex",
            SEXES,
        )
        present = self.sim.population.present()
        rec.add("household_size_mean", float(present.mean()) if len(present) else 0.0)
        rec.add("households_formed", self.formed)
        rec.add("households_dissolved", self.dissolved)
        rec.add("newborns_waiting", waiting)
        if not np.isnan(self.marriages_per_1000_unmarried):  # the month of the marriage round
            rec.add("marriages_per_1000_unmarried", self.marriages_per_1000_unmarried)


# Roles held until retirement: assigned jobs, cadre posts and the security service.
RETIRING_ROLES = (
    Role.WORKER,
    Role.FARMER,
    Role.MANAGER,
    Role.PARTY_SECRETARY,
    Role.OFFICIAL,
    Role.MSS_AGENT,
)
