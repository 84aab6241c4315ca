"""Enforcement: the one place where illegal acts are detected and punished.

Other modules decide what is an offence and how harshly it is punished (a
:class:`Sentence`); this module decides whether the state finds out (:meth:`Enforcement.detect`)
and carries the punishment out (:meth:`Enforcement.punish`), so every punishment in the model
follows the same rules and is counted in one place, by type, offence, role and province.

- **Detection** combines surveillance (state security agents per household in the province,
  relative to the country, times a scenario-wide intensity that crackdowns raise), neighbours
  who inform, and protection: an offender shielded by ties to cadres is found out less often.
- **Buying one's way out.** A caught offender whose household can pay a price well above the
  fine, to an official willing to take it, pays a state security agent of the province and
  the case is dropped: in the reports punishment is routinely traded for money.
- **Sentences.** Otherwise the offence's sentence is drawn: a labour camp for some months
  (the person is held away from home, then returns to an assigned job), exile (the household
  is moved to the countryside and loses urban status), dismissal (a cadre loses the post), or
  a fine paid to the state. The shares come from the offence; ``harshness`` scales all the
  heavy sanctions at once, for crackdown scenarios.

Enforcement runs second each month: first it releases those whose camp term has ended; the
modules after it call ``detect`` and ``punish`` during their own steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS, within_means
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.enforcement_kernels import persons_in_roles, responsible_members
from jangmadang.results import group_sum
from jangmadang.state import (
    CADRE_ROLES,
    IS_AWAY,
    AgeBand,
    Renumbering,
    Role,
    draw_within_groups,
    label,
    role_mask,
)

# Outcomes of a punished case, from lightest to heaviest; results are counted by these names.
BRIBE, FINE, DISMISSAL, EXILE, LABOUR_CAMP = range(5)
OUTCOMES = ("bribe", "fine", "dismissal", "exile", "labour_camp")

# Posts a dismissal takes away.
POSTS = (*CADRE_ROLES, Role.MSS_AGENT, Role.INMINBAN_HEAD)
_IS_POST = role_mask(POSTS)


@dataclass(frozen=True)
class Sentence:
    """How an offence is punished when the offender cannot buy their way out.

    ``camp``, ``exile`` and ``dismissal`` are the chances of each heavy sanction (dismissal
    applies only to holders of a post); whoever escapes all three pays ``fine_usd``.
    """

    fine_usd: float
    camp: float = 0.0
    camp_months: int = 0
    exile: float = 0.0
    dismissal: float = 0.0


class EnforcementParams(ParameterModel):
    surveillance_intensity: float = Field(1.0, ge=0, le=10)
    informer_rate: float = Field(0.02, ge=0, le=1)
    protection_shield: float = Field(0.7, ge=0, le=1)
    bribe_acceptance: float = Field(0.6, ge=0, le=1)
    escape_price_multiple: float = Field(5.0, ge=1, le=100)
    harshness: float = Field(1.0, ge=0, le=5)


class Enforcement(Module):
    name = "enforcement"
    Params = EnforcementParams
    rules = {
        "enforcement.detection": "An offence is found out with a chance that grows with the province's density of state security agents and the scenario's surveillance intensity, and with neighbours who inform; protection ties shield the offender.",
        "enforcement.bribe_out": "A caught offender whose household can pay several times the fine, to an official willing to take it, pays a state security agent of the province and the case is dropped.",
        "enforcement.sentence": "Otherwise the offence's sentence is drawn: labour camp, exile or dismissal with the offence's chances (scaled by harshness), else a fine to the state.",
        "enforcement.labour_camp": "A person sent to a labour camp is away from home for the sentence's months, then returns to an assigned job.",
        "enforcement.exile": "An exiled household is moved to a rural inminban of its province and loses urban status; members holding town posts are assigned to a farm.",
        "enforcement.dismissal": "A dismissed cadre, agent or inminban head loses the post and returns to an assigned job.",
    }

    def init_state(self) -> None:
        self.offences: list[str] = []
        self.camp_person = np.zeros(0, dtype=np.int64)  # persons serving a camp term
        self.camp_release = np.zeros(0, dtype=np.int32)  # month ordinal of their release
        self._forget_month()
        self._reset_counts()

    def declare(self, offence: str) -> None:
        """Register an offence at set-up, so its punishments are reported every month."""
        if offence in self.offences:
            raise ValueError(f"offence {offence!r} declared twice")
        self.offences.append(offence)
        self._reset_counts()

    def _reset_counts(self) -> None:
        n_provinces = self.sim.geography.n
        self.cases = np.zeros((len(self.offences), len(OUTCOMES)), dtype=np.int64)
        self.cases_by_role = np.zeros(len(Role), dtype=np.int64)
        self.cases_by_province = np.zeros(n_provinces, dtype=np.int64)
        self.fines = self.bribes = 0.0
        self._punished: list[np.ndarray] = []  # households punished this month
        self._bought_out: list[np.ndarray] = []  # households that bought a case off this month

    def punished_households(self) -> np.ndarray:
        """Households whose member was punished this month (neighbours see it happen)."""
        return np.concatenate([np.zeros(0, dtype=np.int64), *self._punished])

    def bought_out_households(self) -> np.ndarray:
        """Households that paid an official to drop a case this month (the bribes module
        counts them among the households paying bribes)."""
        return np.concatenate([np.zeros(0, dtype=np.int64), *self._bought_out])

    # -- monthly rule --------------------------------------------------------------------------

    def step(self) -> None:
        self._reset_counts()
        self._forget_month()
        people = self.sim.people
        # An inmate who died this month (demography runs first) leaves the camp's list now,
        # not at the yearly rebuild, so the camp holds the living only.
        alive = people.role[self.camp_person] != Role.DECEASED
        done = self.camp_release <= self.month_index
        released = self.camp_person[done & alive]
        keep = alive & ~done
        self.camp_person, self.camp_release = self.camp_person[keep], self.camp_release[keep]
        if len(released):
            still_held = released[people.role[released] == Role.DETAINED]
            self.sim.population.assign_ordinary_job(np.sort(still_held))

    def renumbered(self, change: Renumbering) -> None:
        """Camp terms follow their inmates; those who died in the camp leave the list."""
        person = change.persons(self.camp_person)
        alive = person >= 0
        self.camp_person, self.camp_release = (
            person[alive].astype(np.int64),
            self.camp_release[alive],
        )
        self._punished = [h[h >= 0] for h in (change.households(x) for x in self._punished)]
        self._bought_out = [h[h >= 0] for h in (change.households(x) for x in self._bought_out)]
        self._forget_month()

    def _forget_month(self) -> None:
        """Drop last month's agent lists and surveillance densities (found on first use)."""
        self._agents: tuple[np.ndarray, np.ndarray] | None = None  # persons, their province
        self._surveillance: np.ndarray | None = None

    # -- the shared function -------------------------------------------------------------------

    def detection_chance(
        self, households: np.ndarray, base, protected: np.ndarray | None = None
    ) -> np.ndarray:
        """The chance that an offence by each of these households is found out this month.

        ``base`` (a number or one per household) is the offence's chance of detection by
        surveillance in a province with the country's average density of agents; neighbours
        inform on top of it, more readily the more loyal they are; ``protected`` (bool per household) marks offenders shielded by
        protection ties. Modules also use it to weigh the risk of an act before choosing it.
        """
        p = self.pars
        province = self.sim.households.province[households]
        surveillance = np.minimum(1.0, base * p.surveillance_intensity * self._density()[province])
        informers = np.minimum(1.0, p.informer_rate * self.sim.loyalty.informing(households))
        chance = 1 - (1 - surveillance) * (1 - informers)
        if protected is not None:
            chance = np.where(protected, chance * (1 - p.protection_shield), chance)
        return chance

    def presence(self) -> np.ndarray:
        """Surveillance in each province this month relative to the country's average:
        the density of state security agents times the scenario's intensity (what
        ``detection_chance`` multiplies the offence's base chance by)."""
        return self.pars.surveillance_intensity * self._density()

    def detect(
        self, households: np.ndarray, base, protected: np.ndarray | None = None
    ) -> np.ndarray:
        """Which of these households' offences the state finds out about this month."""
        chance = self.detection_chance(households, base, protected)
        return self.rng.random(len(households)) < chance

    def punish(self, offence: str, persons: np.ndarray, sentence: Sentence) -> np.ndarray:
        """Punish caught offenders (persons; -1 entries are skipped) for ``offence``.

        The household pays a bribe or the fine; the person is sent to a camp or dismissed; the
        household is exiled. Exile also costs the holder of a town post the post. Returns each
        punished person's outcome code (``OUTCOMES``), in the order of the persons kept.
        """
        sim, p = self.sim, self.pars
        people, hh, population = sim.people, sim.households, sim.population
        persons = np.asarray(persons, dtype=np.int64)
        persons = persons[persons >= 0]
        if len(persons) == 0:
            return np.zeros(0, dtype=np.int8)
        household = people.household[persons].astype(np.int64)
        role = people.role[persons].copy()
        rng = self.rng

        price = p.escape_price_multiple * max(sentence.fine_usd, 1.0)
        agents, agent_household = self._agent_for(hh.province[household], rng)
        first_in_household = np.zeros(len(persons), dtype=bool)  # one buy-out per household
        first_in_household[np.unique(household, return_index=True)[1]] = True
        buys_out = (
            (rng.random(len(persons)) < p.bribe_acceptance)
            & (hh.cash[household] >= price)
            & (agents >= 0)
            & first_in_household
        )
        heavy = np.clip(
            np.array([sentence.camp, sentence.exile, sentence.dismissal]) * p.harshness, 0, 1
        )
        draw = rng.random(len(persons))
        has_post = _IS_POST[role]
        outcome = np.full(len(persons), FINE, dtype=np.int8)
        outcome[has_post & (draw < heavy[:3].sum())] = DISMISSAL
        outcome[draw < heavy[:2].sum()] = EXILE
        outcome[draw < heavy[0]] = LABOUR_CAMP
        outcome[buys_out] = BRIBE

        bribing = outcome == BRIBE
        self.bribes += sim.ledger.pay(
            "escape_bribe",
            HOUSEHOLDS,
            HOUSEHOLDS,
            np.full(bribing.sum(), price),
            debit_idx=household[bribing],
            credit_idx=agent_household[bribing],
        )
        fined = outcome == FINE
        self.fines += sim.ledger.pay(
            "enforcement_fine",
            HOUSEHOLDS,
            "state",
            within_means(hh.cash, household[fined], np.full(fined.sum(), sentence.fine_usd)),
            debit_idx=household[fined],
        )
        camp = np.sort(persons[outcome == LABOUR_CAMP])
        population.set_role(camp, Role.DETAINED)
        self.camp_person = np.concatenate([self.camp_person, camp])
        self.camp_release = np.concatenate(
            [self.camp_release, np.full(len(camp), self.month_index + sentence.camp_months)]
        )
        population.exile(household[outcome == EXILE])
        dismissed = persons[(outcome >= DISMISSAL) & (outcome != LABOUR_CAMP) & has_post]
        dismissed = dismissed[_IS_POST[people.role[dismissed]]]  # exile took some posts
        population.assign_ordinary_job(np.sort(dismissed))

        self._punished.append(household)
        self._bought_out.append(household[bribing])
        row = self.offences.index(offence)
        np.add.at(self.cases[row], outcome, 1)
        np.add.at(self.cases_by_role, role, 1)
        np.add.at(self.cases_by_province, hh.province[household], 1)
        return outcome

    def responsible_member(self, households: np.ndarray) -> np.ndarray:
        """The person who answers for a household's offence: its first adult at home, else its
        first member at home, else -1 (everyone is away: no one is punished)."""
        people, hh = self.sim.people, self.sim.households
        return responsible_members(
            np.asarray(households, dtype=np.int64),
            hh.first_person,
            hh.size,
            people.role,
            people.age_band,
            IS_AWAY,
            int(AgeBand.YOUNG),
        )

    # -- helpers -------------------------------------------------------------------------------

    def _density(self) -> np.ndarray:
        """Agents per household in each province, relative to the country (1 = average)."""
        if self._surveillance is not None:
            return self._surveillance
        sim = self.sim
        agents = group_sum(
            sim.households.province, sim.geography.n, sim.population.role_count[Role.MSS_AGENT]
        )
        households = group_sum(sim.households.province, sim.geography.n)
        per_household = agents / np.maximum(households, 1)
        mean = agents.sum() / max(households.sum(), 1)
        self._surveillance = per_household / mean if mean > 0 else np.zeros(sim.geography.n)
        return self._surveillance

    def _agent_for(self, provinces: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
        """A state security agent of each case's province (person, household); -1 if none."""
        sim = self.sim
        if self._agents is None:
            agents = persons_in_roles(sim.people.role, int(Role.MSS_AGENT), int(Role.MSS_AGENT))
            self._agents = agents, sim.households.province[sim.people.household[agents]]
        person = draw_within_groups(*self._agents, provinces, rng)
        household = np.where(person >= 0, sim.people.household[np.maximum(person, 0)], -1)
        return person, household

    # -- results -------------------------------------------------------------------------------

    def record(self, rec) -> None:
        sim = self.sim
        rec.add("punishments", int(self.cases.sum()))
        rec.add_groups("punishments", self.cases.sum(axis=0), "type", list(OUTCOMES))
        rec.add_groups("punishments", self.cases.sum(axis=1), "offence", self.offences)
        rec.add_groups("punishments", self.cases_by_role, "role", [label(r) for r in Role])
        rec.add_groups("punishments", self.cases_by_province, "province", sim.geography.names)
        rec.add("enforcement_fines_usd", self.fines)
        rec.add("escape_bribes_usd", self.bribes)
        rec.add("labour_camp_population", len(self.camp_person))
        rec.add("exiled_households", int(self.cases[:, EXILE].sum()))
