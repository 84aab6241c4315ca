"""Defection: who leaves, the months in transit through China, capture and return, settlement.

Each month every adult at home may leave. The monthly hazard is a product of factors: the
province's distance to the Chinese border, the state of the border, the guards (a crackdown from
late 2011, then tightening every year), the reach of the brokers' network, whether the
person is tied to an assigned workplace (men are; married women who trade are freer, so most who
leave are women), relatives already in the South (who arrange and pay the brokers), the
household's cash against the brokers' price, hunger and the household's loyalty. The mechanism,
not a quota, decides who goes.

The brokers' network is the module's own state: it grows with the defectors settled in the South
(who pay brokers for their kin and pass on contacts) and with recent crossings, and its reach
raises everyone's hazard. This chain migration raised arrivals through the 2000s; the crackdown
cut them, and raised the brokers' price, after 2011.

A person who leaves keeps their row and their household link (the link that remittances later
follow) and takes the role ``ABROAD``, so they stop earning, trading and eating at home. In
transit they may be caught and sent back, to be punished through the shared enforcement
function (most go to a labour camp for months, then home to an assigned job); otherwise they
reach South Korea and settle.

Defectors are kept in a small registry, one row per person who ever left (tens of thousands at
full scale), so the monthly rules never scan 26 million persons.
"""

from __future__ import annotations

import csv
from datetime import date
from importlib import resources

import numpy as np
from pydantic import Field

from jangmadang import streams
from jangmadang.kernels import in_blocks
from jangmadang.ledger import HOUSEHOLDS
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.defection_kernels import mark_departures
from jangmadang.modules.enforcement import Sentence
from jangmadang.results import group_sum
from jangmadang.state import Renumbering, Role
from jangmadang.timeline import Month, month_index

# Stages in the registry
TRANSIT, SETTLED, RETURNED = 1, 2, 3

# How free each role is to leave, relative to a trader (free to move for business).
FREE_ROLES = (Role.TRADER, Role.DONJU)
TIED_ROLES = (Role.WORKER, Role.FARMER, Role.INMINBAN_HEAD)
OFFICIAL_ROLES = (Role.MANAGER, Role.PARTY_SECRETARY, Role.OFFICIAL, Role.MSS_AGENT)


class DefectionParams(ParameterModel):
    base_hazard: float = Field(3.52e-5, ge=0, le=0.01)
    tumen_multiplier: float = Field(12.9, ge=1, le=200)
    yalu_multiplier: float = Field(3.0, ge=1, le=200)
    restricted_multiplier: float = Field(0.5, ge=0, le=1)
    closed_multiplier: float = Field(0.03, ge=0, le=1)
    crackdown_start: Month = date(2011, 9, 1)
    crackdown_multiplier: float = Field(0.48, ge=0, le=1)
    guard_tightening_per_year: float = Field(0.08, ge=0, le=0.5)
    network_half_reach: float = Field(4_550.0, gt=0)
    network_memory_months: float = Field(24.0, ge=1, le=240)
    tied_multiplier: float = Field(0.244, ge=0, le=1)
    official_multiplier: float = Field(0.02, ge=0, le=1)
    relatives_abroad_multiplier: float = Field(6.0, ge=1, le=50)
    food_insecure_multiplier: float = Field(2.0, ge=1, le=10)
    trip_cost_usd: float = Field(2_000.0, gt=0)
    pay_later_share: float = Field(0.3, ge=0, le=1)
    upfront_payment_share: float = Field(0.3, ge=0, le=1)
    transit_months: float = Field(4.0, ge=1, le=60)
    capture_hazard: float = Field(0.04, ge=0, le=1)
    capture_multiplier_closed: float = Field(3.0, ge=1, le=20)
    returnee_camp_share: float = Field(0.8, ge=0, le=1)
    returnee_camp_months: int = Field(12, ge=0, le=120)
    returnee_fine_usd: float = Field(50.0, ge=0)
    # Full-scale persons flown from a third country as one group this month (an event's)
    airlift_persons: int = Field(0, ge=0, le=10_000)


