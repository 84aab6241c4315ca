"""Official economy: state wages and rations from the public distribution system (PDS).

The state pays wages worth about $5 a month at market rates (002_d0e71752c93d23e1.txt) to
everyone holding a state post. Wages are new money from the state (an external account).
Rations reach non-farm (urban) households only when their local distribution centre
delivers, which it does far more reliably in Pyongyang.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module
from jangmadang.results import group_mean
from jangmadang.state import Role


class OfficialEconomyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wage_usd: float = Field(5.0, ge=0)
    farmer_wage_multiplier: float = Field(0.5, ge=0, le=5)
    cadre_wage_multiplier: float = Field(2.0, ge=0, le=20)
    mss_wage_multiplier: float = Field(2.0, ge=0, le=20)
    ration_kg_per_person: float = Field(9.0, ge=0, le=30)
    ration_delivery_prob: float = Field(0.3, ge=0, le=1)
    ration_delivery_prob_pyongyang: float = Field(0.9, ge=0, le=1)


class OfficialEconomy(Module):
    name = "official_economy"
    Params = OfficialEconomyParams
    rules = {
        "official_economy.wages": "Holders of state posts receive a monthly wage from the state; fee-paying traders and housewife traders do not.",
        "official_economy.rations": "Each month an inminban's non-farm households receive rations only if the distribution centre delivers.",
    }

    def init_state(self) -> None:
        self.sim.ledger.open("state", external=True)
        self.delivered = np.zeros(0, dtype=bool)

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

    def step(self) -> None:
        sim, p = self.sim, self.pars
        people, hh = sim.people, sim.households
        wages = np.add.reduceat(self.wage_by_role()[people.role], hh.first_person)
        sim.ledger.pay("wages", "state", HOUSEHOLDS, wages, source=IncomeSource.STATE)

        n_units = int(hh.inminban[-1]) + 1
        unit_province = hh.province[np.flatnonzero(np.r_[True, np.diff(hh.inminban) != 0])]
        prob = np.where(
            unit_province == sim.geography.pyongyang,
            p.ration_delivery_prob_pyongyang,
            p.ration_delivery_prob,
        )
        unit_delivers = self.rng.random(n_units) < prob
        self.delivered = unit_delivers[hh.inminban] & hh.urban
        hh.food_stock[self.delivered] += p.ration_kg_per_person * hh.size[self.delivered]

    def record(self, rec) -> None:
        hh, geo = self.sim.households, self.sim.geography
        urban = hh.urban
        rec.add("ration_delivery_share", self.delivered[urban].mean() if urban.any() else 0.0)
        rec.add_groups(
            "ration_delivery_share",
            group_mean(hh.province[urban], geo.n, self.delivered[urban]),
            "province",
            geo.names,
        )
