"""Population: persons in households, households in inminban, inminban in provinces.

Built once at the start from the 2008 census, scaled to the chosen size (1:1 is 25.97 million).
Persons of a household are stored contiguously and households are stored by province, then
urban before rural, so a household's members and a province's households are array slices.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources

import numpy as np
from pydantic import Field, PositiveInt, PrivateAttr, model_validator

from jangmadang.module import Module, ParameterModel
from jangmadang.modules import demography
from jangmadang.modules.population_kernels import move_roles
from jangmadang.results import group_sum
from jangmadang.state import (
    CADRE_ROLES,
    IS_NOT_HERE,
    NOT_HERE,
    ROLE_TO_KIND,
    AgeBand,
    ArrayStruct,
    HouseholdKind,
    Renumbering,
    Role,
    age_bands,
    label,
    role_mask,
    sorted_distinct,
)
from jangmadang.timeline import month_index

# Roles tied to a town that an exiled household's members lose (traders keep trading).
TOWN_POSTS = (Role.WORKER, *CADRE_ROLES, Role.MSS_AGENT, Role.INMINBAN_HEAD)
# Roles of those who may take over a business or an inminban head's duty.
HEIR_ROLES = (Role.DEPENDANT, Role.WORKER, Role.FARMER, Role.TRADER)
_IS_TOWN_POST, _IS_HEIR = role_mask(TOWN_POSTS), role_mask(HEIR_ROLES)


_IS_HERE = ~IS_NOT_HERE  # by role: in the country


class PopulationParams(ParameterModel):
    full_size: PositiveInt | None = None  # 1:1; default: the census projected to the start
    scale: float = Field(0.01, gt=0, le=1)
    persons: PositiveInt | None = None  # an exact size; overrides scale when given
    mean_household_size: float = Field(3.96, ge=1.5, le=8)
    households_per_inminban: int = Field(30, ge=20, le=50)
    urban_share: float = Field(0.606, ge=0, le=1)
    married_women_trader_share: float = Field(0.6, ge=0, le=1)
    cadre_share: float = Field(0.02, ge=0, le=0.2)
    cadre_kind_shares: list[float] = Field(default_factory=lambda: [0.3, 0.2, 0.5])
    mss_agents: int = Field(50_000, ge=0)
    mss_border_weight: float = Field(2.0, ge=1, le=10)
    donju_household_share: float = Field(0.01, ge=0, le=0.2)
    donju_threshold_usd: float = Field(5_000, gt=0)
    donju_threshold_pyongyang_usd: float = Field(50_000, gt=0)
    donju_wealth_pareto_shape: float = Field(1.5, gt=0.5, le=5)
    initial_cash_median_usd: float = Field(60, gt=0)
    initial_cash_sigma: float = Field(1.0, ge=0, le=3)
    # Pyongyang's residents are selected and privileged: more cadres and donju live there, and
    # its households start with more cash (weights relative to a household elsewhere).
    pyongyang_cadre_weight: float = Field(2.0, ge=1, le=10)
    pyongyang_donju_weight: float = Field(3.0, ge=1, le=10)
    pyongyang_cash_multiplier: float = Field(2.0, ge=1, le=10)

    _full_size: int | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self):
        if self.persons is not None and self.full_size and self.persons > self.full_size:
            raise ValueError(
                f"persons ({self.persons}) exceeds full_size ({self.full_size}); "
                "1:1 is the largest population"
            )
        for key, shares, n in (("cadre_kind_shares", self.cadre_kind_shares, len(CADRE_ROLES)),):
            if len(shares) != n or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
                raise ValueError(f"{key} must be {n} non-negative shares summing to 1")
        return self

    def set_full_size(self, persons: int) -> None:
        """The population at 1:1 in the first simulated month (the scenario projects it)."""
        self._full_size = int(persons)

    @property
    def size_at_full_scale(self) -> int:
        if self._full_size is None:
            raise RuntimeError("the population at 1:1 is fixed by the scenario")
        return self._full_size

    @property
    def size(self) -> int:
        if self.persons is not None:
            return self.persons
        return max(1, round(self.size_at_full_scale * self.scale))

    @property
    def effective_scale(self) -> float:
        return self.size / self.size_at_full_scale


@dataclass(frozen=True)
class Geography:
    names: list[str]
    census: np.ndarray
    border: np.ndarray  # bool per province
    river: list[str]  # "tumen", "yalu" or "" (interior)
    urban_share: np.ndarray  # census share of each province's persons living in towns
    cereal_share: np.ndarray  # share of national cereal output grown in each province
    grain_belt: np.ndarray  # bool: the western plains that grow most of the cereal
    source: str

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def pyongyang(self) -> int:
        return self.names.index("Pyongyang")

    def urban_shares(self, national: float) -> np.ndarray:
        """Each province's urban share, shifted together on the logit scale so the
        population-weighted national share is ``national``."""
        logit = np.log(self.urban_share / (1 - self.urban_share))
        weights = self.census / self.census.sum()

        def national_share(shift: float) -> float:
            return float(weights @ (1 / (1 + np.exp(-(logit + shift)))))

        low, high = -10.0, 10.0
        for _ in range(60):  # bisection: the national share rises with the shift
            mid = (low + high) / 2
            low, high = (mid, high) if national_share(mid) < national else (low, mid)
        return 1 / (1 + np.exp(-(logit + (low + high) / 2)))

    @classmethod
    def load(cls) -> Geography:
        raw = tomllib.loads(
            resources.files("jangmadang.data").joinpath("provinces.toml").read_text()
        )
        rows = raw["province"]
        return cls(
            names=[r["name"] for r in rows],
            census=np.array([r["census_2008"] for r in rows], dtype=np.int64),
            border=np.array([r["border"] for r in rows], dtype=bool),
            river=[r.get("river", "") for r in rows],
            urban_share=np.array([r["urban_share"] for r in rows]),
            cereal_share=np.array([r["cereal_share"] for r in rows]),
            grain_belt=np.array([r["grain_belt"] for r in rows], dtype=bool),
            source=raw["source"],
        )


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:shortfall]] += 1
    return counts


class Population(Module):
    name = "population"
    Params = PopulationParams
    rules = {
        "population.census_scaling": "Province sizes and urban shares follow the 2008 census, scaled to the run's total.",
        "population.households": "Persons live in households of about four; households form inminban of about 30.",
        "population.roles": "Working-age men hold assigned state jobs (factory in towns, farm in the countryside); many married women trade.",
        "population.donju": "About 1% of households are donju, holding wealth above a threshold that is far higher in Pyongyang.",
        "population.pyongyang": "Pyongyang's residents are selected for political standing: more cadres and donju live there, and its households start with more cash.",
        "population.mss_placement": "State security agents are placed by province population, more densely at the Chinese border.",
    }

    def init_state(self) -> None:
        sim, p, rng = self.sim, self.pars, self.rng
        geo = sim.geography
        persons_per_province = apportion(p.size, geo.census.astype(np.float64))

        urban_shares = geo.urban_shares(p.urban_share)
        sizes, province, urban = [], [], []
        for prov, n_persons in enumerate(persons_per_province):
            s = _household_sizes(int(n_persons), p.mean_household_size, rng)
            n_urban = round(len(s) * urban_shares[prov])
            sizes.append(s)
            province.append(np.full(len(s), prov, dtype=np.int8))
            urban.append(np.arange(len(s)) < n_urban)
        size = np.concatenate(sizes).astype(np.int16)
        hh = sim.households = ArrayStruct(len(size))
        hh.set("size", size)
        # A household formed later lies where the groom's family lives.
        hh.set("province", np.concatenate(province), inherit=True)
        hh.set("urban", np.concatenate(urban), inherit=True)
        hh.set("first_person", (np.cumsum(size, dtype=np.int64) - size).astype(np.int64))
        hh.set(
            "inminban",
            _inminban_ids(hh.province, hh.urban, p.households_per_inminban),
            inherit=True,
        )

        people = sim.people = ArrayStruct(int(size.sum()))
        people.set("household", np.repeat(np.arange(hh.n, dtype=np.int32), size))
        first = np.zeros(people.n, dtype=bool)
        first[hh.first_person] = True
        structure = demography.projected_structure(
            sim.pars.demography, sim.pars.loyalty.marriage_rate, sim.month
        )
        female, age_months = _sexes_and_ages(first, structure, rng)
        del first
        people.set("female", female)
        people.set("birth_month", (self.month_index - age_months).astype(np.int16))
        age = age_months // 12
        del age_months
        people.set("age_band", age_bands(age))
        share = demography.married_share(sim.pars.loyalty.marriage_rate)
        married = _below(rng, people.n, lambda lo, hi: share[age[lo:hi]])
        people.set("married", married)
        self._assign_roles(people, hh, geo, p, age, rng)
        hh.add("kind", np.int8)
        self.role_count = np.zeros((len(Role), 0), dtype=np.uint8)  # (role, household) counts
        self.update_household_kind()
        self._count_cohorts()
        self.rural = np.flatnonzero(~hh.urban)  # farm households; changes only by exile
        self.moves = 0  # households exiled so far: modules caching inminban membership check it
        self._rural_inminban = _rural_inminban_ranges(hh.province, hh.urban, hh.inminban, geo.n)
        self._province_sizes = None

    def _assign_roles(self, people, hh, geo, p, age, rng) -> None:
        life = self.sim.pars.demography
        person_urban = hh.urban[people.household]
        retirement = life.retirement_age(people.female)
        working = (age >= life.school_leaving_age) & (age < retirement)
        del retirement
        role = np.full(people.n, Role.DEPENDANT, dtype=np.int8)
        role[working & person_urban] = Role.WORKER
        role[working & ~person_urban] = Role.FARMER
        del person_urban
        # Married women trade as far as markets are tolerated at the start (markets then moves
        # the share with the market's scale).
        trades = working & people.female & people.married
        tolerance = self.sim.pars.markets.tolerance
        trades &= _below(rng, people.n, p.married_women_trader_share * tolerance)
        role[trades] = Role.TRADER
        del trades

        # Household cash: log-normal, higher in Pyongyang, with donju households (urban, more
        # of them in Pyongyang) lifted above the threshold.
        capital = hh.province == geo.pyongyang
        cash = p.initial_cash_median_usd * np.exp(p.initial_cash_sigma * rng.standard_normal(hh.n))
        cash[capital] *= p.pyongyang_cash_multiplier
        urban_households = np.flatnonzero(hh.urban)
        n_donju = min(len(urban_households), round(p.donju_household_share * hh.n))
        weight = np.where(capital[urban_households], p.pyongyang_donju_weight, 1.0)
        donju = np.sort(_weighted_sample(rng, urban_households, weight, n_donju))
        threshold = np.where(
            hh.province[donju] == geo.pyongyang,
            p.donju_threshold_pyongyang_usd,
            p.donju_threshold_usd,
        )
        cash[donju] = threshold * (1.0 + rng.pareto(p.donju_wealth_pareto_shape, size=n_donju))
        role[hh.first_person[donju]] = Role.DONJU

        # Inminban heads: one adult per inminban, from a random non-donju household of the unit.
        is_donju = np.zeros(hh.n, dtype=bool)
        is_donju[donju] = True
        starts = np.flatnonzero(np.r_[True, hh.inminban[1:] != hh.inminban[:-1]])
        lengths = np.diff(np.r_[starts, hh.n])
        offset = (rng.random(len(starts)) * lengths).astype(np.int64)
        for _ in range(4):  # step past donju households to the next one in the unit
            offset = np.where(is_donju[starts + offset], (offset + 1) % lengths, offset)
        role[hh.first_person[starts + offset]] = Role.INMINBAN_HEAD

        # Cadres, then agents: drawn from those still holding ordinary state jobs, so no one
        # assigned above loses a role. Cadres are working-age adults (30-59).
        eligible = np.flatnonzero(
            ((role == Role.WORKER) | (role == Role.FARMER)) & (people.age_band >= AgeBand.ADULT)
        )
        n_cadres = min(len(eligible), round(p.cadre_share * working.sum()))
        in_capital = capital[people.household[eligible]]
        weight = np.where(in_capital, p.pyongyang_cadre_weight, 1.0)
        del in_capital
        cadres = _weighted_sample(rng, eligible, weight, n_cadres)
        kinds = rng.choice(
            np.array(CADRE_ROLES, dtype=np.int8), size=n_cadres, p=p.cadre_kind_shares
        )
        role[cadres] = kinds

        # State security agents: men of working age, by province population, denser at the border.
        weights = geo.census * np.where(geo.border, p.mss_border_weight, 1.0)
        per_province = apportion(
            round(p.mss_agents * p.effective_scale), weights.astype(np.float64)
        )
        self.agents_wanted = per_province  # the service keeps its strength: refill_posts
        person_province = hh.province[people.household]
        candidates = working & ~people.female & ((role == Role.WORKER) | (role == Role.FARMER))
        for prov, n_agents in enumerate(per_province):
            pool = np.flatnonzero(candidates & (person_province == prov))
            chosen = rng.choice(pool, size=min(int(n_agents), len(pool)), replace=False)
            role[chosen] = Role.MSS_AGENT
        hh.set("cash", cash)
        people.set("role", role)
        self.officials_wanted = np.bincount(person_province[role == Role.OFFICIAL], minlength=geo.n)

    def update_household_kind(self) -> None:
        """Recount every household's roles and kind after roles were written directly.

        A household's kind is the highest-ranked role among its members. This is a full pass
        over all persons; :meth:`set_role` changes a few roles and updates only their households.
        """
        people, hh = self.sim.people, self.sim.households
        self.role_count = _role_counts(people.role, people.household, hh.first_person, hh.size)
        hh.kind[:] = _kind_from_counts(self.role_count)

    def set_role(self, persons: np.ndarray, role: Role) -> None:
        """Give ``persons`` a new role, keeping per-household role counts and kinds in step.

        Modules change roles through here (or call :meth:`update_household_kind` after writing
        ``people.role`` themselves), so that ``role_count`` stays true without a monthly pass
        over 26 million persons. Every module's :meth:`~jangmadang.module.Module.role_changed` is
        then called with the persons and their new role, so it can drop state that belonged to
        the old role.
        """
        people, hh = self.sim.people, self.sim.households
        persons = sorted_distinct(persons)
        if len(persons) == 0:
            return
        households = people.household[persons]  # ascending: persons are stored by household
        old = people.role[persons]
        move_roles(self.role_count, hh.kind, households, old, int(role), ROLE_TO_KIND)
        people.role[persons] = role
        was_here = _IS_HERE[old]
        is_here = role not in NOT_HERE
        if (was_here != is_here).any():
            moved = persons[was_here != is_here]
            self.add_to_cohorts(
                people.female[moved], people.birth_month[moved], 1 if is_here else -1
            )
        for module in self.sim.modules:
            module.role_changed(persons, role)

    def _count_cohorts(self) -> None:
        """Persons in the country (at home or in a camp) by sex and month of birth: what the
        demography reads each month instead of a pass over every person."""
        people = self.sim.people
        last = month_index(self.sim.scenario.end)
        self.first_birth_month = int(people.birth_month.min(initial=last))
        self.cohorts = np.zeros((2, last - self.first_birth_month + 1), dtype=np.int64)
        here = _IS_HERE[people.role]
        self.add_to_cohorts(people.female[here], people.birth_month[here])

    def add_to_cohorts(self, female: np.ndarray, birth_month: np.ndarray, sign: int = 1) -> None:
        """Count persons in (``sign`` 1) or out of (-1) the country's cohorts."""
        column = birth_month.astype(np.int64) - self.first_birth_month
        if len(column) and column.max() >= self.cohorts.shape[1]:  # a longer run (a fork)
            wider = np.zeros((2, column.max() + 1), dtype=np.int64)
            wider[:, : self.cohorts.shape[1]] = self.cohorts
            self.cohorts = wider
        np.add.at(self.cohorts, (female.astype(np.int64), column), sign)

    def members(self, households: np.ndarray) -> np.ndarray:
        """Every person of the given households (ascending households give ascending persons)."""
        hh = self.sim.households
        households = np.asarray(households)
        size = hh.size[households].astype(np.int64)
        start = np.repeat(hh.first_person[households] - np.cumsum(size) + size, size)
        return start + np.arange(size.sum())

    def assign_ordinary_job(self, persons: np.ndarray) -> None:
        """Put persons back to an assigned state job: a factory in town, a farm in the
        countryside (after dismissal, release from a labour camp or return from abroad, or
        leaving school). Those past retirement age go home instead."""
        people, life = self.sim.people, self.sim.pars.demography
        persons = np.asarray(persons)
        age = (self.month_index - people.birth_month[persons]) // 12
        retired = age >= life.retirement_age(people.female[persons])
        self.set_role(persons[retired], Role.DEPENDANT)
        persons = persons[~retired]
        urban = self.sim.households.urban[people.household[persons]]
        self.set_role(persons[urban], Role.WORKER)
        self.set_role(persons[~urban], Role.FARMER)

    def exile(self, households: np.ndarray) -> None:
        """Banish urban households to the countryside: they lose urban status (and with it
        rations), join a rural inminban of their province, and members holding town posts
        (jobs, cadre posts, security or inminban duties) are assigned to a farm."""
        hh, people = self.sim.households, self.sim.people
        households = sorted_distinct(households)
        households = households[hh.urban[households]]
        if len(households) == 0:
            return
        hh.urban[households] = False
        lo, count = self._rural_inminban[:, hh.province[households]]
        has_rural = count > 0
        hh.inminban[households[has_rural]] = (
            lo[has_rural] + households[has_rural] % count[has_rural]
        )
        persons = self.members(households)
        posted = _IS_TOWN_POST[people.role[persons]]
        self.set_role(persons[posted], Role.FARMER)
        self.rural = np.flatnonzero(~hh.urban)
        self.moves += len(households)

    def present(self) -> np.ndarray:
        """Members living at home: registered members less those abroad, detained or dead."""
        counts = self.role_count
        return (
            self.sim.households.size
            - counts[Role.ABROAD]
            - counts[Role.DETAINED]
            - counts[Role.DECEASED]
        )

    def pass_on_business(self, households: np.ndarray) -> None:
        """A donju died: an adult at home in the household (the first one) takes the business
        over, if there is one."""
        people, hh = self.sim.people, self.sim.households
        households = sorted_distinct(households)
        households = households[self.role_count[Role.DONJU, households] == 0]
        heirs = np.full(len(households), -1, dtype=np.int64)
        for k in range(int(hh.size[households].max(initial=0))):
            candidate = np.minimum(hh.first_person[households] + k, people.n - 1)
            ok = (heirs < 0) & (k < hh.size[households])
            ok &= _IS_HEIR[people.role[candidate]]
            ok &= people.age_band[candidate] >= AgeBand.YOUNG
            heirs[ok] = candidate[ok]
        self.set_role(heirs[heirs >= 0], Role.DONJU)

    def refill_posts(self, rng) -> None:
        """Once a year, after deaths and retirements: the security service and local government
        keep their strength in each province, and every inminban has a head. New holders are
        drawn at random among the eligible of the province (persons of a province are one
        slice of the arrays, so a few random draws find them without a pass over everyone)."""
        people, hh, geo = self.sim.people, self.sim.households, self.sim.geography

        def ordinary(persons):
            role = people.role[persons]
            return (role == Role.WORKER) | (role == Role.FARMER)

        for post, wanted, eligible in (
            (Role.MSS_AGENT, self.agents_wanted, lambda x: ordinary(x) & ~people.female[x]),
            (
                Role.OFFICIAL,
                self.officials_wanted,
                lambda x: ordinary(x) & (people.age_band[x] >= AgeBand.ADULT),
            ),
        ):
            holding = np.flatnonzero(self.role_count[post])
            held = np.bincount(
                hh.province[holding], self.role_count[post, holding], minlength=geo.n
            )
            for prov in np.flatnonzero(held < wanted):
                chosen = self.draw_in_province(prov, int(wanted[prov] - held[prov]), eligible, rng)
                self.set_role(np.sort(chosen), post)
        self._appoint_inminban_heads(rng)

    def draw_in_province(self, province: int, n: int, eligible, rng) -> np.ndarray:
        """Up to ``n`` distinct persons of a province for whom ``eligible(persons)`` holds, at
        random. A province's persons are one slice of the arrays, so random draws in the slice
        find them without a pass over everyone (fewer only if almost no one is eligible)."""
        hh, people = self.sim.households, self.sim.people
        lo_hh, hi_hh = np.searchsorted(hh.province, [province, province + 1])
        lo = int(hh.first_person[lo_hh]) if lo_hh < hh.n else people.n
        hi = int(hh.first_person[hi_hh]) if hi_hh < hh.n else people.n
        chosen = np.zeros(0, dtype=np.int64)
        for _ in range(8):  # each round draws far more than needed; pools are large
            if hi <= lo or n <= 0:
                break
            draws = rng.integers(lo, hi, size=8 * n + 16)
            chosen = sorted_distinct(np.r_[chosen, draws[eligible(draws)]])
            if len(chosen) >= n:
                break
        return rng.permutation(chosen)[:n]

    def _appoint_inminban_heads(self, rng) -> None:
        """An inminban with no head at home gets one: an adult of one of its households."""
        people, hh = self.sim.people, self.sim.households
        headed = np.zeros(int(hh.inminban.max(initial=-1)) + 1, dtype=bool)
        headed[hh.inminban[np.flatnonzero(self.role_count[Role.INMINBAN_HEAD])]] = True
        if headed.all():
            return
        households = np.flatnonzero(~headed[hh.inminban])
        if len(households) == 0:
            return
        candidates = self.members(households)
        candidates = candidates[
            _IS_HEIR[people.role[candidates]] & (people.age_band[candidates] >= AgeBand.YOUNG)
        ]
        units = hh.inminban[people.household[candidates]]
        order = np.lexsort((rng.random(len(candidates)), units))
        first = np.r_[True, units[order][1:] != units[order][:-1]] if len(order) else order
        self.set_role(np.sort(candidates[order][first]), Role.INMINBAN_HEAD)

    def renumbered(self, change: Renumbering) -> None:
        """Role counts follow the households (the dead gone, movers and newborns counted where
        they now live), and caches that depend on the household numbering are rebuilt."""
        hh, geo, people = self.sim.households, self.sim.geography, self.sim.people
        counts = np.take(self.role_count, change.household_source, axis=1)
        counts[:, change.created] = 0
        counts[Role.DECEASED] = 0
        role = people.role[change.arrived]
        came_from = change.left >= 0
        np.subtract.at(counts, (role[came_from], change.left[came_from]), 1)
        np.add.at(counts, (role, people.household[change.arrived]), 1)
        self.role_count = counts
        # The dead count as dependants for a household's kind: only arrivals and departures
        # (and new households) change kinds.
        changed = sorted_distinct(
            np.r_[change.left[came_from], people.household[change.arrived], change.created]
        )
        hh.kind[changed] = _kind_from_counts(counts[:, changed])
        self.rural = np.flatnonzero(~hh.urban)
        self.moves += 1
        self._rural_inminban = _rural_inminban_ranges(hh.province, hh.urban, hh.inminban, geo.n)
        self._province_sizes = None

    def record(self, rec) -> None:
        people, hh, geo = self.sim.people, self.sim.households, self.sim.geography
        gone = self.role_count[Role.ABROAD] + self.role_count[Role.DECEASED]
        newborns = self.sim.demography.newborns_by_province()
        rec.add("population", people.n - int(gone.sum(dtype=np.int64)) + int(newborns.sum()))
        rec.add("households", hh.n)
        if self._province_sizes is None:  # households move between provinces only when rebuilt
            self._province_sizes = (
                group_sum(hh.province, geo.n, hh.size),
                group_sum(hh.province, geo.n),
            )
        registered, households = self._province_sizes
        persons = registered - group_sum(hh.province, geo.n, gone) + newborns
        rec.add_groups("population", persons, "province", geo.names)
        rec.add_groups("households", households, "province", geo.names)
        rec.add_groups(
            "persons_by_role",
            self.role_count.sum(axis=1, dtype=np.int64),
            "role",
            [label(r) for r in Role],
        )
        rec.add_groups(
            "households_by_kind",
            group_sum(hh.kind, len(HouseholdKind)),
            "household_kind",
            [label(k) for k in HouseholdKind],
        )