class Defection(Module):
    name = "defection"
    Params = DefectionParams
    rules = {
        "defection.hazard": "Each adult at home may leave each month with a hazard that multiplies the province (Tumen border, Yalu border, interior), border state, guard tightening, the brokers' network, ties to a workplace, relatives abroad, cash against the trip's cost, hunger and loyalty.",
        "defection.broker_network": "The brokers' network grows with the defectors settled in the South and with recent crossings (a memory that fades); its reach, network / (network + half reach), multiplies everyone's hazard: chain migration that feeds on itself until the network reaches most of those it can.",
        "defection.crackdown": "From the border crackdown of late 2011, as Kim Jong Un took over, the hazard drops at once and keeps falling as guarding tightens each year; brokers' prices rise in proportion to the difficulty.",
        "defection.who_leaves": "Within a household, who leaves is drawn by how free each member is to move: traders far more than those tied to a workplace, officials hardly ever.",
        "defection.trip_payment": "Without relatives in the South the household pays part of the trip's cost to brokers up front; relatives in the South pay for those who have them.",
        "defection.transit": "In transit a defector is caught and sent back with a monthly hazard, higher when the border is closed; otherwise they reach South Korea after a few months on average.",
        "defection.airlift": "In a month with a group airlift, that many of those in transit (at the run's scale, as many as there are), the longest on the road first, reach South Korea at once.",
        "defection.return_punished": "A defector caught in transit is sent back and punished: most are held in a labour camp for months; those who escape the camp are fined; families may buy their way out.",
        "defection.initial_stock": "Defectors who arrived before the first simulated month start settled in the South, and those who left in the last months before it start in transit, linked to households drawn by the same hazard weights; the brokers' network starts from them.",
    }

    def init_state(self) -> None:
        sim = self.sim
        sim.ledger.open("brokers", external=True)  # brokers in China: money leaves the country
        self.registry = _empty_registry()
        self.arrivals = self.departures = self.captured = 0
        self.arrivals_by = np.zeros((sim.geography.n, 2), dtype=np.int64)  # province x sex
        # Recent crossings the brokers' network remembers, in full-scale persons
        self.crossings = 0.0
        sim.enforcement.declare("returned_defector")
        sim.households.add("relatives_abroad", np.int8)
        self._seed_initial_stock()

    # -- monthly rule ------------------------------------------------------------------------

    def step(self) -> None:
        self.arrivals = self.departures = self.captured = 0
        self.arrivals_by[:] = 0
        self._advance_registry()
        self._depart()
        p = self.pars
        self.crossings += self.departures / self._scale - self.crossings / p.network_memory_months

    @property
    def _scale(self) -> float:
        return self.sim.pars.population.effective_scale

    def network(self) -> float:
        """The brokers' network in full-scale persons: defectors settled in the South, who
        pay brokers for their kin and pass on news, plus the crossings it still remembers."""
        settled = np.count_nonzero(self.registry["stage"] == SETTLED)
        return settled / self._scale + self.crossings

    def guard(self) -> float:
        """The border guard factor: 1 before the crackdown, then a drop and a yearly fall."""
        p = self.pars
        months = self.month_index - month_index(p.crackdown_start)
        if months < 0:
            return 1.0
        return p.crackdown_multiplier * np.exp(-p.guard_tightening_per_year * months / 12)

    def trip_cost(self) -> float:
        """Brokers' price for the whole trip: the pre-crackdown price over the guard factor."""
        return self.pars.trip_cost_usd / self.guard()

    def _leaving(self) -> np.ndarray:
        """The households from whom someone leaves this month (one compiled pass over
        households, ``defection_kernels.mark_departures``): the hazard is the sum of the
        members' hazards."""
        sim, p, world = self.sim, self.pars, self.sim.pars.world
        hh = sim.households
        border = {
            "open": 1.0,
            "restricted": p.restricted_multiplier,
            "closed": p.closed_multiplier,
        }[world.border]
        size = self.network()
        network = size / (size + p.network_half_reach)  # its reach
        scale = p.base_hazard * border * self.guard() * network
        weight = _role_weights(p)
        roles = np.flatnonzero(weight)
        leaving = np.empty(hh.n, dtype=bool)
        in_blocks(
            mark_departures,
            hh.n,
            leaving,
            sim.population.role_count,
            roles,
            weight[roles],
            hh.province,
            hh.relatives_abroad,
            hh.food_insecure,
            hh.loyalty,
            hh.cash,
            scale * _province_multipliers(sim.geography, p),
            p.relatives_abroad_multiplier,
            p.food_insecure_multiplier,
            *sim.loyalty.defection_feedback(),
            p.pay_later_share,
            self.trip_cost(),
            streams.key(sim.seed, self.name, sim.month, "departures"),
        )
        return np.flatnonzero(leaving)

    def _depart(self) -> None:
        sim, p = self.sim, self.pars
        hh = sim.households
        leaving = self._leaving()
        if len(leaving) == 0:
            return
        persons = np.array([self._choose_member(h) for h in leaving], dtype=np.int64)
        keep = persons >= 0
        persons, leaving = persons[keep], leaving[keep]

        payers = leaving[hh.relatives_abroad[leaving] == 0]
        fares = np.minimum(hh.cash[payers], p.upfront_payment_share * self.trip_cost())
        sim.ledger.pay("defection_trip", HOUSEHOLDS, "brokers", fares, debit_idx=payers)

        sim.population.set_role(persons, Role.ABROAD)
        self._register(persons, TRANSIT, months=0, left=self.month_index)
        self.departures = len(persons)

    def _choose_member(self, household: int) -> int:
        """One adult member at home, drawn by how free each is to move; -1 if none."""
        people, hh, p = self.sim.people, self.sim.households, self.pars
        lo = int(hh.first_person[household])
        members = np.arange(lo, lo + int(hh.size[household]))
        weight = _role_weights(p)[people.role[members]]
        total = weight.sum()
        if total <= 0:
            return -1
        return int(members[np.searchsorted(np.cumsum(weight), self.rng.random() * total)])

    def _advance_registry(self) -> None:
        """Move defectors along: transit -> caught and punished, or settled in the South."""
        sim, p, reg = self.sim, self.pars, self.registry
        reg["months"] += 1
        closed = sim.pars.world.border == "closed"

        transit = np.flatnonzero(reg["stage"] == TRANSIT)
        capture = p.capture_hazard * (p.capture_multiplier_closed if closed else 1.0)
        draw = self.rng.random(len(transit))
        off_road = draw < capture + (1 - capture) / p.transit_months  # caught or arrived
        caught = transit[draw < capture]
        arrived = transit[(draw >= capture) & off_road]

        self._settle(arrived)
        if p.airlift_persons:
            self._settle(self._airlifted(transit[~off_road]))

        reg["stage"][caught], reg["months"][caught] = RETURNED, 0
        persons = reg["person"][caught]
        sentence = Sentence(
            fine_usd=p.returnee_fine_usd,
            camp=p.returnee_camp_share,
            camp_months=p.returnee_camp_months,
        )
        sim.population.assign_ordinary_job(np.sort(persons))  # home, then punished
        sim.enforcement.punish("returned_defector", persons, sentence)
        self.captured = len(caught)

    def _settle(self, rows: np.ndarray) -> None:
        """Registry rows that reach South Korea this month."""
        reg = self.registry
        reg["stage"][rows], reg["months"][rows] = SETTLED, 0
        reg["arrived"][rows] = self.month_index
        np.add.at(self.sim.households.relatives_abroad, reg["household"][rows], 1)
        np.add.at(self.arrivals_by, (reg["province"][rows], reg["female"][rows]), 1)
        self.arrivals += len(rows)

    def _airlifted(self, transit: np.ndarray) -> np.ndarray:
        """The rows still in transit that a group airlift flies out: ``airlift_persons`` at
        the run's scale (a binomial draw), the longest on the road first (those who had got
        as far as a third country), all of them if fewer are on the road."""
        flown = int(self.rng.binomial(self.pars.airlift_persons, min(self._scale, 1.0)))
        order = np.argsort(-self.registry["months"][transit], kind="stable")
        return transit[order[:flown]]

    # -- registry ------------------------------------------------------------------------------

    def renumbered(self, change: Renumbering) -> None:
        """Registry rows stay (remittances are aligned with them); a defector who came back
        and died since keeps the row with person -1."""
        reg, people = self.registry, self.sim.people
        person = change.persons(reg["person"]).astype(np.int64)
        household = change.households(reg["household"])
        alive = person >= 0
        household[alive] = people.household[person[alive]]  # a returnee may have married away
        reg["person"], reg["household"] = person, household.astype(np.int32)

    def _register(self, persons: np.ndarray, stage: int, months, left, arrived=-1) -> None:
        sim = self.sim
        household = sim.people.household[persons]
        rows = {
            "person": persons.astype(np.int64),
            "household": household.astype(np.int32),
            "province": sim.households.province[household].astype(np.int8),
            "female": sim.people.female[persons].astype(np.int8),
            "stage": np.full(len(persons), stage, dtype=np.int8),
            "months": np.broadcast_to(np.asarray(months, dtype=np.int16), len(persons)).copy(),
            "left": np.broadcast_to(np.asarray(left, dtype=np.int32), len(persons)).copy(),
            "arrived": np.broadcast_to(np.asarray(arrived, dtype=np.int32), len(persons)).copy(),
        }
        for key, values in rows.items():
            self.registry[key] = np.concatenate([self.registry[key], values])

    def _seed_initial_stock(self) -> None:
        """Defectors who left before the first simulated month, linked to origin households,
        and the brokers' network they make.

        Arrival years of the settled follow the published series. Those still in transit are
        as many as the flow of the start year (the latest published year up to it) keeps on
        the road: monthly arrivals x the mean months in transit / the share who arrive. The
        network's memory of crossings is filled from the series the same way, so a run starts
        with the network the published history built. Households are drawn with the same
        weights as the monthly hazard (province, who is free to move).
        """
        sim, p, rng = self.sim, self.pars, self.rng
        first_year, scale = sim.month.year, self._scale
        published = load_arrivals()
        arrivals = {year: n for year, n in published.items() if year < first_year}
        per_year = {y: int(rng.binomial(n, scale)) for y, n in arrivals.items()}
        settled = sum(per_year.values())

        exit_rate = p.capture_hazard + (1 - p.capture_hazard) / p.transit_months
        arrive_share = (1 - p.capture_hazard) / p.transit_months / exit_rate
        flow_year = max((y for y in published if y <= first_year), default=None)
        monthly = published[flow_year] / 12 if flow_year is not None else 0.0
        on_road = monthly / arrive_share / exit_rate  # departures a month x months on the road
        transit = int(rng.poisson(on_road * scale))
        self.crossings = _remembered_crossings(
            arrivals, first_year, p.network_memory_months, arrive_share
        )

        total = settled + transit
        if total == 0:
            return
        people, hh = sim.people, sim.households
        province = _province_multipliers(sim.geography, p)
        weight = _role_weights(p)[people.role] * province[hh.province[people.household]]
        chosen = rng.choice(people.n, size=total, replace=False, p=weight / weight.sum())
        order = rng.permutation(total)
        away, on_the_way = np.sort(chosen[order[:settled]]), np.sort(chosen[order[settled:]])
        years = np.repeat(np.array(list(per_year), dtype=np.int32), list(per_year.values()))
        arrived = years[rng.permutation(settled)] * 12 + rng.integers(0, 12, settled)
        months_settled = np.maximum(self.month_index - arrived, 0)
        sim.population.set_role(np.sort(chosen), Role.ABROAD)
        self._register(away, SETTLED, months=months_settled, left=arrived, arrived=arrived)
        self._register(on_the_way, TRANSIT, months=0, left=self.month_index - 1)
        np.add.at(hh.relatives_abroad, people.household[away], 1)

    # -- results -------------------------------------------------------------------------------

    def record(self, rec) -> None:
        geo, reg = self.sim.geography, self.registry
        stage = reg["stage"]
        rec.add("defections", self.departures)
        rec.add("arrivals_south_korea", self.arrivals)
        rec.add_groups("arrivals_south_korea", self.arrivals_by.sum(axis=1), "province", geo.names)
        rec.add_groups(
            "arrivals_south_korea", self.arrivals_by.sum(axis=0), "sex", ["male", "female"]
        )
        rec.add("captured_in_transit", self.captured)
        rec.add("in_transit", int((stage == TRANSIT).sum()))
        rec.add("defectors_in_south_korea", int((stage == SETTLED).sum()))
        rec.add("broker_network", self.network())
        rec.add("trip_cost_usd", self.trip_cost())
        returned = reg["person"][stage == RETURNED]
        returned = returned[returned >= 0]  # -1: died after coming back
        held = self.sim.people.role[returned] == Role.DETAINED
        rec.add("detained_returnees", int(held.sum()))
        with_relatives = self.sim.households.relatives_abroad > 0
        rec.add("households_with_relatives_abroad", int(with_relatives.sum()))
        rec.add_groups(
            "households_with_relatives_abroad",
            group_sum(self.sim.households.province, geo.n, with_relatives),
            "province",
            geo.names,
        )


