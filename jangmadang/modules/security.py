"""State security (MSS): agents watching families of defectors, and what they take from them.

Each household with a member in the South is watched by one agent of its province. Agents are
paid little by the state and live off these families (004_50cf4b8f26c8f34a.txt):

- On a visit the agent weighs a bribe (a share of the cash the family lets show, less the
  expected cost of being caught taking it) against the career credit of reporting the family;
  the more loyal the agent, the more career and risk weigh. A family
  too poor to make a bribe worth more than a report is reported and punished through the
  shared enforcement function (mostly a fine; rarely exile).
- When a watched family receives money from the South, its agent takes a cut.
- In the border provinces agents approve errands at the border (calls, small trade) for a fee.

An order to watch defector families more closely raises the visit rate (a dated event on
``security.contact_rate``); agents welcome it because it brings more bribes. Agents in the
interior have few such families and little to take. Every payment goes through the ledger:
from the family's cash to the agent's household (fines go through enforcement to the state).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.enforcement import Sentence
from jangmadang.modules.enforcement_kernels import persons_in_roles
from jangmadang.results import group_mean
from jangmadang.state import Renumbering, Role


class SecurityParams(ParameterModel):
    contact_rate: float = Field(0.3, ge=0, le=1)
    bribe_share: float = Field(0.05, ge=0, le=1)
    career_credit_usd: float = Field(10.0, ge=0)
    detection_prob: float = Field(0.02, ge=0, le=1)
    detection_penalty_usd: float = Field(300.0, ge=0)
    fine_usd: float = Field(20.0, ge=0)
    report_exile_share: float = Field(0.01, ge=0, le=1)
    remittance_cut: float = Field(0.1, ge=0, le=1)
    errand_rate: float = Field(0.2, ge=0, le=1)
    errand_fee_usd: float = Field(5.0, ge=0)


class Security(Module):
    name = "security"
    Params = SecurityParams
    rules = {
        "security.watch": "Each household with a member in the South is watched by one agent of its province, visited each month with a contact rate that surveillance orders raise.",
        "security.bribe_or_report": "On a visit the agent takes a bribe when its value, less the expected cost of detection, beats the career credit of a report; otherwise the family is reported and punished (a fine, rarely exile).",
        "security.cut_of_remittances": "An agent takes a cut of the money its watched family receives from the South.",
        "security.border_errands": "In border provinces agents approve watched families' errands at the border for a fee.",
    }

    def init_state(self) -> None:
        self.bribes = self.cuts = self.errands = 0.0
        self.sim.enforcement.declare("reported_defector_family")
        self.visits = self.reports = 0
        self.agents = np.zeros(0, dtype=np.int64)  # persons who are agents this month
        self.agent_income = np.zeros(0)  # this month's take per agent, aligned with agents

    def renumbered(self, change: Renumbering) -> None:
        self.agents = change.persons(self.agents)
        self.agent_income = self.agent_income[self.agents >= 0]
        self.agents = self.agents[self.agents >= 0].astype(np.int64)

    def step(self) -> None:
        sim, p = self.sim, self.pars
        people, hh = sim.people, sim.households
        if sim.population.role_count[Role.MSS_AGENT].sum() == 0:
            return
        self.agents = persons_in_roles(people.role, int(Role.MSS_AGENT), int(Role.MSS_AGENT))
        agent_province = hh.province[people.household[self.agents]]
        watched = np.flatnonzero(hh.relatives_abroad > 0)
        agent = np.full(len(watched), -1, dtype=np.int64)  # position in self.agents
        for prov in range(sim.geography.n):
            pool = np.flatnonzero(agent_province == prov)
            mine = hh.province[watched] == prov
            if len(pool):  # a stable assignment: the same agent watches a family every month
                agent[mine] = pool[watched[mine] % len(pool)]
        watched, agent = watched[agent >= 0], agent[agent >= 0]
        agent_household = people.household[self.agents[agent]]
        income = np.zeros(len(self.agents))

        # Cut of this month's remittances.
        received = hh.income[watched, IncomeSource.REMITTANCE].astype(np.float64)
        cut = np.minimum(p.remittance_cut * received, hh.cash[watched])
        self.cuts = self._pay("agent_remittance_cut", watched, agent_household, cut)
        np.add.at(income, agent, cut)

        # Visits: bribe or report.
        visited = self.rng.random(len(watched)) < p.contact_rate
        loyalty = sim.loyalty
        visible = hh.cash[watched] * loyalty.openness(watched)  # what the family lets show
        bribe = p.bribe_share * visible
        career = loyalty.career_weight(self.agents[agent])  # loyal agents value reports more
        risk = career * p.detection_prob * p.detection_penalty_usd
        takes = visited & (bribe - risk > career * p.career_credit_usd)
        reported = visited & ~takes
        self.bribes = self._pay("agent_bribe", watched[takes], agent_household[takes], bribe[takes])
        np.add.at(income, agent[takes], bribe[takes])
        sim.enforcement.punish(
            "reported_defector_family",
            sim.enforcement.responsible_member(watched[reported]),
            Sentence(fine_usd=p.fine_usd, exile=p.report_exile_share),
        )
        self.visits, self.reports = int(visited.sum()), int(reported.sum())

        # Border errands approved for a fee.
        border = sim.geography.border[hh.province[watched]]
        errand = border & (self.rng.random(len(watched)) < p.errand_rate)
        fee = np.minimum(p.errand_fee_usd, hh.cash[watched[errand]])
        self.errands = self._pay("agent_errand_fee", watched[errand], agent_household[errand], fee)
        np.add.at(income, agent[errand], fee)
        self.agent_income = income

    def _pay(self, flow: str, payers: np.ndarray, payees: np.ndarray, amounts: np.ndarray) -> float:
        return self.sim.ledger.pay(
            flow, HOUSEHOLDS, HOUSEHOLDS, amounts, debit_idx=payers, credit_idx=payees
        )

    def record(self, rec) -> None:
        sim = self.sim
        rec.add("agent_bribes_usd", self.bribes)
        rec.add("agent_remittance_cuts_usd", self.cuts)
        rec.add("agent_errand_fees_usd", self.errands)
        rec.add("security_visits", self.visits)
        rec.add("security_reports", self.reports)
        agents, income = self.agents, self.agent_income
        if len(agents) == 0:
            return
        border = sim.geography.border[sim.households.province[sim.people.household[agents]]]
        rec.add("agent_bribe_income_usd", income.mean())
        is_interior = (~border).astype(np.int8)  # group 0 border, 1 interior
        rec.add_groups(
            "agent_bribe_income_usd",
            group_mean(is_interior, 2, income),
            "border",
            ["border", "interior"],
        )
