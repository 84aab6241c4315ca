"""Patronage: all-ssam ties between donju and cadres, who protect and enrich each other.

From 001_7779113432fd1511.txt. Three kinds of tie, each a row in a small edge list (donju
household, cadre person, kind, strength):

- **Manager ties come with a lease.** A donju rents idle bays of a state factory: a monthly
  rent (most to the manager, part to the factory's plan as extra earnings) plus a per diem to
  the manager that grows with the donju's takings. The manager returns favours once the tie
  is strong (extra facilities, a state vehicle to carry goods): the lease and the favours
  raise the donju's selling capacity in the markets module.
- **Party secretary ties.** A secretary whose factory's manager earns more from donju than
  the secretary gets from his post and ties fears being eclipsed and courts donju of his
  province, the prosperous first. The donju pays a tribute if that costs less than what
  refusing would: falling out of favour brings inspections, fines and harassment for months,
  and the pressure is harder the richer the donju.
- **Official ties.** A donju pays a local official a monthly gift for protection when the
  expected saving on inspections is worth more than the gift.

Every choice compares expected payoffs. Cadres accept a tie when its payments exceed their
expected cost of exposure. Tied parties are shielded in the enforcement function's detection:
donju face regular inspections (private business is illegal) and fewer are caught when they
have protectors. Ties strengthen each month they pay and end when either side loses its
position.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource, within_means
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.enforcement import Sentence
from jangmadang.modules.enforcement_kernels import persons_in_roles
from jangmadang.modules.patronage_kernels import set_capacity
from jangmadang.results import group_mean
from jangmadang.state import (
    CADRE_ROLES,
    HouseholdKind,
    Renumbering,
    Role,
    draw_within_groups,
    sorted_distinct,
)

MANAGER_TIE, SECRETARY_TIE, OFFICIAL_TIE = range(3)
TIE_KINDS = ("manager", "party_secretary", "official")
TIE_ROLES = (Role.MANAGER, Role.PARTY_SECRETARY, Role.OFFICIAL)
PAYMENTS = ("rent", "per_diem", "tribute", "protection_gift")


class PatronageParams(ParameterModel):
    lease_search_rate: float = Field(0.1, ge=0, le=1)
    lease_capacity_gain: float = Field(0.5, ge=0, le=5)
    rent_usd: float = Field(60.0, ge=0)
    rent_to_factory_share: float = Field(0.3, ge=0, le=1)
    per_diem_share: float = Field(0.05, ge=0, le=1)
    favour_strength: float = Field(0.5, ge=0, le=1)
    favour_capacity_gain: float = Field(0.2, ge=0, le=5)
    tie_growth: float = Field(0.1, ge=0, le=1)
    cadre_exposure_cost_usd: float = Field(500.0, ge=0)
    cadre_exposure_detection: float = Field(0.01, ge=0, le=1)
    eclipse_ratio: float = Field(2.0, gt=0, le=10)
    courting_rate: float = Field(0.05, ge=0, le=1)
    tribute_usd: float = Field(50.0, ge=0)
    harassment_intensity: float = Field(0.1, ge=0, le=1)
    harassment_wealth_elasticity: float = Field(0.5, ge=0, le=2)
    harassment_income_loss: float = Field(0.1, ge=0, le=1)
    disfavour_months: int = Field(12, ge=0, le=120)
    disfavour_inspection_multiplier: float = Field(5.0, ge=1, le=50)
    protection_search_rate: float = Field(0.1, ge=0, le=1)
    protection_gift_usd: float = Field(20.0, ge=0)
    inspection_rate: float = Field(0.02, ge=0, le=1)
    inspection_fine_usd: float = Field(300.0, ge=0)
    inspection_camp_share: float = Field(0.02, ge=0, le=1)
    inspection_camp_months: int = Field(6, ge=0, le=120)
    illegal_lease_dismissal_share: float = Field(0.5, ge=0, le=1)


class Patronage(Module):
    name = "patronage"
    Params = PatronageParams
    rules = {
        "patronage.lease": "A donju without a lease looks for idle factory space now and then, and rents it when the extra takings outweigh rent, per diem and the risk of an illegal lease; the manager agrees when the payments outweigh his exposure.",
        "patronage.payments": "Each month a lease pays rent (most to the manager, part to the factory's plan) and a per diem to the manager that grows with the donju's takings.",
        "patronage.favours": "A manager whose tie with a donju has grown strong returns favours (facilities, a state vehicle), which raise the donju's selling capacity further.",
        "patronage.secretary_courting": "A party secretary whose manager earns more from donju than he gets from post and ties courts the province's donju, the prosperous first, the more often the further he is eclipsed.",
        "patronage.tribute_or_refuse": "A courted donju pays a tribute when it costs less than refusing: months out of favour, with more inspections and lost business, pressing harder on richer donju.",
        "patronage.official_protection": "A donju pays a local official for protection when the expected saving on inspections exceeds the gift.",
        "patronage.inspections": "Donju are inspected for illegal business; tied donju are shielded, those out of a secretary's favour inspected more often; the caught are punished through enforcement.",
        "patronage.tie_strength": "A tie strengthens each month it pays and ends when the donju or the cadre loses their position.",
    }

    def init_state(self) -> None:
        sim = self.sim
        sim.households.add("patronage_capacity", np.float32)  # extra selling capacity (share)
        self.donju = np.zeros(0, dtype=np.int64)  # household of the donju
        self.cadre = np.zeros(0, dtype=np.int64)  # person
        self.kind = np.zeros(0, dtype=np.int8)
        self.factory = np.zeros(0, dtype=np.int32)  # leased factory (manager ties), else -1
        self.strength = np.zeros(0, dtype=np.float32)
        self.tie_income = np.zeros(0)  # what the tie paid its cadre this month
        self.disfavoured = np.zeros(0, dtype=np.int64)  # donju households out of favour ...
        self.disfavoured_until = np.zeros(0, dtype=np.int32)  # ... until this month ordinal
        self.paid = dict.fromkeys(PAYMENTS, 0.0)
        self.cadre_take = np.zeros((len(PAYMENTS), len(TIE_ROLES)))  # by payment, cadre role
        self.courted = self.refused = self.favours = 0
        sim.enforcement.declare("illegal_business")
        sim.enforcement.declare("illegal_lease")

    # -- monthly rule --------------------------------------------------------------------------

    def step(self) -> None:
        self.paid = dict.fromkeys(PAYMENTS, 0.0)
        self.cadre_take[:] = 0
        self.courted = self.refused = 0
        self._end_broken_ties()
        donju = np.flatnonzero(self.sim.households.kind == HouseholdKind.DONJU)
        self._pay_ties()
        self._seek_leases(donju)
        self._court(donju)
        self._seek_protection(donju)
        self._inspect(donju)
        self._set_capacity()

    def _end_broken_ties(self) -> None:
        sim, ent = self.sim, self.sim.enterprises
        people, hh = sim.people, sim.households
        ok = hh.kind[self.donju] == HouseholdKind.DONJU
        ok &= people.role[self.cadre] == np.array(TIE_ROLES, dtype=np.int8)[self.kind]
        lease = self.factory >= 0
        ok[lease] &= ent.manager[self.factory[lease]] == self.cadre[lease]
        np.subtract.at(ent.leased, self.factory[~ok & lease], 1)
        self._keep(ok)
        current = self.disfavoured_until > self.month_index
        self.disfavoured = self.disfavoured[current]
        self.disfavoured_until = self.disfavoured_until[current]

    def _pay_ties(self) -> None:
        """This month's rent, per diems, tributes and protection gifts. A donju short of cash
        pays every tie the same fraction of what is due; ties that paid grow stronger."""
        p, hh, ledger = self.pars, self.sim.households, self.sim.ledger
        self.tie_income = np.zeros(len(self.kind))  # what each tie's cadre got this month
        if len(self.kind) == 0:
            return
        takings = np.maximum(hh.income[self.donju, IncomeSource.MARKET].astype(np.float64), 0)
        lease = self.kind == MANAGER_TIE
        due = np.zeros((len(PAYMENTS), len(self.kind)))
        due[0, lease] = p.rent_usd
        due[1, lease] = p.per_diem_share * takings[lease]
        due[2, self.kind == SECRETARY_TIE] = p.tribute_usd
        due[3, self.kind == OFFICIAL_TIE] = p.protection_gift_usd
        total = due.sum(axis=0)
        due *= np.divide(
            within_means(hh.cash, self.donju, total),
            total,
            out=np.zeros_like(total),
            where=total > 0,
        )
        to_factory = np.zeros_like(due)
        to_factory[0] = p.rent_to_factory_share * due[0]
        cadre_household = self.sim.people.household[self.cadre]
        ledger.pay(
            "rent_to_factory",
            HOUSEHOLDS,
            "state",
            to_factory[0, lease],
            debit_idx=self.donju[lease],
        )
        kinds = (lease, lease, self.kind == SECRETARY_TIE, self.kind == OFFICIAL_TIE)
        for i, (payment, rows) in enumerate(zip(PAYMENTS, kinds, strict=True)):
            # Only the ties that owe this payment: the ledger's scattered updates are the cost.
            ledger.pay(
                payment,
                HOUSEHOLDS,
                HOUSEHOLDS,
                due[i, rows] - to_factory[i, rows],
                debit_idx=self.donju[rows],
                credit_idx=cadre_household[rows],
                source=IncomeSource.PATRONAGE,
            )
            self.paid[payment] = float(due[i].sum())
            self.cadre_take[i] = np.bincount(
                self.kind, weights=due[i] - to_factory[i], minlength=len(TIE_ROLES)
            )
        self.tie_income = (due - to_factory).sum(axis=0)
        self.strength += np.where(self.tie_income > 0, p.tie_growth * (1 - self.strength), 0)

    def _seek_leases(self, donju: np.ndarray) -> None:
        """Donju looking for space rent idle bays when the lease pays; managers agree when
        the payments beat their exposure."""
        sim, p, ent, rng = self.sim, self.pars, self.sim.enterprises, self.rng
        hh = sim.households
        leasing = self.donju[self.kind == MANAGER_TIE]
        looking = donju[
            (rng.random(len(donju)) < p.lease_search_rate) & ~np.isin(donju, leasing, kind="table")
        ]
        if len(looking) == 0 or ent.n == 0:
            return
        takings = np.maximum(hh.income[looking, IncomeSource.MARKET].astype(np.float64), 0)
        risk = 0.0 if ent.pars.extra_earnings_order else self._exposure(looking)
        gain = takings * (p.lease_capacity_gain - p.per_diem_share) - p.rent_usd - risk
        looking, takings = looking[gain > 0], takings[gain > 0]
        idle = ent.idle_bays()
        bays = np.repeat(np.arange(ent.n), idle)  # one entry per idle bay
        bay_province = ent.province[bays]
        tenants, factories = [], []
        for prov in np.unique(hh.province[looking]):
            mine = np.flatnonzero(hh.province[looking] == prov)
            free = bays[bay_province == prov]
            k = min(len(mine), len(free))
            tenants.append(rng.choice(mine, size=k, replace=False))
            factories.append(rng.choice(free, size=k, replace=False))
        if not tenants:
            return
        tenant, factory = np.concatenate(tenants), np.concatenate(factories)
        manager = ent.manager[factory]
        payment = (1 - p.rent_to_factory_share) * p.rent_usd + p.per_diem_share * takings[tenant]
        agreed = (manager >= 0) & self._cadre_accepts(np.maximum(manager, 0), payment)
        np.add.at(ent.leased, factory[agreed], 1)
        self._add(looking[tenant[agreed]], manager[agreed], MANAGER_TIE, factory[agreed])

    def _court(self, donju: np.ndarray) -> None:
        """Eclipsed secretaries court a donju each, the prosperous first; the donju pays
        tribute when refusing would cost more."""
        sim, p, ent, rng = self.sim, self.pars, self.sim.enterprises, self.rng
        hh = sim.households
        if len(donju) == 0 or ent.n == 0:
            return
        secretary_wage = sim.official_economy.wage_by_role()[Role.PARTY_SECRETARY]
        manager_income, secretary_income = self._income_of(np.stack([ent.manager, ent.secretary]))
        secretary_income += secretary_wage
        # The further the manager's takings outgrow the secretary's, the harder he courts.
        excess = manager_income / (p.eclipse_ratio * secretary_income) - 1
        urge = p.courting_rate * np.clip(excess, 0, 1) * (ent.secretary >= 0)
        courting = np.flatnonzero(rng.random(ent.n) < urge)
        secretaries, targets = [], []
        for prov in np.unique(ent.province[courting]):
            mine = donju[hh.province[donju] == prov]
            if len(mine) == 0:
                continue
            suitors = ent.secretary[courting[ent.province[courting] == prov]]
            weight = np.maximum(hh.cash[mine], 1e-9)
            targets.append(rng.choice(mine, size=len(suitors), p=weight / weight.sum()))
            secretaries.append(suitors)
        if not targets:
            return
        secretary, target = np.concatenate(secretaries), np.concatenate(targets)
        new = ~np.isin(_pair(target, secretary), _pair(self.donju, self.cadre))
        secretary, target = secretary[new], target[new]
        takings = np.maximum(hh.income[target, IncomeSource.MARKET].astype(np.float64), 0)
        refusal_cost = self._harassment(target) * (
            p.inspection_fine_usd + p.harassment_income_loss * takings
        )
        accepts = p.tribute_usd < refusal_cost
        self._add(target[accepts], secretary[accepts], SECRETARY_TIE, np.full(accepts.sum(), -1))
        refusers = target[~accepts]
        self.disfavoured = np.concatenate([self.disfavoured, refusers])
        self.disfavoured_until = np.concatenate(
            [self.disfavoured_until, np.full(len(refusers), self.month_index + p.disfavour_months)]
        )
        self.courted, self.refused = len(target), len(refusers)

    def _seek_protection(self, donju: np.ndarray) -> None:
        """Donju buy an official's protection when it saves more on inspections than it costs."""
        sim, p, rng = self.sim, self.pars, self.rng
        hh, people, enforcement = sim.households, sim.people, sim.enforcement
        protected = self.donju[self.kind == OFFICIAL_TIE]
        looking = donju[
            (rng.random(len(donju)) < p.protection_search_rate)
            & ~np.isin(donju, protected, kind="table")
        ]
        if len(looking) == 0:
            return
        chance = enforcement.detection_chance(looking, self._inspection_base(looking))
        saving = chance * enforcement.pars.protection_shield * self._expected_penalty()
        looking = looking[saving > p.protection_gift_usd]
        officials = persons_in_roles(people.role, int(Role.OFFICIAL), int(Role.OFFICIAL))
        official_province = hh.province[people.household[officials]]
        patron = draw_within_groups(officials, official_province, hh.province[looking], rng)
        client, patron = looking[patron >= 0], patron[patron >= 0]
        if len(client) == 0:
            return
        agreed = self._cadre_accepts(patron, p.protection_gift_usd)
        self._add(client[agreed], patron[agreed], OFFICIAL_TIE, np.full(agreed.sum(), -1))

    def _inspect(self, donju: np.ndarray) -> None:
        """Inspections of donju businesses (and, without the extra-earnings order, of leases)."""
        sim, p, enforcement = self.sim, self.pars, self.sim.enforcement
        caught = donju[
            enforcement.detect(donju, self._inspection_base(donju), self.protected(donju))
        ]
        sentence = Sentence(
            fine_usd=p.inspection_fine_usd,
            camp=p.inspection_camp_share,
            camp_months=p.inspection_camp_months,
        )
        enforcement.punish("illegal_business", enforcement.responsible_member(caught), sentence)
        if sim.enterprises.pars.extra_earnings_order:
            return
        lease = np.flatnonzero(self.kind == MANAGER_TIE)
        found = lease[enforcement.detect(self.donju[lease], p.cadre_exposure_detection)]
        enforcement.punish(
            "illegal_lease",
            sorted_distinct(self.cadre[found]),
            Sentence(fine_usd=p.inspection_fine_usd, dismissal=p.illegal_lease_dismissal_share),
        )

    def _set_capacity(self) -> None:
        """Leases and favours raise the donju's selling capacity next month."""
        p, hh = self.pars, self.sim.households
        self.favours = set_capacity(
            hh.patronage_capacity,
            self.donju,
            self.kind,
            self.strength,
            MANAGER_TIE,
            p.favour_strength,
            p.lease_capacity_gain,
            p.favour_capacity_gain,
        )

    # -- shared with other modules ---------------------------------------------------------------

    def protected(self, households: np.ndarray) -> np.ndarray:
        """Whether each household has a protector: a donju with ties, or a tied cadre's
        household (all-ssam partners shield each other)."""
        tied = np.concatenate([self.donju, self.sim.people.household[self.cadre]])
        return np.isin(households, tied, kind="table")

    # -- helpers ---------------------------------------------------------------------------------

    def _cadre_accepts(self, cadres: np.ndarray, payment) -> np.ndarray:
        """A cadre takes a tie when its monthly payment beats the expected cost of exposure
        (detection, shielded if already tied, times what dismissal would cost)."""
        sim, p = self.sim, self.pars
        households = sim.people.household[cadres]
        chance = sim.enforcement.detection_chance(
            households, p.cadre_exposure_detection, self.protected(households)
        )
        harshness = sim.enforcement.pars.harshness
        fear = sim.loyalty.career_weight(cadres)  # loyal cadres weigh their career more
        return payment > chance * harshness * fear * p.cadre_exposure_cost_usd

    def _harassment(self, households: np.ndarray) -> np.ndarray:
        """How hard a spurned secretary presses a donju: harder on the prosperous."""
        p, hh = self.pars, self.sim.households
        wealth = np.maximum(hh.cash[households], 0) / self.sim.markets.threshold(households)
        return np.minimum(1.0, p.harassment_intensity * wealth**p.harassment_wealth_elasticity)

    def _inspection_base(self, households: np.ndarray) -> np.ndarray:
        p = self.pars
        out_of_favour = np.isin(households, self.disfavoured, kind="table")
        return p.inspection_rate * np.where(out_of_favour, p.disfavour_inspection_multiplier, 1.0)

    def _expected_penalty(self) -> float:
        """What a caught donju expects to lose: the fine, or the price of buying its way out."""
        enforcement = self.sim.enforcement.pars
        fine = self.pars.inspection_fine_usd
        return fine * (1 + enforcement.bribe_acceptance * (enforcement.escape_price_multiple - 1))

    def _exposure(self, households: np.ndarray) -> np.ndarray:
        """Expected monthly cost to a donju of an illegal lease (no extra-earnings order)."""
        chance = self.sim.enforcement.detection_chance(
            households, self.pars.cadre_exposure_detection
        )
        return chance * self._expected_penalty()

    def _income_of(self, cadres: np.ndarray) -> np.ndarray:
        """Each cadre's takings from ties this month (0 for -1 or a cadre without ties)."""
        totals = np.zeros(cadres.shape)
        if len(self.cadre) == 0:
            return totals
        holders, row_holder = np.unique(self.cadre, return_inverse=True)
        by_holder = np.bincount(row_holder, weights=self.tie_income, minlength=len(holders))
        where = np.minimum(np.searchsorted(holders, cadres), len(holders) - 1)
        found = holders[where] == cadres
        totals[found] = by_holder[where[found]]
        return totals

    def _add(self, households, cadres, kind: int, factories) -> None:
        n = len(households)
        self.donju = np.concatenate([self.donju, households.astype(np.int64)])
        self.cadre = np.concatenate([self.cadre, np.asarray(cadres, dtype=np.int64)])
        self.kind = np.concatenate([self.kind, np.full(n, kind, dtype=np.int8)])
        self.factory = np.concatenate([self.factory, np.asarray(factories, dtype=np.int32)])
        self.strength = np.concatenate([self.strength, np.zeros(n, dtype=np.float32)])
        self.tie_income = np.concatenate([self.tie_income, np.zeros(n)])

    def renumbered(self, change: Renumbering) -> None:
        """Ties follow the donju's household and the cadre; a tie whose cadre died or whose
        household dissolved ends (and frees its factory bay)."""
        self.donju = change.households(self.donju)
        self.cadre = change.persons(self.cadre).astype(np.int64)
        ok = (self.donju >= 0) & (self.cadre >= 0)
        lease = self.factory >= 0
        np.subtract.at(self.sim.enterprises.leased, self.factory[~ok & lease], 1)
        self._keep(ok)
        self.disfavoured = change.households(self.disfavoured)
        current = self.disfavoured >= 0
        self.disfavoured = self.disfavoured[current]
        self.disfavoured_until = self.disfavoured_until[current]

    def _keep(self, mask: np.ndarray) -> None:
        for name in ("donju", "cadre", "kind", "factory", "strength", "tie_income"):
            setattr(self, name, getattr(self, name)[mask])

    # -- results ---------------------------------------------------------------------------------

    def record(self, rec) -> None:
        sim = self.sim
        hh, people = sim.households, sim.people
        rec.add("ties", len(self.kind))
        rec.add_groups("ties", np.bincount(self.kind, minlength=3), "type", list(TIE_KINDS))
        for payment in PAYMENTS:
            rec.add(f"patronage_{payment}_usd", self.paid[payment])
        rec.add("manager_favours", self.favours)
        rec.add("secretary_courtships", self.courted)
        rec.add("secretary_refusals", self.refused)

        donju = np.flatnonzero(hh.kind == HouseholdKind.DONJU)
        tied = np.isin(donju, self.donju, kind="table").astype(np.int8)
        takings = hh.income[donju, IncomeSource.MARKET].astype(np.float64)
        rec.add_groups("donju_income_usd", group_mean(tied, 2, takings), "tied", ["untied", "tied"])
        with_secretary = np.isin(donju, self.donju[self.kind == SECRETARY_TIE], kind="table")
        rec.add("donju_secretary_tie_share", with_secretary.mean() if len(donju) else np.nan)

        cadres = persons_in_roles(people.role, int(min(CADRE_ROLES)), int(max(CADRE_ROLES)))
        cadre_household = people.household[cadres]
        income = hh.income[cadre_household].sum(axis=1, dtype=np.float64)
        cadre_tied = np.isin(cadres, self.cadre, kind="table").astype(np.int8)
        rec.add_groups(
            "cadre_household_income_usd",
            group_mean(cadre_tied, 2, income),
            "tied",
            ["untied", "tied"],
        )
        wages = sim.official_economy.wage_by_role()
        for j, role in enumerate(TIE_ROLES):
            n = max(int(sim.population.role_count[role].sum()), 1)
            parts = [wages[role], *(self.cadre_take[:, j] / n)]
            rec.add_groups(
                f"{TIE_KINDS[j]}_income_usd", np.array(parts), "source", ["wage", *PAYMENTS]
            )


def _pair(households: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """One int64 key per (household, person) pair, to test which pairs are already tied."""
    return households.astype(np.int64) * (1 << 32) + persons