def load_arrivals() -> dict[int, int]:
    """Published arrivals in South Korea per year (Ministry of Unification)."""
    text = resources.files("jangmadang.data").joinpath("arrivals.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {int(r["year"]): int(r["arrivals"]) for r in rows}


def _remembered_crossings(
    arrivals: dict[int, int], first_year: int, memory_months: float, arrive_share: float
) -> float:
    """The network's memory of crossings at the start of ``first_year`` (full-scale persons):
    each earlier year's departures (published arrivals / the share who arrive), spread evenly
    over its months, fading by ``1 - 1 / memory_months`` a month as in ``Defection.step``.
    The first row of the series is a stock (everyone up to that year), not a year's flow."""
    keep = 1 - 1 / memory_months
    remembered = 0.0
    for year in sorted(arrivals)[1:]:
        ago = np.arange(12 * (first_year - year) - 11, 12 * (first_year - year) + 1)
        remembered += arrivals[year] / 12 / arrive_share * float(np.sum(keep ** (ago - 1)))
    return remembered


def _province_multipliers(geography, p: DefectionParams) -> np.ndarray:
    """Hazard multiplier per province: crossings happen mostly over the narrow Tumen river."""
    by_river = {"tumen": p.tumen_multiplier, "yalu": p.yalu_multiplier, "": 1.0}
    return np.array([by_river[river] for river in geography.river])


def _role_weights(p: DefectionParams) -> np.ndarray:
    weight = np.zeros(len(Role))
    weight[list(FREE_ROLES)] = 1.0
    weight[list(TIED_ROLES)] = p.tied_multiplier
    weight[list(OFFICIAL_ROLES)] = p.official_multiplier
    return weight  # dependants (children, the elderly) do not leave on their own


def _empty_registry() -> dict[str, np.ndarray]:
    dtypes = {
        "person": np.int64,
        "household": np.int32,
        "province": np.int8,
        "female": np.int8,
        "stage": np.int8,
        "months": np.int16,
        "left": np.int32,
        "arrived": np.int32,
    }
    return {key: np.zeros(0, dtype=dtype) for key, dtype in dtypes.items()}
