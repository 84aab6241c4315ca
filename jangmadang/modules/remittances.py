"""Remittances: money from defectors in South Korea to their families, through brokers.

About 62% of defectors sent money home in 2018, mostly $500-2,000 a year
(002_d0e71752c93d23e1.txt), in one or two transfers. Each settled defector is, or is not, a
remitter for good; a remitter wants to send a yearly amount that their own income in the South
limits, and sends it in instalments in random months after a settlement lag.

A transfer is a chain of ledger payments. The defector's money (``abroad``) goes to brokers in
China (``brokers``), who smuggle it across the border; each broker in the chain keeps a cut,
more when the border is restricted or closed, and when it is closed far fewer transfers get
through at all. What is left is delivered to the family (income source ``REMITTANCE``), unless
the state finds out (the shared enforcement function's detection) and seizes it (``state``);
the family is then punished.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.defection import SETTLED
from jangmadang.modules.enforcement import Sentence
from jangmadang.modules.remittances_kernels import household_sums
from jangmadang.results import mean_of_sums


class RemittancesParams(ParameterModel):
    remitter_share: float = Field(0.78, ge=0, le=1)
    annual_amount_median_usd: float = Field(1_000.0, gt=0)
    annual_amount_sigma: float = Field(0.35, ge=0, le=2)
    income_median_usd: float = Field(1_500.0, gt=0)
    income_sigma: float = Field(0.5, ge=0, le=2)
    max_income_share: float = Field(0.15, ge=0, le=1)
    transfers_per_year: float = Field(1.5, gt=0, le=12)
    settlement_months: int = Field(6, ge=0, le=60)
    brokers_in_chain: int = Field(3, ge=1, le=6)
    broker_cut: float = Field(0.10, ge=0, le=0.5)
    broker_cut_restricted: float = Field(0.15, ge=0, le=0.5)
    broker_cut_closed: float = Field(0.20, ge=0, le=0.5)
    delivery_restricted: float = Field(0.7, ge=0, le=1)
    delivery_closed: float = Field(0.2, ge=0, le=1)
    seizure_prob: float = Field(0.02, ge=0, le=1)
    seizure_fine_usd: float = Field(100.0, ge=0)
    seizure_camp_share: float = Field(0.05, ge=0, le=1)
    seizure_camp_months: int = Field(6, ge=0, le=120)


class Remittances(Module):
    name = "remittances"
    Params = RemittancesParams
    rules = {
        "remittances.who_sends": "Each settled defector is a remitter or not for good; remitters send after a settlement lag, in a random month with a fixed yearly rate.",
        "remittances.amount": "A remitter's yearly amount is drawn around $1,000 and capped by a share of their own income in the South; each transfer is that amount divided by the transfers per year.",
        "remittances.broker_chain": "Each broker in the chain keeps a cut of what reaches them; cuts rise when the border is restricted or closed.",
        "remittances.delivery": "When the border is restricted or closed only a share of transfers get through; the rest are not sent that month.",
        "remittances.seizure": "The state finds out about a transfer through surveillance or informers with a small chance, seizes it and punishes the family (a fine, rarely a labour camp).",
    }

    def init_state(self) -> None:
        self.remitter = np.zeros(0, dtype=bool)  # aligned with defection.registry rows
        self.transfer = np.zeros(0)  # USD per transfer
        self.last_sent = np.zeros(0, dtype=np.int32)  # month ordinal, -1 never
        self.sent = self.fees = self.delivered = self.seized = 0.0
        self.transfers = 0
        self.received = np.zeros(0)
        self.sim.enforcement.declare("remittance_seized")

    def _extend(self) -> None:
        """Draw the traits of defectors registered since last month."""
        p, n = self.pars, len(self.sim.defection.registry["person"])
        new = n - len(self.remitter)
        if new <= 0:
            return
        rng = self.rng
        remitter = rng.random(new) < p.remitter_share
        wanted = p.annual_amount_median_usd * np.exp(
            p.annual_amount_sigma * rng.standard_normal(new)
        )
        income = 12 * p.income_median_usd * np.exp(p.income_sigma * rng.standard_normal(new))
        annual = np.minimum(wanted, p.max_income_share * income)
        self.remitter = np.concatenate([self.remitter, remitter])
        self.transfer = np.concatenate([self.transfer, annual / p.transfers_per_year])
        self.last_sent = np.concatenate([self.last_sent, np.full(new, -1, dtype=np.int32)])

    def step(self) -> None:
        sim, p = self.sim, self.pars
        ledger, reg = sim.ledger, sim.defection.registry
        self._extend()
        border = sim.pars.world.border
        cut = {
            "open": p.broker_cut,
            "restricted": p.broker_cut_restricted,
            "closed": p.broker_cut_closed,
        }[border]
        delivery = {"open": 1.0, "restricted": p.delivery_restricted, "closed": p.delivery_closed}[
            border
        ]

        eligible = np.flatnonzero(
            (reg["stage"] == SETTLED) & self.remitter & (reg["months"] >= p.settlement_months)
        )
        draw = self.rng.random(len(eligible))
        sending = eligible[draw < p.transfers_per_year / 12 * delivery]
        gross = self.transfer[sending]
        kept = 1 - (1 - cut) ** p.brokers_in_chain
        net = gross * (1 - kept)
        enforcement = sim.enforcement
        seized = enforcement.detect(reg["household"][sending], p.seizure_prob)

        self.sent = ledger.pay("remittance_sent", "abroad", "brokers", gross)
        self.fees = self.sent * kept
        self.seized = ledger.pay("remittance_seized", "brokers", "state", net[seized])
        enforcement.punish(
            "remittance_seized",
            enforcement.responsible_member(reg["household"][sending[seized]]),
            Sentence(
                fine_usd=p.seizure_fine_usd,
                camp=p.seizure_camp_share,
                camp_months=p.seizure_camp_months,
            ),
        )
        households = reg["household"][sending[~seized]]
        self.delivered = ledger.pay(
            "remittance_delivered",
            "brokers",
            HOUSEHOLDS,
            net[~seized],
            credit_idx=households,
            source=IncomeSource.REMITTANCE,
        )
        self.last_sent[sending] = self.month_index
        self.transfers = len(sending)

    def record(self, rec) -> None:
        sim, reg = self.sim, self.sim.defection.registry
        hh, geo = sim.households, sim.geography
        rec.add("remittances_sent_usd", self.sent)
        rec.add("remittance_broker_fees_usd", self.fees)
        rec.add("remittances_seized_usd", self.seized)
        rec.add("remittances_received_usd", self.delivered)
        rec.add("remittance_transfers", self.transfers)
        yearly = (
            self.sent / self.transfers * self.pars.transfers_per_year if self.transfers else np.nan
        )
        rec.add("remittance_yearly_per_remitter_usd", yearly)
        rec.add("broker_share_of_transfers", self.fees / self.sent if self.sent else np.nan)
        # One compiled pass over households for the sums by province and by relatives abroad.
        received, counts, sums = household_sums(
            hh.province,
            geo.n,
            hh.relatives_abroad,
            hh.income,
            int(IncomeSource.REMITTANCE),
            hh.spending,
            hh.cash,
        )
        rec.add_groups("remittances_received_usd", received, "province", geo.names)
        now = self.month_index
        settled = (reg["stage"] == SETTLED) & (reg["months"] >= self.pars.settlement_months)
        recent = settled & (self.last_sent > now - 12) & (self.last_sent >= 0)
        rec.add("defectors_sent_last_12_months_share", recent.sum() / max(settled.sum(), 1))

        groups = ["without", "with"]
        for name, row in zip(
            ("spending_usd", "cash_mean_usd", "income_total_usd"), sums, strict=True
        ):
            rec.add_groups(name, mean_of_sums(row, counts), "relatives_abroad", groups)
