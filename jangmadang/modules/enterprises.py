"""State enterprises: factories with a manager and a party secretary, and idle space to rent.

Each province has state factories in proportion to its population. A factory has a managing
cadre, a party secretary and a capacity in bays (units of floor space a business can use).
Most plants lack materials and run far below capacity; the share in use follows the imported
inputs the border and sanctions let in. What the plan does not use stands idle, and a donju
can rent it (the patronage module). The party secretary's order to bring in "extra earnings",
income not made by producing planned goods, turns renting space into an official practice
(001_7779113432fd1511.txt); without the order a lease is an illegal act that inspections can
punish.

A factory whose manager or secretary has lost the post (dismissed, exiled, detained, gone
abroad) gets a new one, appointed from the province's state workers.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.module import Module, ParameterModel
from jangmadang.results import group_sum
from jangmadang.state import AgeBand, Renumbering, Role


class EnterprisesParams(ParameterModel):
    factories_per_100k: float = Field(60.0, gt=0, le=2_000)
    bays_per_factory: int = Field(10, ge=1, le=100)
    operating_rate: float = Field(0.3, ge=0, le=1)
    materials_elasticity: float = Field(0.5, ge=0, le=2)
    extra_earnings_order: bool = True


class Enterprises(Module):
    name = "enterprises"
    Params = EnterprisesParams
    rules = {
        "enterprises.factories": "Each province has state factories in proportion to its population, each with a manager, a party secretary and a capacity in bays.",
        "enterprises.idle_space": "A factory uses only a share of its capacity, falling with the imported materials the border and sanctions let in; the rest is idle and can be rented out.",
        "enterprises.extra_earnings": "While the party's order for extra earnings stands, renting factory space to donju is an official practice rather than an offence.",
        "enterprises.appointments": "A factory whose manager or secretary lost the post gets a new one, appointed from the province's state workers.",
    }

    def init_state(self) -> None:
        sim, p, rng = self.sim, self.pars, self.rng
        people, hh, geo = sim.people, sim.households, sim.geography
        persons_by_province = group_sum(hh.province, geo.n, hh.size)
        expected = persons_by_province * p.factories_per_100k / 100_000
        count = np.floor(expected).astype(np.int64)
        count += (
            rng.random(geo.n) < expected - count
        )  # stochastic rounding, so small runs have some
        self.province = np.repeat(np.arange(geo.n, dtype=np.int8), count)
        self.manager = np.full(len(self.province), -1, dtype=np.int64)
        self.secretary = np.full(len(self.province), -1, dtype=np.int64)
        self.leased = np.zeros(len(self.province), dtype=np.int16)  # bays rented to donju
        person_province = hh.province[people.household]
        for role, posts in ((Role.MANAGER, self.manager), (Role.PARTY_SECRETARY, self.secretary)):
            holders = np.flatnonzero(people.role == role)
            for prov in range(geo.n):
                mine = np.flatnonzero(self.province == prov)
                pool = rng.permutation(holders[person_province[holders] == prov])
                posts[mine[: len(pool)]] = pool[: len(mine)]
        del person_province
        self.appointments = 0
        self._appoint_vacancies()

    @property
    def n(self) -> int:
        return len(self.province)

    def in_use(self) -> int:
        """Bays the plan uses in each factory this month: the operating rate, scaled by the
        imported materials available."""
        p = self.pars
        rate = p.operating_rate * self.sim.pars.world.import_capacity**p.materials_elasticity
        return int(round(p.bays_per_factory * min(rate, 1.0)))

    def idle_bays(self) -> np.ndarray:
        return np.maximum(self.pars.bays_per_factory - self.in_use() - self.leased, 0)

    def step(self) -> None:
        self.appointments = 0
        self._appoint_vacancies()

    def renumbered(self, change: Renumbering) -> None:
        """Posts follow their holders; a post whose holder died is vacant (-1)."""
        for posts in (self.manager, self.secretary):
            held = posts >= 0
            posts[held] = change.persons(posts[held])

    def _appoint_vacancies(self) -> None:
        """Fill posts whose holder no longer holds the role (or was never found) with state
        workers of 30 and over from the factory's province."""
        people, population, rng = self.sim.people, self.sim.population, self.rng

        def eligible(persons):
            return (people.role[persons] == Role.WORKER) & (
                people.age_band[persons] >= AgeBand.ADULT
            )

        for role, posts in ((Role.MANAGER, self.manager), (Role.PARTY_SECRETARY, self.secretary)):
            vacant = np.flatnonzero((posts < 0) | (people.role[np.maximum(posts, 0)] != role))
            for prov in np.unique(self.province[vacant]):
                mine = vacant[self.province[vacant] == prov]
                chosen = population.draw_in_province(prov, len(mine), eligible, rng)
                posts[mine[: len(chosen)]] = chosen
                population.set_role(np.sort(chosen), role)
                self.appointments += len(chosen)

    def record(self, rec) -> None:
        p = self.pars
        rec.add("factories", self.n)
        capacity = self.n * p.bays_per_factory
        rec.add("factory_operating_rate", self.in_use() / p.bays_per_factory)
        rec.add("factory_leased_share", self.leased.sum() / capacity if capacity else 0.0)
        rec.add("factory_idle_share", self.idle_bays().sum() / capacity if capacity else 0.0)
        rec.add("cadre_appointments", self.appointments)
