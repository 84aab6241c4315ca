"""Markets: household spending, traders' and donju income, imports and exports, who trades.

Households spend part of their cash on market goods: a large share of ordinary balances and a
small share of wealth beyond that. Much of what is sold comes from China, so the border and
sanctions limit what can be bought, and the imported part of sales leaves the country. What
consumers spend (on goods here, on food in the food module) is paid out to sellers in
proportion to their selling capacity: one unit per trader, far more for a donju, whose
business grows with its capital. Donju also earn from exports to China, which sanctions cut
hardest.

How far the state tolerates markets (``tolerance``, set by the history scenario's events)
sets the market's scale, which follows it with lags: markets grow over years once allowed and
shrink within months under a crackdown. The scale bounds the goods on offer, the share of
married women who trade and how many workers enterprises excuse. Border closures and
sanctions likewise reach the goods on offer and exports over a few months (stocks run down,
contracts run out), so sales, incomes and inequality move with a lag.

Men are tied to their assigned workplace, but a worker may pay the enterprise a monthly fee
(about $10) to be excused and trade instead; workers review that choice now and then and
trade when their household's trading pays them more than the wage plus the fee. Households
differ in a lasting trading skill, so those who pay to trade are the ones who earn enough to.
Traders in the border provinces earn part of the margin on imports (wholesale and smuggling
across the river) besides their local sales. Each January households whose wealth crosses the
donju threshold become donju, and donju who lose most of it drop out.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang import kernels, streams
from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.markets_kernels import (
    START_TRADING,
    STOP_TRADING,
    buy_goods,
    count_sellers,
    desired_spending,
    pay_traders,
    review_women,
    review_workers,
    selling_weights,
)
from jangmadang.results import group_sum
from jangmadang.state import (
    AgeBand,
    HouseholdKind,
    Renumbering,
    Role,
    count_runs,
    sorted_distinct,
)

MIN_ON_OFFER = 1e-6  # goods on offer, relative to an open border with full tolerance


class MarketsParams(ParameterModel):
    goods_spending_share: float = Field(0.2, ge=0, le=1)
    wealth_spending_share: float = Field(0.0198, ge=0, le=1)
    ordinary_balance_usd: float = Field(300.0, gt=0)
    import_dependence: float = Field(0.6, ge=0, le=1)
    input_import_dependence: float = Field(0.5, ge=0, le=1)
    import_margin: float = Field(0.3, ge=0, le=1)
    goods_price_flexibility: float = Field(0.3, ge=0, le=1)
    goods_price_money_elasticity: float = Field(0.5, ge=0, le=2)
    exports_usd_per_capita: float = Field(1.26, ge=0)
    donju_capacity: float = Field(46.38, ge=1)
    donju_capital_elasticity: float = Field(0.35, ge=0, le=1)
    trader_luck_sd: float = Field(0.5, ge=0, le=3)
    occupation_review_rate: float = Field(1 / 12, ge=0, le=1)
    exemption_fee_usd: float = Field(10.0, ge=0)
    max_exempt_share: float = Field(0.3, ge=0, le=1)
    donju_exit_ratio: float = Field(0.5, ge=0, le=1)
    # How far the state tolerates markets (1: as since 2010; lower: crackdowns, bans). Events
    # of the history scenario set it; trading, bribes and enforcement read it.
    tolerance: float = Field(1.0, ge=0, le=1)
    scale_growth_months: float = Field(36.0, ge=1, le=240)
    scale_shrink_months: float = Field(6.0, ge=1, le=120)
    trade_adjust_months: float = Field(4.0, ge=1, le=24)
    trader_skill_sd: float = Field(0.5, ge=0, le=2)
    perception_sd: float = Field(0.1, ge=0, le=2)
    expectation_months: float = Field(6.0, ge=1, le=36)
    border_wholesale_share: float = Field(0.25, ge=0, le=1)
    confiscation_share: float = Field(0.5, ge=0, le=1)


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
        "markets.scale": "The market's scale follows the state's tolerance, growing over years and shrinking within months; it bounds the goods on offer, exports and the exempt share.",
        "markets.women_trading": "Married women of working age who review their occupation trade when their lasting propensity to trade lies below a share that grows with the market's scale.",
        "markets.trade_lag": "Border closures and sanctions reach the goods on offer and exports over a few months, as stocks run down and contracts run out.",
        "markets.trader_skill": "Households differ in a lasting trading skill; a household's trading income and a worker's expected pay from trading scale with it.",
        "markets.expectations": "Workers judge what trading would pay from its pay in their province over recent months (an exponential moving average), not last month's alone.",
        "markets.confiscation": "Where markets are not tolerated, inspectors confiscate goods and fine traders: a share of traders' revenue that grows as tolerance falls goes to the state.",
        "markets.border_wholesale": "Part of the traders' margin on imported goods is earned in the border provinces, by wholesalers and smugglers who bring the goods across.",
    }

    def init_state(self) -> None:
        sim, p = self.sim, self.pars
        sim.people.add("exempt", bool)
        sim.people.add("trade_propensity", np.uint8)
        self._draw_propensities(np.arange(sim.people.n), None)
        hh = sim.households
        population = sim.pars.population
        self._thresholds = (
            population.donju_threshold_pyongyang_usd,
            population.donju_threshold_usd,
        )
        # A household's lasting trading skill (mean 1); a new household takes the groom's.
        skill = self.rng.standard_normal(hh.n) * p.trader_skill_sd - p.trader_skill_sd**2 / 2
        hh.set("trade_skill", np.exp(skill).astype(np.float32), inherit=True)
        self.exempt_count = np.zeros(hh.n, dtype=np.uint8)  # exempt workers per household
        self.income_per_capacity = None  # last month's trading income per unit of capacity
        self.local_income_per_capacity = None  # the same by province (border trade differs)
        self.expected_income_per_capacity = None  # what workers expect: a moving average of it
        self.reference = None  # (sales, money) in the first month: the scale of the goods market
        self.scale = p.tolerance  # the market's scale: follows tolerance with lags
        world = sim.pars.world
        self.import_capacity = world.import_capacity  # what reaches the market: lags the border
        self.export_capacity = world.export_capacity
        self.sales = self.imports = self.exports = self.confiscated = 0.0
        self.price_index = 1.0
        self.fee_payer_income = 0.0  # mean trading income of a fee-paying trader last month
        self.second_hand_usd = 0.0  # goods resold into the market last month (e.g. gifts)

    def step(self) -> None:
        sim, p = self.sim, self.pars
        hh, ledger = sim.households, sim.ledger
        self._follow_drivers()
        self._choose_occupations()
        if sim.month.month == 1 and self.income_per_capacity is not None:
            self._update_donju_status()

        # Sales are limited by the goods on offer: supply shrinks with imports, with the
        # market's scale and while markets are closed; prices rise with money and scarcity,
        # and households keep the cash they cannot spend.
        n, blocks = hh.n, kernels.n_blocks(hh.n)
        desired, sums = np.empty(n), np.empty((blocks, 2))
        kernels.in_blocks(
            desired_spending,
            n,
            desired,
            hh.cash,
            p.ordinary_balance_usd,
            p.goods_spending_share,
            p.wealth_spending_share,
            sums,
        )
        desired_total, money = (float(total) for total in sums.sum(axis=0))
        capacity_in = self.import_capacity
        imported = p.import_dependence * capacity_in
        domestic = (1 - p.import_dependence) * capacity_in**p.input_import_dependence
        volume = imported + domestic  # goods on offer, relative to an open border without sanctions
        if self.reference is None:  # the market of full tolerance: sales meet desire
            self.reference = (desired_total / volume ** (1 - p.goods_price_flexibility), money)
        reference_sales, reference_money = self.reference
        # A market that is not tolerated at all, or closed, still sells a trickle of goods at
        # very high prices (and the price index stays finite).
        on_offer = max(volume * self.scale * sim.currency.market_open_share, MIN_ON_OFFER)
        money_factor = (money / reference_money) ** p.goods_price_money_elasticity
        self.price_index = money_factor * on_offer ** (-p.goods_price_flexibility)
        sales_value = reference_sales * on_offer ** (1 - p.goods_price_flexibility) * money_factor
        sales_value += self.second_hand_usd
        self.second_hand_usd = 0.0
        share = min(1.0, sales_value / max(desired_total, 1e-12))
        bought = desired
        # bought = desired x share, paid from cash in the same pass
        bought_by_block = np.empty(blocks)
        kernels.in_blocks(buy_goods, n, bought, hh.spending, hh.cash, bought_by_block, share)
        purchases = ledger.book("goods_purchase", HOUSEHOLDS, "market", bought_by_block.sum())
        import_value = purchases * imported / volume
        del desired, bought
        self.imports = ledger.pay(
            "goods_imports", "market", "abroad", import_value * (1 - p.import_margin)
        )

        donju = np.flatnonzero(hh.kind == HouseholdKind.DONJU)
        capacity, weight, total_weight, local_capacity = self._sellers(donju)
        export_value = p.exports_usd_per_capita * sim.people.n * self.export_capacity * self.scale
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
        # Goods seized and fines where trading is not tolerated: at once, as a crackdown starts.
        self.confiscated = ledger.pay(
            "market_confiscation",
            "market",
            "state",
            ledger.balances["market"] * p.confiscation_share * (1 - p.tolerance),
        )
        self.sales = ledger.balances["market"]
        if local_capacity.sum() > 0:
            self._pay_traders(
                capacity,
                weight,
                total_weight,
                local_capacity,
                p.border_wholesale_share * import_value * p.import_margin,
            )

    def _follow_drivers(self) -> None:
        """The market's scale moves toward the state's tolerance (slowly up, faster down); the
        goods and exports that reach it move toward what the border and sanctions allow."""
        p, world = self.pars, self.sim.pars.world
        gap = p.tolerance - self.scale
        self.scale += gap / (p.scale_growth_months if gap > 0 else p.scale_shrink_months)
        self.import_capacity += (world.import_capacity - self.import_capacity) / (
            p.trade_adjust_months
        )
        self.export_capacity += (world.export_capacity - self.export_capacity) / (
            p.trade_adjust_months
        )

    def _pay_traders(
        self,
        capacity: np.ndarray,
        weight: np.ndarray,
        total_weight: tuple[float, float],
        local_capacity: np.ndarray,
        border_margin: float,
    ) -> None:
        """Pay out the ``market`` balance by ``weight`` (capacity x luck; ``total_weight``: its
        sum everywhere and in the border provinces): ``border_margin`` (the border provinces'
        part of the margin on imports) among sellers of the border provinces, the rest among
        all sellers. ``weight`` becomes what each household is paid."""
        sim, p = self.sim, self.pars
        hh, geo, ledger = sim.households, sim.geography, sim.ledger
        weight_sum, border_weight = total_weight
        border_margin = min(border_margin, self.sales) if border_weight > 0 else 0.0
        rate = np.full(geo.n, (self.sales - border_margin) / weight_sum)
        if border_margin > 0:
            rate[geo.border] += border_margin / border_weight
        blocks = kernels.n_blocks(hh.n)
        local_paid, fee_payers = np.empty((blocks, geo.n)), np.empty((blocks, 2))
        paid = weight
        kernels.in_blocks(
            pay_traders,
            hh.n,
            paid,
            hh.province,
            rate,
            self.exempt_count,
            hh.trade_skill,
            capacity,
            local_paid,
            fee_payers,
            hh.cash,
            hh.income[:, IncomeSource.MARKET],
        )  # and credited: the market's trade income
        ledger.book("trade_income", "market", HOUSEHOLDS, local_paid.sum())
        self.income_per_capacity = self.sales / local_capacity.sum()
        self.local_income_per_capacity = np.where(
            local_capacity > 0,
            local_paid.sum(axis=0) / np.maximum(local_capacity, 1e-12),
            self.income_per_capacity,
        )
        if self.expected_income_per_capacity is None:
            self.expected_income_per_capacity = self.local_income_per_capacity.copy()
        else:
            self.expected_income_per_capacity += (
                self.local_income_per_capacity - self.expected_income_per_capacity
            ) / p.expectation_months
        # A fee payer's part of the household's trading income: its skill over the capacity.
        payer_income, n_payers = fee_payers.sum(axis=0)
        self.fee_payer_income = float(payer_income / n_payers) if n_payers else 0.0

    def threshold(self, households: np.ndarray | None = None) -> np.ndarray:
        """The donju wealth threshold of each household (of ``households``, or of all)."""
        province = self.sim.households.province
        if households is not None:
            province = province[households]
        pyongyang, elsewhere = self._thresholds
        return np.where(province == self.sim.geography.pyongyang, pyongyang, elsewhere)

    def _sellers(
        self, donju: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float], np.ndarray]:
        """Each household's selling capacity: its traders times its trading skill; a donju
        household (``donju``: their indices) adds capital, multiplied by what leased factory
        space and a manager's favours add (patronage). Its weight in this month's sales:
        capacity x luck. Returns capacity, weight, the sum of weights everywhere and in the
        border provinces, and capacity by province."""
        sim, p = self.sim, self.pars
        hh, geo = sim.households, sim.geography
        blocks = kernels.n_blocks(hh.n)
        traders = sim.population.role_count[Role.TRADER]
        sellers = np.empty(blocks, dtype=np.int64)
        kernels.in_blocks(count_sellers, hh.n, traders, hh.kind, int(HouseholdKind.DONJU), sellers)
        # luck = exp(sd * z - sd**2 / 2), mean 1 (float32), for each household that may sell,
        # in order (and one value more, which the kernel reads for a last household that does
        # not sell)
        first_seller = np.concatenate(([0], np.cumsum(sellers)))
        luck = np.zeros(first_seller[-1] + 1, dtype=np.float32)
        self.rng.standard_normal(dtype=np.float32, out=luck[:-1])
        luck *= p.trader_luck_sd
        luck -= p.trader_luck_sd**2 / 2
        np.exp(luck, out=luck)
        # Capital in one unit everywhere (the provincial threshold): a Pyongyang donju's larger
        # fortune buys a larger business.
        capital = p.donju_capacity * np.power(
            np.maximum(hh.cash[donju], 0) / self._thresholds[1], p.donju_capital_elasticity
        )
        first_donju = np.searchsorted(donju, np.arange(blocks) * kernels.BLOCK)
        capacity, weight = np.empty(hh.n), np.empty(hh.n)
        local_capacity, local_weight = np.empty((blocks, geo.n)), np.empty((blocks, geo.n))
        kernels.in_blocks(
            selling_weights,
            hh.n,
            capacity,
            weight,
            traders,
            hh.trade_skill,
            donju,
            capital,
            first_donju,
            hh.patronage_capacity,
            hh.province,
            luck,
            first_seller,
            local_capacity,
            local_weight,
        )
        local_weight = local_weight.sum(axis=0)
        total_weight = (float(local_weight.sum()), float(local_weight[geo.border].sum()))
        return capacity, weight, total_weight, local_capacity.sum(axis=0)

    def renumbered(self, change: Renumbering) -> None:
        """Recount the exempt workers per household in the new numbering; newborns get their
        propensity to trade."""
        people = self.sim.people
        self._draw_propensities(np.flatnonzero(people.trade_propensity == 0), self.sim.month)
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
        """Fees are paid; then reviewers choose: married women trade with a probability that
        grows with the market's scale, and workers trade, paying the fee, if their household's
        trading would pay them more than the wage plus the fee."""
        sim, p = self.sim, self.pars
        people, hh, ledger = sim.people, sim.households, sim.ledger
        payers = np.flatnonzero(self.exempt_count > 0)  # nonzero of a bool array: 6x as fast
        fees = np.minimum(self.exempt_count[payers] * p.exemption_fee_usd, hh.cash[payers])
        ledger.pay("exemption_fee", HOUSEHOLDS, "state", fees, debit_idx=payers)
        key = streams.key(sim.seed, self.name, sim.month, "review")
        reviewing = kernels.indices_below(key, people.n, p.occupation_review_rate)
        population = sim.population
        self._review_women(reviewing)
        if self.income_per_capacity is None:
            return

        # Each reviewer perceives the pay of the household's trading with individual noise
        # around what trading has paid in the province in recent months.
        perception = self.rng.standard_normal(len(reviewing)) * p.perception_sd
        perception -= p.perception_sd**2 / 2
        np.exp(perception, out=perception)
        outcome = np.empty(len(reviewing), dtype=np.int8)
        kernels.in_ranges(
            review_workers,
            len(reviewing),
            outcome,
            reviewing,
            perception,
            people.household,
            hh.province,
            hh.trade_skill,
            self.expected_income_per_capacity,
            people.exempt,
            people.role,
            people.age_band,
            int(Role.WORKER),
            int(AgeBand.MIDDLE),
            p.exemption_fee_usd + sim.pars.official_economy.wage_usd,
        )
        del perception
        population.set_role(reviewing[outcome == STOP_TRADING], Role.WORKER)  # ends exemptions
        joining = reviewing[outcome == START_TRADING]
        workers = int(population.role_count[Role.WORKER].sum(dtype=np.int64))
        n_exempt = int(self.exempt_count.sum(dtype=np.int64))
        room = max(int(p.max_exempt_share * self.scale * (workers + n_exempt)) - n_exempt, 0)
        joining = self.rng.permutation(joining)[:room]  # enterprises excuse only so many
        population.set_role(joining, Role.TRADER)
        self._set_exempt(joining, True)

    def _review_women(self, reviewing: np.ndarray) -> None:
        """Married women of working age among the reviewers trade when their lasting
        propensity lies below ``married_women_trader_share`` x the market's scale, and otherwise
        go back to an assigned job (or home, past retirement age): as the scale grows, the women
        most inclined to trade start first, and nobody changes occupation for nothing."""
        sim = self.sim
        people = sim.people
        outcome = np.empty(len(reviewing), dtype=np.int8)
        kernels.in_ranges(
            review_women,
            len(reviewing),
            outcome,
            reviewing,
            people.female,
            people.married,
            people.age_band,
            people.exempt,
            people.role,
            people.trade_propensity,
            int(AgeBand.YOUNG),
            int(AgeBand.MIDDLE),
            int(Role.TRADER),
            int(Role.WORKER),
            int(Role.FARMER),
            sim.pars.population.married_women_trader_share * self.scale,
        )
        sim.population.assign_ordinary_job(reviewing[outcome == STOP_TRADING])
        sim.population.set_role(reviewing[outcome == START_TRADING], Role.TRADER)

    def _draw_propensities(self, persons: np.ndarray, month) -> None:
        """Each person's lasting propensity to trade: 1-255, a uniform in 255 steps (0 marks a
        row not drawn yet), counter-based so the draw does not depend on anyone else's."""
        key = streams.key(self.sim.seed, self.name, month, "propensity")
        for lo in range(0, len(persons), 1 << 22):  # bounded temporaries
            chunk = persons[lo : lo + (1 << 22)]
            steps = kernels.uniforms32_at(key, chunk) * np.float32(255)
            self.sim.people.trade_propensity[chunk] = 1 + steps.astype(np.uint8)

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
        rec.add("market_confiscation_usd", self.confiscated)
        rec.add("income_per_trader_usd", self.income_per_capacity or 0.0)
        if self.local_income_per_capacity is not None:
            rec.add_groups(
                "income_per_trader_usd", self.local_income_per_capacity, "province", geo.names
            )
        # Do those who pay to trade earn the wage they give up plus the fee?
        rec.add("income_per_fee_payer_usd", self.fee_payer_income)
        p = self.pars
        rec.add("wage_plus_fee_usd", sim.pars.official_economy.wage_usd + p.exemption_fee_usd)
        rec.add("market_scale", self.scale)
        rec.add("goods_price_index", self.price_index)
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