def _role_counts(
    role: np.ndarray, household: np.ndarray, first_person: np.ndarray, size: np.ndarray
) -> np.ndarray:
    """Members of each role in each household, as a (role, household) uint8 array.

    One pass over persons in blocks of whole households: each block's (household, role) pairs
    are counted with one bincount, so no temporary grows with the population.
    """
    n_roles, n_households = len(Role), len(first_person)
    counts = np.empty((n_roles, n_households), dtype=np.uint8)
    if np.any(size > np.iinfo(np.uint8).max):
        raise ValueError("households larger than 255 persons do not fit the role counts")
    block = 1 << 18  # households per block
    n_persons = len(role)
    for lo in range(0, n_households, block):
        hi = min(lo + block, n_households)
        start = first_person[lo]
        stop = first_person[hi] if hi < n_households else n_persons
        key = (household[start:stop] - lo).astype(np.int64) * n_roles + role[start:stop]
        counts[:, lo:hi] = np.bincount(key, minlength=(hi - lo) * n_roles).reshape(-1, n_roles).T
    return counts


def _kind_from_counts(counts: np.ndarray) -> np.ndarray:
    """Each household's kind: the highest kind among the roles it has members in."""
    kind = np.zeros(counts.shape[1], dtype=np.int8)
    for role in Role:
        if ROLE_TO_KIND[role] > 0:
            np.maximum(kind, np.where(counts[role] > 0, ROLE_TO_KIND[role], 0), out=kind)
    return kind


