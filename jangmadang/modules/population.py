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
from pydantic import Field, PositiveInt, model_validator

from jangmadang.module import Module, ParameterModel
from jangmadang.results import group_sum
from jangmadang.state import (
    CADRE_ROLES,
    ROLE_TO_KIND,
    AgeBand,
    ArrayStruct,
    HouseholdKind,
    Role,
    count_runs,
    label,
    sorted_distinct,
)

# Roles tied to a town that an exiled household's members lose (traders keep trading).
TOWN_POSTS = (Role.WORKER, *CADRE_ROLES, Role.MSS_AGENT, Role.INMINBAN_HEAD)


class PopulationParams(ParameterModel):
    full_size: PositiveInt = 25_970_000
    scale: float = Field(0.01, gt=0, le=1)
    persons: PositiveInt | None = None  # an exact size; overrides scale when given
    mean_household_size: float = Field(3.96, ge=1.5, le=8)
    households_per_inminban: int = Field(30, ge=20, le=50)
    urban_share: float = Field(0.606, ge=0, le=1)
    female_share: float = Field(0.51, ge=0, le=1)
    age_band_shares: list[float] = Field(default_factory=lambda: [0.23, 0.24, 0.22, 0.18, 0.13])
    married_share_young: float = Field(0.35, ge=0, le=1)
    married_share_older: float = Field(0.85, ge=0, le=1)
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

    @model_validator(mode="after")
    def _check(self):
        if self.persons is not None and self.persons > self.full_size:
            raise ValueError(
                f"persons ({self.persons}) exceeds full_size ({self.full_size}); "
                "1:1 is the largest population"
            )
        for key, shares, n in (
            ("age_band_shares", self.age_band_shares, len(AgeBand)),
            ("cadre_kind_shares", self.cadre_kind_shares, len(CADRE_ROLES)),
        ):
            if len(shares) != n or any(s < 0 for s in shares) or abs(sum(shares) - 1) > 1e-6:
                raise ValueError(f"{key} must be {n} non-negative shares summing to 1")
        return self

    @property
    def size(self) -> int:
        if self.persons is not None:
            return self.persons
        return max(1, round(self.full_size * self.scale))

    @property
    def effective_scale(self) -> float:
        return self.size / self.full_size


