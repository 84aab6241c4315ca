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
from pydantic import Field

from jangmadang import kernels, streams
from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.results import group_sum
from jangmadang.state import (
    AgeBand,
    HouseholdKind,
    Renumbering,
    Role,
    count_runs,
    sorted_distinct,
)


class MarketsParams(ParameterModel):
    goods_spending_share: float = Field(0.2, ge=0, le=1)
    wealth_spending_share: float = Field(0.02, ge=0, le=1)
    ordinary_balance_usd: float = Field(300.0, gt=0)
    import_dependence: float = Field(0.6, ge=0, le=1)
    input_import_dependence: float = Field(0.5, ge=0, le=1)
    import_margin: float = Field(0.3, ge=0, le=1)
    goods_price_flexibility: float = Field(0.3, ge=0, le=1)
    goods_price_money_elasticity: float = Field(0.5, ge=0, le=2)
    exports_usd_per_capita: float = Field(1.5, ge=0)
    donju_capacity: float = Field(25.0, ge=1)
    donju_capital_elasticity: float = Field(0.5, ge=0, le=1)
    trader_luck_sd: float = Field(0.5, ge=0, le=3)
    occupation_review_rate: float = Field(1 / 12, ge=0, le=1)
    exemption_fee_usd: float = Field(10.0, ge=0)
    max_exempt_share: float = Field(0.3, ge=0, le=1)
    donju_exit_ratio: float = Field(0.5, ge=0, le=1)
    # How far the state tolerates markets (1: as since 2010; lower: crackdowns, bans). Events
    # of the history scenario set it; trading, bribes and enforcement read it.
    tolerance: float = Field(1.0, ge=0, le=1)


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
        "markets.donju_status": "Each January households above the donju wealth threshold of their province become donju; donju far below the provincial threshold drop out, in Pyongyang too.",
    }

    def init_state(self) -> None:
        sim = self.sim
        sim.people.add("exempt", bool)
        hh = sim.households
        population = sim.pars.population
        self._thresholds = (
            population.donju_threshold_pyongyang_usd,
            population.donju_threshold_usd,
        )
        self.exempt_count = np.zeros(hh.n, dtype=np.uint8)  # exempt workers per household
        self.income_per_capacity = None  # last month's trading income per unit of capacity
        self.reference = None  # (sales, money) in the first month: the scale of the goods market
        self.sales = self.imports = self.exports = 0.0
        self.second_hand_usd = 0.0  # goods resold into the market last month (e.g. gifts)

    def step(self) -> None:
        sim, p, world = self.sim, self.pars, self.sim.pars.world
        hh, ledger = sim.households, sim.ledger
        self._choose_occupations()
        if sim.month.month == 1 and self.income_per_capacity is not None:
            self._update_donju_status()

        # Sales are limited by the goods on offer: supply shrinks with imports, prices rise with
        # money and scarcity, and households keep the cash they cannot spend.
        # (computed in place: these are household-length arrays, 52 MB each at full scale)
        ordinary = np.minimum(hh.cash, p.ordinary_balance_usd)
        wealth = np.subtract(hh.cash, ordinary)
        wealth *= p.wealth_spending_share
        desired = np.multiply(ordinary, p.goods_spending_share, out=ordinary)
        desired += wealth  # goods_spending_share * ordinary + wealth_spending_share * wealth
        del wealth
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
        sales_value += self.second_hand_usd
        self.second_hand_usd = 0.0
        bought = desired
        bought *= min(1.0, sales_value / max(desired.sum(), 1e-12))
        ledger.pay("goods_purchase", HOUSEHOLDS, "market", bought)
        hh.spending += bought
        import_cost = bought.sum() * imported / volume * (1 - p.import_margin)
        self.imports = ledger.pay("goods_imports", "market", "abroad", import_cost)

        donju = np.flatnonzero(hh.kind == HouseholdKind.DONJU)
        capacity = self._selling_capacity(donju)
        export_value = p.exports_usd_per_capita * sim.people.n * world.export_capacity
        if len(donju):
            donju_capacity = capacity[donju]
            self.exports = ledger.pay(
                "exports",
                "abroad",
                HOUSEHOLDS,
                export_value * donju_capacity / donju_capacity.sum(),
                credit_idx=donju,
                source=IncomeSource.MARKET,
            )
        self.sales = ledger.balances["market"]
        if capacity.sum() > 0:
            # luck = exp(sd * z - sd**2 / 2); income = sales * capacity * luck / sum(...)
            weight = self.rng.standard_normal(hh.n)
            weight *= p.trader_luck_sd
            weight -= p.trader_luck_sd**2 / 2
            np.exp(weight, out=weight)
            weight *= capacity
            total_weight = weight.sum()
            weight *= self.sales
            weight /= total_weight
            ledger.pay("trade_income", "market", HOUSEHOLDS, weight, source=IncomeSource.MARKET)
            self.income_per_capacity = self.sales / capacity.sum()

    def threshold(self, households: np.ndarray | None = None) -> np.ndarray:
        """The donju wealth threshold of each household (of ``households``, or of all)."""
        province = self.sim.households.province
        if households is not None:
            province = province[households]
        pyongyang, elsewhere = self._thresholds
        return np.where(province == self.sim.geography.pyongyang, pyongyang, elsewhere)

    def _selling_capacity(self, donju: np.ndarray) -> np.ndarray:
        """One unit per trader; a donju household (``donju``: their indices) adds capital,
        multiplied by what leased factory space and a manager's favours add (patronage)."""
        p, hh = self.pars, self.sim.households
        capacity = self.sim.population.role_count[Role.TRADER].astype(np.float64)
        # Capital in one unit everywhere (the provincial threshold): a Pyongyang donju's larger
        # fortune buys a larger business.
        scale = np.power(
            np.maximum(hh.cash[donju], 0) / self._thresholds[1], p.donju_capital_elasticity
        )
        capacity[donju] += p.donju_capacity * scale
        capacity[donju] *= 1 + hh.patronage_capacity[donju]  # leased space, favours
        return capacity

    def renumbered(self, change: Renumbering) -> None:
        """Recount the exempt workers per household in the new numbering."""
        people = self.sim.people
        self.exempt_count = np.bincount(
            people.household[people.exempt], minlength=self.sim.households.n
        ).astype(np.uint8)

    def role_changed(self, persons: np.ndarray, role: Role) -> None:
        """An exemption from work belongs to a trader: it ends when the person stops trading
        for any reason (back to the workplace, abroad, detained)."""
        if role != Role.TRADER:
            self._set_exempt(persons, False)

    def end_exemptions(self, persons: np.ndarray) -> None:
        """Traders who leave the state workplace for good (retirement) owe no fee any more."""
        self._set_exempt(persons, False)

    def _set_exempt(self, persons: np.ndarray, exempt: bool) -> None:
        """Set persons' exemption from work, keeping the per-household count in step."""
        people = self.sim.people
        persons = sorted_distinct(persons)
        persons = persons[people.exempt[persons] != exempt]
        households, count = count_runs(people.household[persons])
        if exempt:
            self.exempt_count[households] += count
        else:
            self.exempt_count[households] -= count
        people.exempt[persons] = exempt

    def _choose_occupations(self) -> None:
        """Workers reviewing their choice trade if the market beats the wage plus the fee."""
        sim, p = self.sim, self.pars
        people, hh, ledger = sim.people, sim.households, sim.ledger
        payers = np.flatnonzero(self.exempt_count)
        fees = np.minimum(self.exempt_count[payers] * p.exemption_fee_usd, hh.cash[payers])
        ledger.pay("exemption_fee", HOUSEHOLDS, "state", fees, debit_idx=payers)
        if self.income_per_capacity is None:
            return

        # Each reviewer perceives the market's pay with individual noise around last month's.
        key = streams.key(sim.seed, self.name, sim.month, "review")
        reviewing = kernels.indices_below(key, people.n, p.occupation_review_rate)
        net_gain = (
            self.income_per_capacity - p.exemption_fee_usd - sim.pars.official_economy.wage_usd
        )
        noise = (
            self.income_per_capacity * p.trader_luck_sd * self.rng.standard_normal(len(reviewing))
        )
        perceived = net_gain + noise

        population = sim.population
        quitting = reviewing[people.exempt[reviewing] & (perceived < 0)]
        population.set_role(quitting, Role.WORKER)  # which also ends their exemption

        role = people.role[reviewing]
        joining = reviewing[
            (role == Role.WORKER) & (people.age_band[reviewing] <= AgeBand.MIDDLE) & (perceived > 0)
        ]
        workers = int(population.role_count[Role.WORKER].sum(dtype=np.int64))
        n_exempt = int(self.exempt_count.sum(dtype=np.int64))
        room = max(int(p.max_exempt_share * (workers + n_exempt)) - n_exempt, 0)
        joining = self.rng.permutation(joining)[:room]  # enterprises excuse only so many
        population.set_role(joining, Role.TRADER)
        self._set_exempt(joining, True)

    def _update_donju_status(self) -> None:
        sim, p = self.sim, self.pars
        people, hh = sim.people, sim.households
        head = hh.first_person
        donju = hh.kind == HouseholdKind.DONJU
        head_role = people.role[head]
        can_rise = (
            (head_role == Role.WORKER) | (head_role == Role.TRADER) | (head_role == Role.FARMER)
        )
        # Pyongyang's higher threshold is for being counted among the capital's donju; a
        # business fails anywhere when its capital falls far below the provincial threshold.
        rising = ~donju & can_rise & (hh.cash >= self.threshold())
        exit_below = p.donju_exit_ratio * self._thresholds[1]
        falling = donju & (head_role == Role.DONJU) & (hh.cash < exit_below)
        sim.population.set_role(head[rising], Role.DONJU)
        self._set_exempt(head[rising], False)
        sim.population.set_role(head[falling], Role.TRADER)

    def record(self, rec) -> None:
        sim = self.sim
        hh, geo = sim.households, sim.geography
        rec.add("market_sales_usd", self.sales)
        rec.add("goods_imports_usd", self.imports)
        rec.add("exports_usd", self.exports)
        rec.add("income_per_trader_usd", self.income_per_capacity or 0.0)
        # Workers and the exempt are disjoint: a worker excused from work becomes a trader.
        n_exempt = self.exempt_count.sum(dtype=np.int64)
        workers = sim.population.role_count[Role.WORKER].sum(dtype=np.int64) + n_exempt
        rec.add("exempt_worker_share", n_exempt / max(workers, 1))
        donju = hh.kind == HouseholdKind.DONJU
        rec.add("donju_household_share", donju.mean())
        rec.add_groups(
            "donju_household_share",
            group_sum(hh.province, geo.n, donju) / np.maximum(group_sum(hh.province, geo.n), 1),
            "province",
            geo.names,
        )