def _household_sizes(n_persons: int, mean_size: float, rng) -> np.ndarray:
    """Household sizes 1 + Binomial(8, .) with the given mean, summing exactly to n_persons."""
    if n_persons == 0:
        return np.zeros(0, dtype=np.int64)
    draws = 1 + rng.binomial(8, (mean_size - 1) / 8, size=int(n_persons / mean_size * 1.1) + 16)
    total = np.cumsum(draws)
    while total[-1] < n_persons:  # rare: extend the draws
        extra = 1 + rng.binomial(8, (mean_size - 1) / 8, size=len(draws))
        draws = np.concatenate([draws, extra])
        total = np.cumsum(draws)
    cut = int(np.searchsorted(total, n_persons))
    sizes = draws[: cut + 1].copy()
    sizes[-1] -= total[cut] - n_persons
    return sizes


def _rural_inminban_ranges(province, urban, inminban, n_provinces: int) -> np.ndarray:
    """First id and number of rural inminban per province, as a (2, province) array: a rural
    unit's ids are contiguous within its province, in the order households are stored."""
    ranges = np.zeros((2, n_provinces), dtype=np.int64)
    bounds = np.searchsorted(province, np.arange(n_provinces + 1))  # provinces are slices
    for prov in range(n_provinces):
        lo, hi = bounds[prov], bounds[prov + 1]
        units = inminban[lo:hi][~urban[lo:hi]]
        if len(units):
            ranges[:, prov] = units.min(), units.max() - units.min() + 1
    return ranges


