"""Bribes in everyday life: traders, workers and families pay officials of their province.

Outside the ties of donju and cadres (patronage) and the watch on defector families
(security), ordinary households meet officials who can make trouble and take money to
stop (004_50cf4b8f26c8f34a.txt: officials who get little from the state live off bribes;
un_coi_2014, hrw_2020: bribes avert or shorten punishment). Each month an official may
demand a bribe from a household for one of four purposes:

- **market**: a market manager or inspector finds a trader selling banned goods, outside
  the permitted place or hours, or without a permit; the more traders, the more often;
- **exemption**: the enterprise's manager threatens to report a worker excused from work
  (the fee-paying traders of the markets module) unless paid on top of the fee;
- **job**: a worker buys a better assignment or a transfer from a local official;
- **family**: a security agent (the police are not modelled apart from them) catches a family
  member at an everyday offence (travel without a permit, a foreign film, a phone).

Demands for market, exemption and family bribes grow with the province's official presence
(the shared enforcement function's surveillance) and with crackdowns: the lower the state's
tolerance of markets (``markets.tolerance``), the more often officials enforce and the more
they ask. The official's price is below the formal penalty, so a household pays whenever it
has the cash, to an official's household of its province (a transfer in the ledger). When it
cannot pay, the official lets some cases go and reports the others, which are punished through
the shared enforcement function (a fine several times the bribe, rarely a labour camp); a job
the household simply does not get. Households that buy a punishment off through the
enforcement function count as paying a bribe too.

One compiled pass over the households ages each household's months since its last bribe,
counts the payers of the last twelve months and draws the month's demands.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang import kernels, streams
from jangmadang.ledger import HOUSEHOLDS
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.bribes_kernels import NEVER, compact, demand_bribes, settle
from jangmadang.modules.enforcement import Sentence
from jangmadang.state import Renumbering, Role, label, sorted_distinct

MARKET, EXEMPTION, JOB, FAMILY = range(4)
PURPOSES = ("market", "exemption", "job", "family")
# Who takes each purpose's bribe: market managers and inspectors are local officials; the
# enterprise's manager excuses workers; local officials place workers; agents stand in for
# the police, who are not modelled apart from them.
PAYEE = (Role.OFFICIAL, Role.MANAGER, Role.OFFICIAL, Role.MSS_AGENT)
PAYEE_ROLES = (Role.OFFICIAL, Role.MANAGER, Role.MSS_AGENT)
PAYEE_POOL = np.array([PAYEE_ROLES.index(role) for role in PAYEE], dtype=np.int64)
# The offence a household that cannot pay is punished for (a job it simply does not get).
OFFENCES = ("market_violation", "unexcused_absence", None, "everyday_violation")
# All purposes recorded, including cases bought off through the enforcement function.
RECORDED = (*PURPOSES, "escape_punishment")


class BribesParams(ParameterModel):
    market_demand_rate: float = Field(0.08, ge=0, le=1)
    exemption_demand_rate: float = Field(0.05, ge=0, le=1)
    job_demand_rate: float = Field(0.004, ge=0, le=1)
    family_demand_rate: float = Field(0.03, ge=0, le=1)
    crackdown_demand: float = Field(2.0, ge=0, le=10)
    market_bribe_usd: float = Field(3.0, ge=0)
    exemption_bribe_usd: float = Field(10.0, ge=0)
    job_bribe_usd: float = Field(30.0, ge=0)
    family_bribe_usd: float = Field(5.0, ge=0)
    crackdown_price: float = Field(1.0, ge=0, le=10)
    report_share: float = Field(0.1, ge=0, le=1)
    fine_multiple: float = Field(3.0, ge=1, le=20)
    camp_share: float = Field(0.02, ge=0, le=1)
    camp_months: int = Field(6, ge=0, le=60)


class Bribes(Module):
    name = "bribes"
    Params = BribesParams
    # Households holding each payee role (built on first use; modules set up before this one
    # already change roles, before init_state runs).
    _pools: tuple[np.ndarray, ...] | None = None
    rules = {
        "bribes.demand": "Each month an official may demand a bribe from a household: from its traders at the market, from its members excused from work, for a worker's job or transfer, or for a family member's everyday offence; the first, second and fourth grow with the province's official presence.",
        "bribes.crackdown": "The less the state tolerates markets, the more often officials enforce the rules on trading, absence and everyday offences, and the more they ask to look away.",
        "bribes.pay_or_punished": "The official's price is below the formal penalty, so a household pays when it has the cash, to an official's household of its province; otherwise the official lets some cases go and reports the others, which are punished through the enforcement function (a job the household simply does not get).",
        "bribes.escape_counted": "A household that buys a punishment off through the enforcement function counts as paying a bribe.",
    }

    def init_state(self) -> None:
        sim = self.sim
        self.months_since = np.full(sim.households.n, NEVER, dtype=np.uint8)
        for offence in OFFENCES:
            if offence is not None:
                sim.enforcement.declare(offence)
        self._pools = None
        self._reset_month()

    def _reset_month(self) -> None:
        n_provinces = self.sim.geography.n
        self.paid_usd = np.zeros(len(RECORDED))  # by RECORDED purpose
        self.payers = np.zeros(len(RECORDED), dtype=np.int64)  # households paying, by purpose
        self.unpaid = np.zeros(len(PURPOSES), dtype=np.int64)  # demands the household could not pay
        self.take = np.zeros(len(PAYEE_ROLES))  # what each payee role received
        # households and 12-month payers by (province, with a trader)
        self.paid_12m = np.zeros((n_provinces, 2, 2), dtype=np.int64)

    # -- monthly rule --------------------------------------------------------------------------

    def step(self) -> None:
        sim, p = self.sim, self.pars
        hh, population = sim.households, sim.population
        self._reset_month()
        crackdown = 1 - sim.pars.markets.tolerance
        more = 1 + p.crackdown_demand * crackdown
        rates = np.array(
            [
                p.market_demand_rate * more,
                p.exemption_demand_rate * more,
                p.job_demand_rate,
                p.family_demand_rate * more,
            ]
        )
        blocks = kernels.n_blocks(hh.n)
        chosen = np.empty(hh.n, dtype=np.int32)
        purpose = np.empty(hh.n, dtype=np.int8)
        found = np.zeros(blocks, dtype=np.int64)
        counts = np.zeros((blocks, sim.geography.n, 2, 2), dtype=np.int64)
        kernels.in_blocks(
            demand_bribes,
            hh.n,
            self.months_since,
            chosen,
            purpose,
            found,
            counts,
            population.role_count[Role.TRADER],
            population.role_count[Role.WORKER],
            sim.markets.exempt_count,
            hh.province,
            sim.enforcement.presence(),
            rates,
            streams.key(sim.seed, self.name, sim.month, "demand"),
        )
        self.paid_12m = counts.sum(axis=0)
        households, purposes = compact(chosen, purpose, found)
        del chosen, purpose

        price = np.array(
            [p.market_bribe_usd, p.exemption_bribe_usd, p.job_bribe_usd, p.family_bribe_usd]
        )
        price[[MARKET, EXEMPTION, FAMILY]] *= 1 + p.crackdown_price * crackdown
        payee, pays, reported = settle(
            households,
            purposes,
            price,
            hh.cash,
            PAYEE_POOL,
            *self._payee_pools(),
            hh.province,
            p.report_share,
            streams.key(sim.seed, self.name, sim.month, "payee"),
            streams.key(sim.seed, self.name, sim.month, "report"),
        )
        amount = price[purposes[pays]]
        sim.ledger.pay(
            "everyday_bribe",
            HOUSEHOLDS,
            HOUSEHOLDS,
            amount,
            debit_idx=households[pays],
            credit_idx=payee[pays],
        )
        paid_purposes = purposes[pays]
        self.paid_usd[: len(PURPOSES)] = np.bincount(
            paid_purposes, weights=amount, minlength=len(PURPOSES)
        )
        self.payers[: len(PURPOSES)] = np.bincount(paid_purposes, minlength=len(PURPOSES))
        self.take = np.bincount(
            PAYEE_POOL[paid_purposes], weights=amount, minlength=len(PAYEE_ROLES)
        )
        self.unpaid = np.bincount(purposes[(payee >= 0) & ~pays], minlength=len(PURPOSES))
        self._punish(households[reported], purposes[reported], price)

        self._mark_paid(households[pays])  # ascending and distinct
        escaped = sorted_distinct(sim.enforcement.bought_out_households())
        self.paid_usd[-1] = sim.enforcement.bribes
        self.payers[-1] = len(escaped)
        self._mark_paid(escaped)

    def _payee_pools(self) -> tuple[np.ndarray, np.ndarray]:
        """The households holding each payee role, one after the other, and where each role's
        households of each province start and end (``bounds[role, province]``). Households
        whose holders left the post since the last call leave the pools."""
        sim = self.sim
        role_count, province = sim.population.role_count, sim.households.province
        if self._pools is None:  # ascending households: sorted by province as well
            self._pools = tuple(np.flatnonzero(role_count[role]) for role in PAYEE_ROLES)
        else:
            self._pools = tuple(
                pool[role_count[role, pool] > 0]
                for pool, role in zip(self._pools, PAYEE_ROLES, strict=True)
            )
        edges = np.arange(sim.geography.n + 1, dtype=province.dtype)
        offsets = np.cumsum([0, *(len(pool) for pool in self._pools)])
        bounds = np.stack(
            [
                offset + np.searchsorted(province[pool], edges)
                for offset, pool in zip(offsets, self._pools, strict=False)
            ]
        )
        return np.concatenate(self._pools), bounds

    def _punish(self, households: np.ndarray, purposes: np.ndarray, price: np.ndarray) -> None:
        """Households that could not pay and were reported are punished for the purpose's offence: the trader or
        the excused worker answers for it, the first adult at home for a family offence."""
        sim, p = self.sim, self.pars
        enforcement = sim.enforcement
        for which, offence in enumerate(OFFENCES):
            if offence is None:
                continue
            mine = households[purposes == which]
            if len(mine) == 0:
                continue
            if which == MARKET:
                persons = self._member(mine, lambda x: sim.people.role[x] == Role.TRADER)
            elif which == EXEMPTION:
                persons = self._member(mine, lambda x: sim.people.exempt[x])
            else:
                persons = enforcement.responsible_member(mine)
            sentence = Sentence(
                fine_usd=p.fine_multiple * price[which],
                camp=p.camp_share,
                camp_months=p.camp_months,
            )
            enforcement.punish(offence, np.sort(persons), sentence)

    def _member(self, households: np.ndarray, eligible) -> np.ndarray:
        """The first member of each household (ascending, distinct) for whom
        ``eligible(persons)`` holds; households without one are left out."""
        people = self.sim.people
        members = self.sim.population.members(households)
        members = members[eligible(members)]
        first = np.r_[True, people.household[members[1:]] != people.household[members[:-1]]]
        return members[first] if len(members) else members

    def _mark_paid(self, households: np.ndarray) -> None:
        """This month's payers (distinct): their months since a bribe restart at 0, and those
        who had not paid in the last twelve months join the 12-month count."""
        hh = self.sim.households
        new = households[self.months_since[households] >= 12]
        trader = self.sim.population.role_count[Role.TRADER, new] > 0
        cell = 2 * hh.province[new].astype(np.int64) + trader  # (province, with a trader)
        n_provinces = self.paid_12m.shape[0]
        self.paid_12m[..., 1] += np.bincount(cell, minlength=2 * n_provinces).reshape(-1, 2)
        self.months_since[households] = 0

    # -- state that follows the households -----------------------------------------------------

    def role_changed(self, persons: np.ndarray, role: int) -> None:
        """New officials, managers or agents join the pools of payees (those who leave a post
        leave the pools at the next month's bribes)."""
        if self._pools is not None and role in PAYEE_ROLES and len(persons):
            k = PAYEE_ROLES.index(role)
            joining = sorted_distinct(self.sim.people.household[persons].astype(np.int64))
            pool = self._pools[k]
            at = np.searchsorted(pool, joining)  # the pool is ascending, and stays so
            there = np.zeros(len(joining), dtype=bool)  # already in the pool
            if len(pool):
                there = pool[np.minimum(at, len(pool) - 1)] == joining
            pool = np.insert(pool, at[~there], joining[~there])
            self._pools = tuple(pool if i == k else old for i, old in enumerate(self._pools))

    def renumbered(self, change: Renumbering) -> None:
        """Months since the last bribe follow the households; a new household has none."""
        self.months_since = change.per_household(self.months_since, NEVER)
        self._pools = None

    # -- results -------------------------------------------------------------------------------

    def record(self, rec) -> None:
        sim = self.sim
        geo, role_count = sim.geography, sim.population.role_count
        households, paid = self.paid_12m[..., 0], self.paid_12m[..., 1]
        rec.add("households_paid_bribe_12m_share", paid.sum() / max(households.sum(), 1))
        by_province = paid.sum(axis=1) / np.maximum(households.sum(axis=1), 1)
        rec.add_groups("households_paid_bribe_12m_share", by_province, "province", geo.names)
        by_trader = paid.sum(axis=0) / np.maximum(households.sum(axis=0), 1)
        rec.add_groups(
            "households_paid_bribe_12m_share",
            by_trader[::-1],
            "trader",
            ["with_trader", "without_trader"],
        )
        rec.add("bribes_usd", self.paid_usd.sum())
        rec.add_groups("bribes_usd", self.paid_usd, "purpose", list(RECORDED))
        rec.add_groups("bribe_payers", self.payers, "purpose", list(RECORDED))
        rec.add_groups("bribes_unpaid", self.unpaid, "purpose", list(PURPOSES))
        # What a holder of each role takes on average (cases bought off go to agents).
        take = self.take.copy()
        take[PAYEE_ROLES.index(Role.MSS_AGENT)] += sim.enforcement.bribes
        pools = self._pools or tuple(np.flatnonzero(role_count[r]) for r in PAYEE_ROLES)
        holders = np.array(
            [
                role_count[r, pool].sum(dtype=np.int64)
                for r, pool in zip(PAYEE_ROLES, pools, strict=True)
            ]
        )
        rec.add_groups(
            "bribe_income_usd",
            take / np.maximum(holders, 1),
            "role",
            [label(r) for r in PAYEE_ROLES],
        )
