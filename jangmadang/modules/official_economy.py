"""Official economy: state wages and rations from the public distribution system (PDS).

The state pays wages worth about $5 a month at market rates (002_d0e71752c93d23e1.txt) to
everyone holding a state post. Wages are new money from the state (an external account).
Rations reach non-farm (urban) households only when their local distribution centre
delivers, which it does far more reliably in Pyongyang.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.results import group_sum
from jangmadang.state import Renumbering, Role


class OfficialEconomyParams(ParameterModel):
    wage_usd: float = Field(5.0, ge=0)
    farmer_wage_multiplier: float = Field(0.5, ge=0, le=5)
    cadre_wage_multiplier: float = Field(2.0, ge=0, le=20)
    mss_wage_multiplier: float = Field(1.0, ge=0, le=20)
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
        hh = self.sim.households  # an inminban's province never changes (exile stays within it)
        self.unit_province = np.zeros(int(hh.inminban.max(initial=-1)) + 1, dtype=np.int8)
        self.unit_province[hh.inminban] = hh.province

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

    def step(self) -> None:
        sim, p = self.sim, self.pars
        hh = sim.households
        sim.ledger.pay(
            "wages", "state", HOUSEHOLDS, self.household_wages(), source=IncomeSource.STATE
        )

        prob = np.where(
            self.unit_province == sim.geography.pyongyang,
            p.ration_delivery_prob_pyongyang,
            p.ration_delivery_prob,
        )
        unit_delivers = self.rng.random(len(self.unit_province)) < prob
        self.delivered = unit_delivers[hh.inminban] & hh.urban
        delivered = np.flatnonzero(self.delivered)
        present = sim.population.present()
        hh.food_stock[delivered] += p.ration_kg_per_person * present[delivered]

    def household_wages(self) -> np.ndarray:
        """Each household's wages: members in each role times the role's wage.

        Read from the per-household role counts, so no pass over persons is needed. Roles
        paid the same wage are counted together before multiplying.
        """
        wage = self.wage_by_role()
        counts = self.sim.population.role_count
        wages = np.zeros(counts.shape[1])
        for value in np.unique(wage[wage != 0]):
            roles = np.flatnonzero(wage == value)
            members = counts[roles[0]]
            for role in roles[1:]:
                members = members + counts[role]
            wages += members * value
        return wages

    def record(self, rec) -> None:
        hh, geo = self.sim.households, self.sim.geography
        # Shares among urban households; only urban households are ever delivered to.
        n_urban = np.count_nonzero(hh.urban)
        delivered = np.count_nonzero(self.delivered)
        rec.add("ration_delivery_share", delivered / n_urban if n_urban else 0.0)
        urban = group_sum(hh.province, geo.n, hh.urban)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(
                urban > 0,
                group_sum(hh.province, geo.n, self.delivered) / np.maximum(urban, 1),
                np.nan,
            )
        rec.add_groups("ration_delivery_share", share, "province", geo.names)