def _inminban_ids(province: np.ndarray, urban: np.ndarray, per_unit: int) -> np.ndarray:
    """Split each (province, urban) segment evenly into round(n / per_unit) inminban.

    Even splitting keeps every unit within a quarter of ``per_unit`` once a segment holds two
    or more units, instead of leaving a small remainder unit at the end.
    """
    segment_start = np.r_[True, (province[1:] != province[:-1]) | (urban[1:] != urban[:-1])]
    seg_id = np.cumsum(segment_start) - 1
    seg_first = np.flatnonzero(segment_start)
    seg_size = np.diff(np.r_[seg_first, len(province)])
    units = np.maximum(1, np.rint(seg_size / per_unit)).astype(np.int64)
    position = np.arange(len(province)) - seg_first[seg_id]
    unit_in_segment = position * units[seg_id] // seg_size[seg_id]
    unit_offset = np.r_[0, np.cumsum(units)[:-1]]
    return (unit_offset[seg_id] + unit_in_segment).astype(np.int32)


def _sexes_and_ages(
    first_member: np.ndarray, structure: np.ndarray, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Each person's sex and age in months, drawn from ``structure`` (persons by sex and age in
    months); each household's first member is an adult (of marriageable age), and the others
    are drawn from what the first members leave, so the whole follows ``structure``."""
    adult = np.arange(structure.shape[1]) >= 12 * demography.MARRIAGE_AGE
    n, n_first = len(first_member), int(first_member.sum())
    wanted = structure / structure.sum() * n
    heads = structure * adult
    heads *= n_first / heads.sum()
    others = np.maximum(wanted - heads, 0)
    female = np.empty(n, dtype=bool)
    months = np.empty(n, dtype=np.int16)
    for members, weights in ((~first_member, others), (first_member, heads)):
        chosen = np.flatnonzero(members)
        cumulative = np.cumsum(weights.ravel())
        for lo, hi in _blocks(len(chosen)):
            draws = rng.random(hi - lo) * cumulative[-1]
            cell = np.minimum(np.searchsorted(cumulative, draws, side="right"), len(cumulative) - 1)
            female[chosen[lo:hi]] = cell >= structure.shape[1]
            months[chosen[lo:hi]] = cell % structure.shape[1]
    return female, months


BLOCK = 1 << 22  # persons per block for person-level draws: bounds the temporaries at ~16 MB


def _blocks(n: int, block: int = BLOCK):
    for lo in range(0, n, block):
        yield lo, min(lo + block, n)


def _weighted_sample(rng, items: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """``k`` distinct items drawn with probability proportional to ``weights`` at each draw
    (Efraimidis and Spirakis: the ``k`` largest ``log(u) / weight``), in one vectorised pass."""
    keys = np.log(rng.random(len(items)))
    keys /= weights
    if k >= len(items):
        return items.copy()
    return items[np.argpartition(-keys, k)[:k]]


def _below(rng, n: int, p) -> np.ndarray:
    """``rng.random(n, dtype=np.float32) < p``, drawn block by block: the same draws in the
    same order without an n-length float temporary. ``p`` is a number or, for per-person
    probabilities, a function ``p(lo, hi)`` giving those of persons ``lo .. hi - 1``."""
    flags = np.empty(n, dtype=bool)
    for lo, hi in _blocks(n):
        draws = rng.random(hi - lo, dtype=np.float32)
        np.less(draws, p(lo, hi) if callable(p) else p, out=flags[lo:hi])
    return flags
