"""Loyalty: what people privately believe about the regime, what they show, and how others
see their household.

Every person has a private loyalty in [0, 1] and an outward compliance. Fear keeps compliance
high while private loyalty withers: compliance = L + (1 - L) x fear, and the state sees only
compliance. Each month private loyalty moves with separate terms, each switched off by
setting its strength to zero in a scenario:

- hunger lowers it (food-insecure households);
- living off markets and remittances rather than the state wears it down (000);
- weekly lectures at inminban meetings raise it for those who attend, in proportion to the
  content's credibility and the listener's receptivity, which collapses when hungry (003);
- rallies against defectors backfire among people whose inminban has defector families who
  live well: interest and envy grow and loyalty falls (002);
- neighbours pull each other's views together when they are not too far apart (bounded
  confidence within the inminban), so views cluster locally;
- a punishment in the inminban raises fear and lowers private loyalty;
- a gift from the leader raises loyalty in proportion to the loyalty already there (000).

Loyalty feeds back (each feedback has a strength; zero switches it off): less loyal households
defect more (defection), agents and cadres weigh their career less against a bribe (security,
patronage), less loyal neighbourhoods inform less (enforcement), less loyal defector families
are more open about their money (security), and gift recipients value the leader's gifts by
their loyalty (gifts).

Households have a visible standing from what they spend. Once a year unmarried young adults
marry, matched by the desirability of each other's households: standing, a cadre in the
family, and the political risk of a defector in it, which weighs as much as the province
still cares about politics (its mean loyalty). Persons do not move between households (the
arrays stay contiguous): a marriage sets both partners' ``married`` flag and is counted.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from jangmadang import streams
from jangmadang.kernels import in_blocks, in_ranges, n_blocks
from jangmadang.ledger import IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules import loyalty_kernels as kernels
from jangmadang.modules.demography import MARRIAGE_AGE
from jangmadang.results import group_mean
from jangmadang.state import (
    CADRE_ROLES,
    IS_AWAY,
    AgeBand,
    HouseholdKind,
    Renumbering,
    Role,
    label,
)

# Loyalty at which every feedback multiplier is 1: the model's middle of the scale.
REFERENCE_LOYALTY = 0.5


class LoyaltyParams(ParameterModel):
    initial_mean: float = Field(0.5, ge=0, le=1)
    initial_sd: float = Field(0.1, ge=0, le=0.5)
    cadre_bonus: float = Field(0.2, ge=-1, le=1)
    agent_bonus: float = Field(0.25, ge=-1, le=1)
    trader_bonus: float = Field(-0.1, ge=-1, le=1)
    pyongyang_bonus: float = Field(0.15, ge=-1, le=1)
    border_bonus: float = Field(-0.1, ge=-1, le=1)
    hunger_effect: float = Field(0.004, ge=0, le=0.1)
    market_effect: float = Field(0.002, ge=0, le=0.1)
    lectures_per_month: int = Field(4, ge=0, le=31)
    lecture_attendance: float = Field(0.16, ge=0, le=1)
    lecture_effect: float = Field(0.004, ge=0, le=0.1)
    lecture_credibility: float = Field(0.5, ge=0, le=1)
    hungry_receptivity: float = Field(0.1, ge=0, le=1)
    rally_intensity: float = Field(0.0, ge=0, le=5)
    rally_backfire: float = Field(0.03, ge=0, le=0.5)
    neighbour_confidence: float = Field(0.2, ge=0, le=1)
    neighbour_pull: float = Field(0.05, ge=0, le=1)
    punishment_effect: float = Field(0.00753, ge=0, le=0.2)
    base_fear: float = Field(0.7, ge=0, le=1)
    fear_per_punishment: float = Field(0.05, ge=0, le=1)
    fear_decay: float = Field(0.1, ge=0, le=1)
    gift_effect: float = Field(0.2, ge=0, le=1)
    feedback_defection: float = Field(1.0, ge=0, le=10)
    feedback_bribery: float = Field(1.0, ge=0, le=5)
    feedback_informing: float = Field(1.0, ge=0, le=5)
    feedback_openness: float = Field(0.5, ge=0, le=1)
    feedback_gifts: float = Field(1.0, ge=0, le=1)
    standing_memory: float = Field(0.9, ge=0, le=1)
    marriage_month: int = Field(3, ge=1, le=12)
    marriage_rate: float = Field(0.15, ge=0, le=1)
    cadre_desirability: float = Field(0.3, ge=0, le=1)
    background_risk: float = Field(0.6, ge=0, le=2)
    match_noise: float = Field(0.1, ge=0, le=1)


class Loyalty(Module):
    name = "loyalty"
    Params = LoyaltyParams
    rules = {
        "loyalty.initial": "Initial private loyalty is drawn around a mean, higher for cadres and agents and in Pyongyang, lower for traders and in border provinces.",
        "loyalty.compliance": "Outward compliance is private loyalty plus fear times the rest; fear is a base level raised by punishments in the inminban, fading month by month.",
        "loyalty.hunger": "Food insecurity lowers private loyalty each month.",
        "loyalty.market_dependence": "The larger the share of a household's income from markets and remittances, the more its members' loyalty withers each month.",
        "loyalty.lectures": "Adults who attend weekly inminban lectures gain loyalty in proportion to the content's credibility and their receptivity, which collapses when they are hungry.",
        "loyalty.rallies": "Rallies against defectors lower the loyalty of people whose inminban has defector families living better than their neighbours, the more so the more intense the campaign.",
        "loyalty.neighbours": "Each adult moves toward the mean view of the inminban when it is within a confidence bound.",
        "loyalty.punishment_seen": "A punishment in the inminban raises fear there and lowers its members' private loyalty.",
        "loyalty.gifts": "A gift from the leader raises the recipient's loyalty in proportion to the loyalty already there.",
        "loyalty.feedbacks": "Loyalty feeds back into defection, bribe-taking, informing and how openly defector families show their money, each with a strength that zero switches off.",
        "loyalty.standing": "A household's visible standing is what it spends, smoothed over months; defector families who live better than their neighbours draw envy.",
        "loyalty.marriage": "Once a year a share of unmarried young adults marry, matched man to woman by the desirability of their households: standing, a cadre in the family, and the risk of a defector in it weighted by the province's loyalty.",
    }

    def init_state(self) -> None:
        sim, p, rng = self.sim, self.pars, self.rng
        people, hh, geo = sim.people, sim.households, sim.geography
        role = people.role
        province = hh.province[people.household]
        bonus = np.zeros(len(Role), dtype=np.float32)
        bonus[list(CADRE_ROLES)] = p.cadre_bonus
        bonus[Role.MSS_AGENT] = p.agent_bonus
        bonus[[Role.TRADER, Role.DONJU]] = p.trader_bonus
        place = np.where(geo.border, p.border_bonus, 0.0).astype(np.float32)
        place[geo.pyongyang] += p.pyongyang_bonus
        loyalty = rng.standard_normal(people.n, dtype=np.float32)
        loyalty *= p.initial_sd
        loyalty += p.initial_mean
        loyalty += bonus[role]
        loyalty += place[province]
        del province
        np.clip(loyalty, 0, 1, out=loyalty)
        people.set("loyalty", loyalty, inherit=True)  # a newborn starts from the mother's
        people.add("compliance", np.float32, scratch=True)  # set each month before read
        self._count_adults()
        hh.add("loyalty", np.float32, inherit=True)  # mean private loyalty of the adults
        hh.add("standing", np.float32, inherit=True)  # visible consumption, smoothed
        n_units = int(hh.inminban.max(initial=-1)) + 1
        self.fear = np.zeros(n_units, dtype=np.float32)  # fear above the base, per inminban
        self.inminban_loyalty = np.zeros(n_units)  # mean adult loyalty, per inminban
        self.inminban_households = np.zeros(n_units, dtype=np.int64)
        self._members_at = -1  # ``population.moves`` when the inminban's households were listed
        self.defector_households = np.zeros(n_units, dtype=np.int64)  # per inminban, this month
        self.desirability = np.full(hh.n, np.nan, dtype=np.float32)  # at the last marriage round
        self.eligible = self.married_by_kind = np.zeros(len(HouseholdKind) + 1, dtype=np.int64)
        self._reset_month()
        self._update_persons(move=False)

    def _count_adults(self) -> None:
        """Adults (15 and over, alive) and their number per household; ages move into the
        bands once a year, at the rebuild of the population."""
        people, hh = self.sim.people, self.sim.households
        self.adult = np.empty(people.n, dtype=bool)
        self.adults = np.empty(hh.n)
        in_blocks(
            kernels.count_adults,
            hh.n,
            self.adult,
            self.adults,
            people.age_band,
            people.role,
            int(AgeBand.YOUNG),
            int(Role.DECEASED),
            hh.first_person,
            hh.size,
        )
        # Deciles are read from a fixed systematic sample of adults (those among every 16th
        # person): exact for the sample, and a pass over 1/16 of the population.
        self.decile_sample = 16 * np.flatnonzero(self.adult[::16])

    def role_changed(self, persons: np.ndarray, role: int) -> None:
        """The dead no longer count among their household's adults."""
        if role != Role.DECEASED:
            return
        persons = persons[self.adult[persons]]
        self.adult[persons] = False
        np.subtract.at(self.adults, self.sim.people.household[persons], 1.0)

    def renumbered(self, change: Renumbering) -> None:
        self._count_adults()
        self.desirability = change.per_household(self.desirability, np.nan)

    def _reset_month(self) -> None:
        self.attended = 0
        self.lecture_gain = self.rally_loss = 0.0
        self.lecture_gain_by_food = np.zeros(2)  # per attending adult: food-secure, insecure
        self.rally_exposed = 0
        self.envy = np.nan
        self.marriages = 0

    # -- monthly rule --------------------------------------------------------------------------

    def step(self) -> None:
        sim, p = self.sim, self.pars
        self._reset_month()
        exposure = self._defector_prosperity()  # also smooths the households' standing
        self.envy = float(exposure[exposure > 0].mean()) if (exposure > 0).any() else 0.0
        self._update_persons(move=True, rally=self._rally_loss(exposure))
        if sim.month.month == p.marriage_month:
            self._marry()

    def _update_persons(self, move: bool, rally: np.ndarray | None = None) -> None:
        """One pass over persons (``loyalty_kernels.update_persons``): when ``move``, this
        month's change of private loyalty (hunger, markets, lectures, rallies, punishments
        seen, neighbours); always, compliance and the household and inminban loyalty that
        feedbacks read."""
        sim, p = self.sim, self.pars
        people, hh = sim.people, sim.households
        n_units = len(self.fear)
        unit_loss = np.zeros((n_units, 2), dtype=np.float32)
        if move:
            unit_loss[:, 0] = rally
            unit_loss[:, 1] = self._punishments_seen()
        household_sums = np.empty(hh.n, dtype=np.float32)
        totals = np.zeros((n_blocks(hh.n), 3))
        counts = np.zeros((n_blocks(hh.n), 3), dtype=np.int64)
        in_blocks(
            kernels.update_persons,
            hh.n,
            totals,
            counts,
            hh.first_person,
            hh.size,
            hh.inminban,
            hh.food_insecure,
            hh.income,
            self.adults,
            self.adult,
            people.loyalty,
            people.compliance,
            hh.loyalty,
            household_sums,
            self.inminban_loyalty,
            self._inminban_fear(),
            unit_loss,
            streams.key(sim.seed, self.name, sim.month, "lectures"),
            self._lecture_thresholds(),
            move,
            p.hunger_effect,
            p.market_effect,
            np.array([IncomeSource.MARKET, IncomeSource.REMITTANCE]),
            np.float32(p.lecture_effect * p.lecture_credibility),
            np.float32(p.hungry_receptivity) * np.float32(p.lecture_effect * p.lecture_credibility),
            p.neighbour_confidence,
            p.neighbour_pull,
            p.initial_mean,
        )
        self.inminban_loyalty = np.empty(n_units)
        in_ranges(
            kernels.unit_means,
            n_units,
            self.inminban_loyalty,
            *self._unit_members(),
            household_sums,
            self.adults,
        )
        (gain_fed, gain_hungry, rally_loss), (went_fed, went_hungry, exposed) = (
            totals.sum(axis=0),
            counts.sum(axis=0),
        )
        self.attended = int(went_fed + went_hungry)
        self.lecture_gain = float(gain_fed + gain_hungry) / max(self.attended, 1)
        self.lecture_gain_by_food = np.array(
            [gain_fed / max(went_fed, 1), gain_hungry / max(went_hungry, 1)]
        )
        self.rally_exposed = int(exposed)
        self.rally_loss = float(rally_loss) / max(self.rally_exposed, 1)

    def _unit_members(self) -> tuple[np.ndarray, np.ndarray]:
        """The households of each inminban (``loyalty_kernels.unit_members``), listed again
        only when households moved (exiled, or renumbered at the yearly rebuild)."""
        moves = self.sim.population.moves
        if self._members_at != moves:
            self.unit_start, self.unit_households = kernels.unit_members(
                self.sim.households.inminban, len(self.fear)
            )
            self.inminban_households = np.diff(self.unit_start)
            self._members_at = moves
        return self.unit_start, self.unit_households

    def _inminban_fear(self) -> np.ndarray:
        """Fear per inminban: the base level plus what punishments seen there added (float32)."""
        return (self.pars.base_fear + self.fear).astype(np.float32)

    def _lecture_thresholds(self) -> np.ndarray:
        """Weekly lectures: an adult attends each with the attendance rate; each attended one
        persuades by credibility x receptivity (which collapses when hungry), with room to grow
        (1 - L). Lectures attended ~ Binomial(lectures, attendance), drawn from one uniform
        per adult through the binomial CDF: these thresholds (none when there are no lectures).
        """
        p = self.pars
        if p.lectures_per_month == 0 or p.lecture_attendance == 0:
            return np.zeros(0, dtype=np.float32)
        k = np.arange(p.lectures_per_month + 1)
        return np.cumsum(
            [math.comb(p.lectures_per_month, i) for i in k]
            * p.lecture_attendance**k
            * (1 - p.lecture_attendance) ** (p.lectures_per_month - k)
        )[:-1].astype(np.float32)

    def _rally_loss(self, exposure: np.ndarray) -> np.ndarray:
        """Rallies against defectors backfire where defector families visibly live well: the
        loss of each adult, per inminban."""
        p = self.pars
        return (p.rally_backfire * p.rally_intensity * np.minimum(exposure, 1.0)).astype(np.float32)

    def _defector_prosperity(self) -> np.ndarray:
        """Per inminban: how much better its defector families live than their neighbours
        (relative gap in visible standing, 0 where none lives better), seen more clearly the
        more openly they show it. Smooths every household's standing on the way."""
        p, hh = self.pars, self.sim.households
        n_units = len(self.fear)
        sums, counts = np.empty((2, n_units)), np.empty((2, n_units), dtype=np.int64)
        in_ranges(
            kernels.update_standing,
            n_units,
            sums,
            counts,
            hh.standing,
            hh.spending,
            p.standing_memory,
            hh.relatives_abroad,
            *self._unit_members(),
        )
        self.defector_households = counts[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            others, theirs = sums / counts
            gap = np.nan_to_num(theirs / others - 1, nan=0.0, posinf=0.0)
        return np.maximum(gap, 0)

    def _punishments_seen(self) -> np.ndarray:
        """A punishment in the inminban raises fear there (fading month by month) and costs
        every member some private loyalty: the loss per inminban."""
        p, hh = self.pars, self.sim.households
        self.fear *= 1 - p.fear_decay
        punished = self.sim.enforcement.punished_households()
        seen = np.bincount(hh.inminban[punished], minlength=len(self.fear)).astype(np.float32)
        self.fear += p.fear_per_punishment * seen
        np.minimum(self.fear, 1 - p.base_fear, out=self.fear)
        return np.float32(p.punishment_effect) * (seen > 0)

    def _marry(self) -> None:
        """A share of unmarried young adults at home marry, men and women of a province
        paired by rank of their households' desirability (plus taste)."""
        sim, p, rng = self.sim, self.pars, self.rng
        people, hh = sim.people, sim.households
        desirability = self._desirability()
        self.desirability = desirability
        single = np.flatnonzero(
            (people.age_band == AgeBand.YOUNG)
            & ~people.married
            & ~IS_AWAY[people.role]
            & (self.month_index - people.birth_month >= 12 * MARRIAGE_AGE)
        )
        self.eligible = np.bincount(
            self._kind_of(people.household[single]), minlength=len(HouseholdKind) + 1
        )
        single = single[rng.random(len(single)) < p.marriage_rate]  # this year's seekers
        province = hh.province[people.household[single]]
        score = desirability[people.household[single]] + p.match_noise * rng.standard_normal(
            len(single)
        )
        brides, grooms = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for prov in np.unique(province):
            here = np.flatnonzero(province == prov)
            women = here[people.female[single[here]]]
            men = here[~people.female[single[here]]]
            k = min(len(women), len(men))  # the more desirable of the larger side marry,
            for side, chosen in ((women, brides), (men, grooms)):  # rank with rank
                chosen.append(single[side[np.argsort(-score[side], kind="stable")[:k]]])
        brides, grooms = np.concatenate(brides), np.concatenate(grooms)
        couples = np.concatenate([brides, grooms])
        sim.demography.marry(brides, grooms)
        self.marriages = len(brides)
        self.married_by_kind = np.bincount(
            self._kind_of(people.household[couples]), minlength=len(HouseholdKind) + 1
        )

    def _kind_of(self, households: np.ndarray) -> np.ndarray:
        """Household kind, with defector families (relatives abroad) as one more group."""
        hh = self.sim.households
        return np.where(
            hh.relatives_abroad[households] > 0, len(HouseholdKind), hh.kind[households]
        )

    def _desirability(self) -> np.ndarray:
        """Each household's desirability as in-laws: its standing (percentile of visible
        consumption within the province), a cadre in the family, and the risk of a defector in it, weighed by how
        much the province still cares about politics (its mean loyalty)."""
        sim, p = self.sim, self.pars
        hh, geo = sim.households, sim.geography
        standing = np.zeros(hh.n, dtype=np.float32)
        bounds = np.searchsorted(hh.province, np.arange(geo.n + 1))  # households by province
        kernels.ranks_within(hh.standing, bounds, standing)
        province_loyalty = group_mean(hh.province, geo.n, hh.loyalty)
        cadre = hh.kind == HouseholdKind.CADRE
        defector = hh.relatives_abroad > 0
        risk = p.background_risk * province_loyalty[hh.province]
        return standing + p.cadre_desirability * cadre - (risk * defector).astype(np.float32)

    # -- shared with other modules ---------------------------------------------------------------

    def receive_gift(self, persons: np.ndarray) -> None:
        """A gift from the leader: loyalty grows in proportion to the loyalty already there."""
        loyalty = self.sim.people.loyalty
        loyalty[persons] = np.minimum(1.0, loyalty[persons] * (1 + self.pars.gift_effect))

    def defection_feedback(self) -> tuple[float, float]:
        """How much less loyal households are more likely to leave, as (strength, reference):
        the defection hazard is multiplied by exp(strength x (reference - household loyalty))."""
        return self.pars.feedback_defection, REFERENCE_LOYALTY

    def career_weight(self, persons: np.ndarray) -> np.ndarray:
        """How much an official values career credit or fears exposure, by loyalty (1 at the
        reference loyalty)."""
        loyalty = self.sim.people.loyalty[persons]
        return np.maximum(0.0, 1 + self.pars.feedback_bribery * (loyalty - REFERENCE_LOYALTY))

    def informing(self, households: np.ndarray) -> np.ndarray:
        """How readily the neighbours of each household inform (1 at the reference loyalty)."""
        return self._inminban_informing()[self.sim.households.inminban[households]]

    def _inminban_informing(self) -> np.ndarray:
        p = self.pars
        return np.maximum(
            0.0, 1 + p.feedback_informing * (self.inminban_loyalty - REFERENCE_LOYALTY)
        )

    def gift_regard(self, persons: np.ndarray) -> np.ndarray:
        """The loyalty by which a recipient values a leader's gift (the reference loyalty for
        everyone when the feedback is off)."""
        p = self.pars
        loyalty = self.sim.people.loyalty[persons].astype(np.float64)
        return REFERENCE_LOYALTY + p.feedback_gifts * (loyalty - REFERENCE_LOYALTY)

    def openness(self, households: np.ndarray) -> np.ndarray:
        """Share of a family's money it lets others see: less loyal families hide less."""
        p = self.pars
        return 1 - p.feedback_openness * self.sim.households.loyalty[households]

    # -- results ---------------------------------------------------------------------------------

    def record(self, rec) -> None:
        sim = self.sim
        people, hh, geo = sim.people, sim.households, sim.geography
        by_group = np.zeros((n_blocks(hh.n), geo.n + 4, 3))
        by_role = np.zeros((n_blocks(hh.n), len(Role), 3))
        in_blocks(
            kernels.record_sums,
            hh.n,
            by_group,
            by_role,
            hh.first_person,
            hh.inminban,
            hh.province,
            hh.food_insecure,
            self.defector_households,
            self.adults,
            hh.loyalty,
            self._inminban_fear(),
            self.adult,
            people.role,
            people.loyalty,
            people.compliance,
        )
        by_group, by_role = by_group.sum(axis=0), by_role.sum(axis=0)  # blocks in order
        national = by_group[: geo.n].sum(axis=0)  # over provinces
        for column, name in enumerate(("private_loyalty", "compliance")):
            rec.add(name, national[column] / max(national[2], 1))
            rec.add_groups(
                name,
                by_role[:, column] / np.maximum(by_role[:, 2], 1),
                "role",
                [label(r) for r in Role],
            )
            for dimension, groups, first in (
                ("province", geo.names, 0),
                ("food_security", ["secure", "insecure"], geo.n),
                ("defector_neighbours", ["without", "with"], geo.n + 2),
            ):
                rows = by_group[first : first + len(groups)]
                rec.add_groups(name, rows[:, column] / np.maximum(rows[:, 2], 1), dimension, groups)
        sample = people.loyalty[self.decile_sample]
        deciles = np.quantile(sample, np.arange(1, 10) / 10) if len(sample) else np.full(9, np.nan)
        rec.add_groups("private_loyalty", deciles, "decile", [f"p{10 * k}" for k in range(1, 10)])
        rec.add("lecture_attendance_share", self.attended / max(national[2], 1))
        rec.add("lecture_loyalty_gain", self.lecture_gain)
        rec.add_groups(
            "lecture_loyalty_gain",
            self.lecture_gain_by_food,
            "food_security",
            ["secure", "insecure"],
        )
        rec.add("rally_loyalty_loss", self.rally_loss)
        rec.add("rally_exposed_adults", self.rally_exposed)
        rec.add("envy_index", self.envy)
        informing = self._inminban_informing() @ self.inminban_households / hh.n
        rec.add("informing_rate", informing * sim.enforcement.pars.informer_rate)
        if sim.month.month == self.pars.marriage_month:
            self._record_marriages(rec)

    def _record_marriages(self, rec) -> None:
        hh = self.sim.households
        groups = [label(k) for k in HouseholdKind] + ["defector_family"]
        rec.add("marriages", self.marriages)
        rec.add_groups(
            "marriage_rate",
            self.married_by_kind / np.maximum(self.eligible, 1),
            "household_kind",
            groups,
        )
        desirability = group_mean(
            self._kind_of(np.arange(hh.n)), len(groups), self.desirability.astype(np.float64)
        )
        rec.add_groups("marriage_desirability", desirability, "household_kind", groups)
        cadre, defector = desirability[HouseholdKind.CADRE], desirability[-1]
        rec.add("defector_family_relative_desirability", defector / cadre if cadre else np.nan)
