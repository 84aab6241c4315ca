"""Markets: household spending, traders' and donju income, imports and exports, who trades.

Households spend part of their cash on market goods: a large share of ordinary balances and a
small share of wealth beyond that. Much of what is sold comes from China, so the border and
sanctions limit what can be bought, and the imported part of sales leaves the country. What
consumers spend (on goods here, on food in the food module) is paid out to sellers in
proportion to their selling capacity: one unit per trader, far more for a donju, whose
business grows with its capital. Donju also earn from exports to China, which sanctions cut
hardest.

Men are tied to their assigned workplace, but a worker may pay the enterprise a monthly fee
(about $10) to be excused and trade instead; workers review that choice now and then and
trade when the market pays more than the wage plus the fee. Each January households whose
wealth crosses the donju threshold become donju, and donju who lose most of it drop out.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module
from jangmadang.results import group_sum
from jangmadang.state import AgeBand, HouseholdKind, Role


class MarketsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    goods_spending_share: float = Field(0.2, ge=0, le=1)
    wealth_spending_share: float = Field(0.02, ge=0, le=1)
    ordinary_balance_usd: float = Field(300.0, gt=0)
    import_dependence: float = Field(0.6, ge=0, le=1)
    input_import_dependence: float = Field(0.5, ge=0, le=1)
    import_margin: float = Field(0.3, ge=0, le=1)
    goods_price_flexibility: float = Field(0.3, ge=0, le=1)
    goods_price_money_elasticity: float = Field(0.5, ge=0, le=2)
    exports_usd_per_capita: float = Field(0.5, ge=0)
    donju_capacity: float = Field(25.0, ge=1)
    donju_capital_elasticity: float = Field(0.5, ge=0, le=1)
    trader_luck_sd: float = Field(0.5, ge=0, le=3)
    occupation_review_rate: float = Field(1 / 12, ge=0, le=1)
    exemption_fee_usd: float = Field(10.0, ge=0)
    max_exempt_share: float = Field(0.3, ge=0, le=1)
    donju_exit_ratio: float = Field(0.5, ge=0, le=1)


class Markets(Module):
    name = "markets"
    Params = MarketsParams
    rules = {
        "markets.spending": "Households spend a share of ordinary cash balances, and a smaller share of wealth above them, on market goods.",
        "markets.supply": "Imports from China, and the imported inputs domestic makers need, limit the goods on offer; sales shrink with supply and rise with money.",
        "markets.import_cost": "Traders keep a margin on imported goods; the rest of their price leaves for China.",
        "markets.sales_income": "Sales revenue goes to sellers in proportion to capacity: one unit per trader, far more for a donju, growing with its capital.",
        "markets.exports": "Donju earn export income from China, which the border and sanctions limit.",
        "markets.exemption_fee": "A state worker may pay the enterprise a monthly fee to trade instead of working, and does so when trading pays more than the wage plus the fee.",
        "markets.donju_status": "Each January households above the donju wealth threshold become donju; donju far below it drop out.",
    }

    def init_state(self) -> None:
        sim = self.sim
        sim.people.add("exempt", bool)
        geo, hh = sim.geography, sim.households
        self.threshold = np.where(
            hh.province == geo.pyongyang,
            sim.pars.population.donju_threshold_pyongyang_usd,
            sim.pars.population.donju_threshold_usd,
        )
        self.income_per_capacity = None  # last month's trading income per unit of capacity
        self.reference = None  # (sales, money) in the first month: the scale of the goods market
        self.sales = self.imports = self.exports = 0.0

    def step(self) -> None:
        sim, p, world = self.sim, self.pars, self.sim.pars.world
        hh, ledger = sim.households, sim.ledger
        self._choose_occupations()
        if sim.month.month == 1 and self.income_per_capacity is not None:
            self._update_donju_status()

        # Sales are limited by the goods on offer: supply shrinks with imports, prices rise with
        # money and scarcity, and households keep the cash they cannot spend.
        ordinary = np.minimum(hh.cash, p.ordinary_balance_usd)
        desired = p.goods_spending_share * ordinary + p.wealth_spending_share * (hh.cash - ordinary)
        capacity_in = world.import_capacity
        imported = p.import_dependence * capacity_in
        domestic = (1 - p.import_dependence) * capacity_in**p.input_import_dependence
        volume = imported + domestic  # goods on offer, relative to an open border without sanctions
        money = float(hh.cash.sum())
        if self.reference is None:
            self.reference = (desired.sum() / volume ** (1 - p.goods_price_flexibility), money)
        reference_sales, reference_money = self.reference
        sales_value = (
            reference_sales
            * volume ** (1 - p.goods_price_flexibility)
            * (money / reference_money) ** p.goods_price_money_elasticity
        )
        bought = desired * min(1.0, sales_value / max(desired.sum(), 1e-12))
        ledger.pay("goods_purchase", HOUSEHOLDS, "market", bought)
        import_cost = bought.sum() * imported / volume * (1 - p.import_margin)
        self.imports = ledger.pay("goods_imports", "market", "abroad", import_cost)

        capacity = self._selling_capacity()
        donju = hh.kind == HouseholdKind.DONJU
        export_value = p.exports_usd_per_capita * sim.people.n * world.export_capacity
        if donju.any():
            self.exports = ledger.pay(
                "exports",
                "abroad",
                HOUSEHOLDS,
                export_value * capacity[donju] / capacity[donju].sum(),
                credit_idx=np.flatnonzero(donju),
                source=IncomeSource.MARKET,
            )
        self.sales = ledger.balances["market"]
        if capacity.sum() > 0:
            luck = np.exp(
                p.trader_luck_sd * self.rng.standard_normal(hh.n) - p.trader_luck_sd**2 / 2
            )
            weight = capacity * luck
            ledger.pay(
                "trade_income",
                "market",
                HOUSEHOLDS,
                self.sales * weight / weight.sum(),
                source=IncomeSource.MARKET,
            )
            self.income_per_capacity = self.sales / capacity.sum()

    def _selling_capacity(self) -> np.ndarray:
        p, hh = self.pars, self.sim.households
        traders = np.add.reduceat(self.sim.people.role == Role.TRADER, hh.first_person)
        donju = hh.kind == HouseholdKind.DONJU
        scale = np.power(np.maximum(hh.cash, 0) / self.threshold, p.donju_capital_elasticity)
        return traders + np.where(donju, p.donju_capacity * scale, 0.0)

    def _choose_occupations(self) -> None:
        """Workers reviewing their choice trade if the market beats the wage plus the fee."""
        sim, p = self.sim, self.pars
        people, hh, ledger = sim.people, sim.households, sim.ledger
        exempt_per_household = np.add.reduceat(people.exempt, hh.first_person)
        payers = np.flatnonzero(exempt_per_household)
        fees = np.minimum(exempt_per_household[payers] * p.exemption_fee_usd, hh.cash[payers])
        ledger.pay("exemption_fee", HOUSEHOLDS, "state", fees, debit_idx=payers)
        if self.income_per_capacity is None:
            return

        # Each reviewer perceives the market's pay with individual noise around last month's.
        reviewing = np.flatnonzero(
            self.rng.random(people.n, dtype=np.float32) < p.occupation_review_rate
        )
        net_gain = (
            self.income_per_capacity - p.exemption_fee_usd - sim.pars.official_economy.wage_usd
        )
        noise = (
            self.income_per_capacity * p.trader_luck_sd * self.rng.standard_normal(len(reviewing))
        )
        perceived = net_gain + noise

        quitting = reviewing[people.exempt[reviewing] & (perceived < 0)]
        people.role[quitting] = Role.WORKER
        people.exempt[quitting] = False

        role = people.role[reviewing]
        joining = reviewing[
            (role == Role.WORKER) & (people.age_band[reviewing] <= AgeBand.MIDDLE) & (perceived > 0)
        ]
        workers = int((people.role == Role.WORKER).sum())
        n_exempt = int(people.exempt.sum())
        room = max(int(p.max_exempt_share * (workers + n_exempt)) - n_exempt, 0)
        joining = self.rng.permutation(joining)[:room]  # enterprises excuse only so many
        people.role[joining] = Role.TRADER
        people.exempt[joining] = True
        if len(quitting) or len(joining):
            sim.population.update_household_kind()

    def _update_donju_status(self) -> None:
        sim, p = self.sim, self.pars
        people, hh = sim.people, sim.households
        head = hh.first_person
        donju = hh.kind == HouseholdKind.DONJU
        head_role = people.role[head]
        can_rise = (
            (head_role == Role.WORKER) | (head_role == Role.TRADER) | (head_role == Role.FARMER)
        )
        rising = ~donju & can_rise & (hh.cash >= self.threshold)
        falling = (
            donju & (head_role == Role.DONJU) & (hh.cash < p.donju_exit_ratio * self.threshold)
        )
        people.role[head[rising]] = Role.DONJU
        people.exempt[head[rising]] = False
        people.role[head[falling]] = Role.TRADER
        sim.population.update_household_kind()

    def record(self, rec) -> None:
        sim = self.sim
        people, hh, geo = sim.people, sim.households, sim.geography
        rec.add("market_sales_usd", self.sales)
        rec.add("goods_imports_usd", self.imports)
        rec.add("exports_usd", self.exports)
        rec.add("income_per_trader_usd", self.income_per_capacity or 0.0)
        workers = (people.role == Role.WORKER) | people.exempt
        rec.add("exempt_worker_share", people.exempt.sum() / max(workers.sum(), 1))
        donju = hh.kind == HouseholdKind.DONJU
        rec.add("donju_household_share", donju.mean())
        rec.add_groups(
            "donju_household_share",
            group_sum(hh.province, geo.n, donju) / np.maximum(group_sum(hh.province, geo.n), 1),
            "province",
            geo.names,
        )