@dataclass(frozen=True)
class Geography:
    names: list[str]
    census: np.ndarray
    border: np.ndarray  # bool per province
    river: list[str]  # "tumen", "yalu" or "" (interior)
    source: str

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def pyongyang(self) -> int:
        return self.names.index("Pyongyang")

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
        "population.census_scaling": "Province sizes follow the 2008 census, scaled to the run's total.",
        "population.households": "Persons live in households of about four; households form inminban of about 30.",
        "population.roles": "Working-age men hold assigned state jobs (factory in towns, farm in the countryside); many married women trade.",
        "population.donju": "About 1% of households are donju, holding wealth above a threshold that is far higher in Pyongyang.",
        "population.mss_placement": "State security agents are placed by province population, more densely at the Chinese border.",
    }

    def init_state(self) -> None:
        sim, p, rng = self.sim, self.pars, self.rng
        geo = sim.geography
        persons_per_province = apportion(p.size, geo.census.astype(np.float64))

        sizes, province, urban = [], [], []
        for prov, n_persons in enumerate(persons_per_province):
            s = _household_sizes(int(n_persons), p.mean_household_size, rng)
            n_urban = round(len(s) * p.urban_share)
            sizes.append(s)
            province.append(np.full(len(s), prov, dtype=np.int8))
            urban.append(np.arange(len(s)) < n_urban)
        size = np.concatenate(sizes).astype(np.int16)
        hh = sim.households = ArrayStruct(len(size))
        hh.set("size", size)
        hh.set("province", np.concatenate(province))
        hh.set("urban", np.concatenate(urban))
        hh.set("first_person", (np.cumsum(size, dtype=np.int64) - size).astype(np.int64))
        hh.set("inminban", _inminban_ids(hh.province, hh.urban, p.households_per_inminban))

        people = sim.people = ArrayStruct(int(size.sum()))
        people.set("household", np.repeat(np.arange(hh.n, dtype=np.int32), size))
        first = np.zeros(people.n, dtype=bool)
        first[hh.first_person] = True
        people.set("female", _below(rng, people.n, p.female_share))
        people.set("age_band", _age_bands(first, p.age_band_shares, rng))
        del first

        def married_p(lo: int, hi: int) -> np.ndarray:
            band = people.age_band[lo:hi]
            return np.where(
                band == AgeBand.YOUNG,
                p.married_share_young,
                np.where(band >= AgeBand.ADULT, p.married_share_older, 0.0),
            )

        people.set("married", _below(rng, people.n, married_p))
        self._assign_roles(people, hh, geo, p, rng)
        hh.add("kind", np.int8)
        self.role_count = np.zeros((len(Role), 0), dtype=np.uint8)  # (role, household) counts
        self.update_household_kind()
        self.rural = np.flatnonzero(~hh.urban)  # farm households; changes only by exile
        self.moves = 0  # households exiled so far: modules caching inminban membership check it
        self._rural_inminban = _rural_inminban_ranges(hh.province, hh.urban, hh.inminban, geo.n)
        self._province_sizes = None

    def _assign_roles(self, people, hh, geo, p, rng) -> None:
        person_urban = hh.urban[people.household]
        working = (people.age_band >= AgeBand.YOUNG) & (people.age_band <= AgeBand.MIDDLE)
        role = np.full(people.n, Role.DEPENDANT, dtype=np.int8)
        role[working & person_urban] = Role.WORKER
        role[working & ~person_urban] = Role.FARMER
        del person_urban
        trades = working & people.female & people.married
        trades &= _below(rng, people.n, p.married_women_trader_share)
        role[trades] = Role.TRADER
        del trades

        # Household cash: log-normal, with donju households (urban) lifted above the threshold.
        cash = p.initial_cash_median_usd * np.exp(p.initial_cash_sigma * rng.standard_normal(hh.n))
        urban_households = np.flatnonzero(hh.urban)
        n_donju = min(len(urban_households), round(p.donju_household_share * hh.n))
        donju = np.sort(rng.choice(urban_households, size=n_donju, replace=False))
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
        cadres = rng.choice(eligible, size=n_cadres, replace=False)
        kinds = rng.choice(
            np.array(CADRE_ROLES, dtype=np.int8), size=n_cadres, p=p.cadre_kind_shares
        )
        role[cadres] = kinds

        # State security agents: men of working age, by province population, denser at the border.
        weights = geo.census * np.where(geo.border, p.mss_border_weight, 1.0)
        per_province = apportion(
            round(p.mss_agents * p.effective_scale), weights.astype(np.float64)
        )
        person_province = hh.province[people.household]
        candidates = working & ~people.female & ((role == Role.WORKER) | (role == Role.FARMER))
        for prov, n_agents in enumerate(per_province):
            pool = np.flatnonzero(candidates & (person_province == prov))
            chosen = rng.choice(pool, size=min(int(n_agents), len(pool)), replace=False)
            role[chosen] = Role.MSS_AGENT
        hh.set("cash", cash)
        people.set("role", role)

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
        for old_role in Role:
            leaving = old == old_role
            if leaving.any():
                where, count = count_runs(households[leaving])
                self.role_count[old_role, where] -= count
        changed, count = count_runs(households)
        self.role_count[role, changed] += count
        people.role[persons] = role
        hh.kind[changed] = _kind_from_counts(self.role_count[:, changed])
        for module in self.sim.modules:
            module.role_changed(persons, role)

    def members(self, households: np.ndarray) -> np.ndarray:
        """Every person of the given households (ascending households give ascending persons)."""
        hh = self.sim.households
        households = np.asarray(households)
        size = hh.size[households].astype(np.int64)
        start = np.repeat(hh.first_person[households] - np.cumsum(size) + size, size)
        return start + np.arange(size.sum())

    def assign_ordinary_job(self, persons: np.ndarray) -> None:
        """Put persons back to an assigned state job: a factory in town, a farm in the
        countryside (after dismissal, release from a labour camp or return from abroad)."""
        urban = self.sim.households.urban[self.sim.people.household[persons]]
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
        posted = np.isin(people.role[persons], TOWN_POSTS)
        self.set_role(persons[posted], Role.FARMER)
        self.rural = np.flatnonzero(~hh.urban)
        self.moves += len(households)

    def present(self) -> np.ndarray:
        """Members living at home: registered members less those abroad or detained."""
        counts = self.role_count
        return self.sim.households.size - counts[Role.ABROAD] - counts[Role.DETAINED]

    def record(self, rec) -> None:
        people, hh, geo = self.sim.people, self.sim.households, self.sim.geography
        abroad = self.role_count[Role.ABROAD]
        rec.add("population", people.n - int(abroad.sum(dtype=np.int64)))
        rec.add("households", hh.n)
        if self._province_sizes is None:  # households never move between provinces
            self._province_sizes = (
                group_sum(hh.province, geo.n, hh.size),
                group_sum(hh.province, geo.n),
            )
        registered, households = self._province_sizes
        persons = registered - group_sum(hh.province, geo.n, abroad)
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
    for prov in range(n_provinces):
        units = inminban[(province == prov) & ~urban]
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


def _age_bands(first_member: np.ndarray, shares: list[float], rng) -> np.ndarray:
    """Age bands from the census shares; each household's first member is an adult."""
    shares = np.asarray(shares)
    bands = np.empty(len(first_member), dtype=np.int8)
    for lo, hi in _blocks(len(first_member)):  # the same draws as one call, in less memory
        bands[lo:hi] = rng.choice(len(shares), size=hi - lo, p=shares)
    adult_shares = shares.copy()
    adult_shares[AgeBand.CHILD] = 0
    adult_shares /= adult_shares.sum()
    n_first = int(first_member.sum())
    bands[first_member] = rng.choice(len(shares), size=n_first, p=adult_shares)
    return bands


BLOCK = 1 << 22  # persons per block for person-level draws: bounds the temporaries at ~16 MB


def _blocks(n: int, block: int = BLOCK):
    for lo in range(0, n, block):
        yield lo, min(lo + block, n)


def _below(rng, n: int, p) -> np.ndarray:
    """``rng.random(n, dtype=np.float32) < p``, drawn block by block: the same draws in the
    same order without an n-length float temporary. ``p`` is a number or, for per-person
    probabilities, a function ``p(lo, hi)`` giving those of persons ``lo .. hi - 1``."""
    flags = np.empty(n, dtype=bool)
    for lo, hi in _blocks(n):
        draws = rng.random(hi - lo, dtype=np.float32)
        np.less(draws, p(lo, hi) if callable(p) else p, out=flags[lo:hi])
    return flags
