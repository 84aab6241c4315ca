"""Official economy: state wages and rations from the public distribution system (PDS).

The state pays wages worth about $5 a month at market rates (002_d0e71752c93d23e1.txt) to
everyone holding a state post. Wages are new money from the state (an external account).

Rations come out of the state's grain: what it procures from the harvest (the residual after
farm families, the army, seed and losses have taken their share, so it falls faster than the
harvest), what it imports through the border and the food aid it receives. The grain is
released evenly over the year from one harvest to the next and handed out by priority: the
households of cadres and state security agents first, then Pyongyang's, then the other towns'
inminban in the order of their standing (key enterprises first) and of their province's grain
(units in the deficit north and east come later). Farm households live on their harvest
allocation and receive no rations.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.kernels import in_blocks
from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.food import HARVEST_MONTH, grain_deficit
from jangmadang.modules.official_economy_kernels import (
    NEVER,
    deliver_rations,
    sum_wages,
    unit_mouths,
)
from jangmadang.results import group_sum, mean_of_sums
from jangmadang.state import CADRE_ROLES, Renumbering, Role

FIRST_CLAIM_ROLES = (*CADRE_ROLES, Role.MSS_AGENT)  # rationed through their institutions first
PDS_YEAR_START = HARVEST_MONTH % 12 + 1  # November: the new harvest's grain is procured


class OfficialEconomyParams(ParameterModel):
    wage_usd: float = Field(5.0, ge=0)
    farmer_wage_multiplier: float = Field(0.425, ge=0, le=5)
    cadre_wage_multiplier: float = Field(2.0, ge=0, le=20)
    mss_wage_multiplier: float = Field(1.0, ge=0, le=20)
    ration_kg_per_person: float = Field(9.0, ge=0, le=30)
    procurement_kg_per_person: float = Field(18.0, ge=0, le=200)
    procurement_first_claims: float = Field(0.7, ge=0, lt=1)
    state_imports_kg_per_person: float = Field(5.0, ge=0, le=100)
    food_aid_kg_per_person: float = Field(3.0, ge=0, le=200)
    aid_to_pds_share: float = Field(0.5, ge=0, le=1)
    grain_trade_ban: float = Field(0.0, ge=0, le=1)
    ban_procurement_gain: float = Field(0.5, ge=0, le=3)
    deficit_province_delay: float = Field(0.3, ge=0, le=2)
    ration_order_noise: float = Field(0.15, ge=0, le=1)


class OfficialEconomy(Module):
    """Declares, for other modules: ``delivered`` (bool per household: rations this month) and
    ``months_since_ration`` (uint8 per household, 0 = this month, 255 = none remembered)."""

    name = "official_economy"
    Params = OfficialEconomyParams
    rules = {
        "official_economy.wages": "Holders of state posts receive a monthly wage from the state; fee-paying traders and housewife traders do not.",
        "official_economy.state_grain": "The state's grain is its procurement from the harvest after first claims, plus imports and food aid; it is released evenly until the next harvest.",
        "official_economy.grain_levy": "When private grain trade is banned the state collects more grain from farm households at the harvest.",
        "official_economy.rations": "Each month's grain goes first to cadres' and agents' households, then to Pyongyang's units, then to other town units by standing and province, while it lasts.",
    }

    def init_state(self) -> None:
        sim, p = self.sim, self.pars
        self.sim.ledger.open("state", external=True)
        hh, geo = sim.households, sim.geography
        # An inminban's province never changes (exile stays within it), nor does the number of units.
        n_units = int(hh.inminban.max(initial=-1)) + 1
        self.unit_province = np.zeros(n_units, dtype=np.int8)
        self.unit_province[hh.inminban] = hh.province
        # Place of each unit in the state's order of supply (lower is earlier): a standing drawn
        # once (the enterprises and offices its households work for), later in grain-deficit
        # provinces, and Pyongyang's units ahead of every other.
        self.unit_place = (
            self.rng.random(n_units)
            + p.deficit_province_delay * grain_deficit(geo)[self.unit_province]
            - 2.0 * (self.unit_province == geo.pyongyang)
        )
        self.delivered = np.zeros(hh.n, dtype=bool)
        self.distributed_kg = 0.0
        # The year before the start is taken as a normal one: the grain of a normal harvest,
        # imports and aid, with as much already handed out as the months since November.
        persons = float(sim.population.present().sum())
        yearly = self._procurement(1.0) + 12 * self._monthly_inflow()
        self.grain_kg = yearly * persons * self._months_left() / 12
        self.months_since_ration = self._past_year(yearly * persons / 12)

    def wage_by_role(self) -> np.ndarray:
        p = self.pars
        wage = np.zeros(len(Role))
        wage[[Role.WORKER, Role.INMINBAN_HEAD]] = p.wage_usd
        wage[Role.FARMER] = p.wage_usd * p.farmer_wage_multiplier
        wage[[Role.MANAGER, Role.PARTY_SECRETARY, Role.OFFICIAL]] = (
            p.wage_usd * p.cadre_wage_multiplier
        )
        wage[Role.MSS_AGENT] = p.wage_usd * p.mss_wage_multiplier
        return wage

    def renumbered(self, change: Renumbering) -> None:
        self.delivered = change.per_household(self.delivered, False)
        # A new household was formed out of a rationed one (the groom's): it keeps its count.
        self.months_since_ration = self.months_since_ration[change.household_source]

    def step(self) -> None:
        sim, p = self.sim, self.pars
        hh = sim.households
        sim.ledger.pay(
            "wages", "state", HOUSEHOLDS, self.household_wages(), source=IncomeSource.STATE
        )

        present = sim.population.present()
        persons = float(present.sum())
        if sim.month.month == PDS_YEAR_START:
            self.grain_kg += self._procurement(sim.food.harvest_index) * persons
            if p.grain_trade_ban > 0:
                self.grain_kg += self._levy(present, persons)
        # The grain in store is spread evenly over the months until the next procurement;
        # this month's imports and aid are handed out as they arrive.
        inflow = self._monthly_inflow() * persons
        budget = self.grain_kg / self._months_left() + inflow
        self.grain_kg += inflow

        first_claim = self._first_claim()
        served_first, served_rest, used = self._allocate(budget, present, first_claim)
        self.grain_kg -= used
        self.distributed_kg = used
        in_blocks(
            deliver_rations,
            hh.n,
            self.delivered,
            self.months_since_ration,
            hh.food_stock,
            hh.urban,
            first_claim,
            hh.inminban,
            served_first,
            served_rest,
            present,
            p.ration_kg_per_person,
        )

    def _procurement(self, harvest_index: float) -> float:
        """Grain the state procures from a harvest, kg per person of the population: what is
        left once the first claims (a share of a normal harvest) are met, scaled so a normal
        harvest gives ``procurement_kg_per_person``."""
        p = self.pars
        claims = p.procurement_first_claims
        return p.procurement_kg_per_person * max(0.0, harvest_index - claims) / (1 - claims)

    def _monthly_inflow(self) -> float:
        """Imports (through the border and sanctions) and food aid (through the border) reaching
        the state's grain in a month, kg per person of the population."""
        p, world = self.pars, self.sim.pars.world
        imports = p.state_imports_kg_per_person * world.import_capacity
        aid = p.food_aid_kg_per_person * p.aid_to_pds_share * world.border_trade
        return (imports + aid) / 12

    def _levy(self, present: np.ndarray, persons: float) -> float:
        """Under a ban on private grain trade the state collects extra grain from farm
        households' new harvest (what they would have sold), in proportion to their members at
        home and at most what they hold; returns the kg collected."""
        p, hh = self.pars, self.sim.households
        farm = self.sim.population.rural
        wanted = p.grain_trade_ban * p.ban_procurement_gain * p.procurement_kg_per_person
        farm_persons = float(present[farm].sum())
        if farm_persons == 0:
            return 0.0
        per_person = np.float32(wanted * persons / farm_persons)
        taken = np.minimum(hh.food_stock[farm], per_person * present[farm].astype(np.float32))
        hh.food_stock[farm] -= taken
        return float(taken.sum(dtype=np.float64))

    def _months_left(self) -> int:
        """Months until the next procurement, this one included (12 in November, 1 in October)."""
        return (PDS_YEAR_START - 1 - self.sim.month.month) % 12 + 1

    def _first_claim(self) -> np.ndarray:
        """Households with a cadre or an agent: supplied through their institutions first."""
        counts = self.sim.population.role_count
        members = counts[FIRST_CLAIM_ROLES[0]].astype(np.int16)
        for role in FIRST_CLAIM_ROLES[1:]:
            members += counts[role]
        return members > 0

    def _allocate(self, budget: float, present: np.ndarray, first_claim: np.ndarray):
        """Hand out ``budget`` kg: first to households with a first claim, unit by unit in the
        order of supply, then to the other town households in the same order; a unit is served
        whole or not at all, and the handing out stops at the first unit the rest cannot
        cover. Returns the units served in each round and the kg used."""
        hh, p = self.sim.households, self.pars
        n_units = len(self.unit_place)
        first = np.empty(n_units, dtype=np.int64)
        rest = np.empty(n_units, dtype=np.int64)
        unit_mouths(hh.inminban, hh.urban, first_claim, present, first, rest)
        cost_first, cost_rest = p.ration_kg_per_person * first, p.ration_kg_per_person * rest
        place = self.unit_place + p.ration_order_noise * self.rng.standard_normal(n_units)
        order = np.argsort(place)  # places are continuous draws: no ties to break
        served_first = np.zeros(n_units, dtype=bool)
        served_rest = np.zeros(n_units, dtype=bool)
        used = 0.0
        for cost, served in ((cost_first, served_first), (cost_rest, served_rest)):
            cumulative = np.cumsum(cost[order])
            k = int(np.searchsorted(cumulative, budget - used, side="right"))
            served[order[:k]] = True
            if k:
                used += float(cumulative[k - 1])
            if k < n_units:
                break
        return served_first, served_rest, used

    def _past_year(self, budget: float) -> np.ndarray:
        """Months since each household's last ration at the start, from twelve months of
        handing out ``budget`` each, as in a normal year."""
        hh = self.sim.households
        present = self.sim.population.present()
        first_claim = self._first_claim()
        months = np.full(hh.n, NEVER, dtype=np.uint8)
        for ago in range(12, 0, -1):
            served_first, served_rest, _ = self._allocate(budget, present, first_claim)
            got = hh.urban & np.where(
                first_claim, served_first[hh.inminban], served_rest[hh.inminban]
            )
            months[got] = ago
        return months

    def household_wages(self) -> np.ndarray:
        """Each household's wages: members in each role times the role's wage.

        Read from the per-household role counts, so no pass over persons is needed. Roles
        paid the same wage are counted together before multiplying (one compiled pass over
        households, ``official_economy_kernels.sum_wages``).
        """
        wage = self.wage_by_role()
        values = np.unique(wage[wage != 0])
        roles = [np.flatnonzero(wage == value) for value in values]
        counts = self.sim.population.role_count
        wages = np.empty(counts.shape[1])
        in_blocks(
            sum_wages,
            counts.shape[1],
            wages,
            counts,
            np.concatenate([np.zeros(0, dtype=np.int64), *roles]),
            np.cumsum([len(r) for r in roles], dtype=np.int64),
            values,
        )
        return wages

    def record(self, rec) -> None:
        hh, geo = self.sim.households, self.sim.geography
        # Shares among urban (non-farm) households: only they are rationed.
        urban = group_sum(hh.province, geo.n, hh.urban)
        n_urban = max(int(urban.sum()), 1)
        delivered = group_sum(hh.province, geo.n, self.delivered)
        none = group_sum(hh.province, geo.n, hh.urban & (self.months_since_ration >= 12))
        for name, count in (
            ("ration_delivery_share", delivered),
            ("households_no_ration_12m_share", none),
        ):
            rec.add(name, count.sum() / n_urban)
            rec.add_groups(name, mean_of_sums(count, urban), "province", geo.names)
        persons = max(float(self.sim.population.present().sum()), 1.0)
        rec.add("rations_kg_per_person", self.distributed_kg / persons)
        rec.add("state_grain_kg_per_person", self.grain_kg / persons)
