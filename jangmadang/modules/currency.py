"""Currency: the redenomination of the won (30 November 2009).

Old won were exchanged for new at 100 to 1, but each person could exchange only a small amount;
won savings beyond it became worthless, while money kept in dollars or yuan (most of the
donju's wealth) was untouched. The state then closed the markets and banned foreign currency,
and reversed both within about two months. The model holds money in dollars, so the reform is a loss of the won part of each
household's cash above the exchange limit of its members (paid to the state, a declared sink)
and a closure of the markets that lets only part of the goods trade go on. What follows comes
from the other mechanisms: households spend less, traders earn less and some stop paying to
trade, and donju who lost most of their wealth drop out at the next January review.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.ledger import HOUSEHOLDS
from jangmadang.module import Module, ParameterModel
from jangmadang.state import HouseholdKind


class CurrencyParams(ParameterModel):
    # Set for the month of the reform by the history scenario's event; the exchange happens
    # in the first month it is on.
    redenomination: bool = False
    exchange_limit_usd: float = Field(40.0, ge=0)
    foreign_currency_share: float = Field(0.2, ge=0, le=1)
    donju_foreign_currency_share: float = Field(0.8, ge=0, le=1)
    market_closure_months: int = Field(2, ge=0, le=12)
    closure_trade_share: float = Field(0.3, ge=0, le=1)


class Currency(Module):
    name = "currency"
    Params = CurrencyParams
    rules = {
        "currency.exchange_limit": "At the redenomination each household keeps its cash up to the exchange limit of its members and what it holds in foreign currency (donju far more than others); the rest of its won is lost to the state.",
        "currency.market_closure": "After the redenomination the markets are closed for a few months and only part of the goods trade goes on.",
    }

    def init_state(self) -> None:
        self.market_open_share = 1.0  # share of the goods trade that markets allow (markets reads)
        self.closure_left = 0  # months of closure still to come
        self.reform_on = False  # was the reform's flag on last month
        self.wiped_usd = 0.0  # cash lost at the exchange this month

    def step(self) -> None:
        p = self.pars
        self.wiped_usd = 0.0
        if p.redenomination and not self.reform_on:
            self._exchange()
            self.closure_left = p.market_closure_months
        self.reform_on = p.redenomination
        if self.closure_left > 0:
            self.market_open_share = p.closure_trade_share
            self.closure_left -= 1
        else:
            self.market_open_share = 1.0

    def _exchange(self) -> None:
        """Won above the members' exchange limit become worthless: households -> state."""
        sim, p = self.sim, self.pars
        hh = sim.households
        limit = p.exchange_limit_usd * sim.population.present()
        lost = np.subtract(hh.cash, limit)
        np.maximum(lost, 0, out=lost)
        # Donju kept most of their wealth in dollars and yuan; ordinary savers held won.
        lost *= np.where(
            hh.kind == HouseholdKind.DONJU,
            1 - p.donju_foreign_currency_share,
            1 - p.foreign_currency_share,
        )
        np.minimum(lost, hh.cash, out=lost)
        self.wiped_usd = sim.ledger.pay("redenomination", HOUSEHOLDS, "state", lost)

    def record(self, rec) -> None:
        rec.add("redenomination_loss_usd", self.wiped_usd)
        rec.add("market_open_share", self.market_open_share)
