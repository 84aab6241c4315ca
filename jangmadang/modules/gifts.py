"""The leader's gifts: bundles handed to Party Congress attendees, and what they do with them.

From 000_27c40fbff0bfb932.txt. At a Party Congress (a dated event sets
``gifts.congress_gifts``) a number of cadres receive a bundle: an LED television, a
refrigerator, a washing machine, cosmetics and clothing, each with a market value. The goods
are Chinese-made and worse than the South Korean and Japanese imports many cadres already
own, the richer the more likely.

For each item the recipient picks what is worth most to them (a random-utility choice):

- **use** it: its symbolic worth plus its use, which is small if they own a better one;
- **store** it: its symbolic worth only;
- **give** it to family, e.g. as a child's wedding gift: most of its value stays in the family
  and it is not a crime;
- **sell** it on the black market: the price, less the expected cost of punishment (a
  political crime: dismissal and exile, 000).

The symbolic worth is proportional to the recipient's loyalty: with little loyalty left a gift
is valued like any market good. Detection follows the shared enforcement function (bulky goods
are conspicuous, cosmetics and clothes hardly; protection ties shield the seller). Sold goods
are paid for by a trader of the province and reach the market next month.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from jangmadang.ledger import HOUSEHOLDS, IncomeSource, within_means
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.enforcement import Sentence
from jangmadang.state import CADRE_ROLES, Role, draw_within_groups, role_mask

_IS_CADRE = role_mask(CADRE_ROLES)
ITEMS = ("led_tv", "refrigerator", "washing_machine", "cosmetics", "clothing")
USED, STORED, GIVEN, SOLD = range(4)
CHOICES = ("used", "stored", "given", "sold")


class GiftsParams(ParameterModel):
    congress_gifts: bool = False
    recipients: int = Field(3_500, ge=0)
    item_values_usd: list[float] = Field(default_factory=lambda: [150.0, 300.0, 250.0, 30.0, 40.0])
    better_owned_share: list[float] = Field(default_factory=lambda: [0.8, 0.5, 0.4, 0.3, 0.3])
    item_conspicuousness: list[float] = Field(default_factory=lambda: [1.0, 1.0, 1.0, 0.1, 0.1])
    better_goods_wealth_usd: float = Field(2_000.0, gt=0)
    symbolic_value_usd: float = Field(200.0, ge=0)
    redundant_use_share: float = Field(0.1, ge=0, le=1)
    family_value_share: float = Field(0.6, ge=0, le=1)
    resale_price_share: float = Field(0.7, ge=0, le=1)
    resale_detection: float = Field(0.1, ge=0, le=1)
    resale_penalty_usd: float = Field(2_000.0, ge=0)
    resale_dismissal_share: float = Field(0.5, ge=0, le=1)
    resale_exile_share: float = Field(0.3, ge=0, le=1)
    resale_fine_usd: float = Field(200.0, ge=0)
    choice_noise_usd: float = Field(40.0, gt=0)

    @model_validator(mode="after")
    def _one_value_per_item(self):
        for name in ("item_values_usd", "better_owned_share", "item_conspicuousness"):
            values = getattr(self, name)
            if len(values) != len(ITEMS):
                raise ValueError(f"{name} needs one value per item ({', '.join(ITEMS)})")
            if any(v < 0 for v in values) or (name != "item_values_usd" and max(values) > 1):
                raise ValueError(f"{name} values must be within their bounds")
        return self


class Gifts(Module):
    name = "gifts"
    Params = GiftsParams
    rules = {
        "gifts.distribution": "At a Party Congress a number of cadres, scaled to the run's size, each receive a bundle of five goods from the leader.",
        "gifts.better_goods": "A recipient already owns a better imported version of an item with a chance that grows with the household's wealth.",
        "gifts.choice": "For each item the recipient picks use, storage, giving to family or sale by comparing symbolic worth (proportional to loyalty), use, value to the family, and the sale price less expected punishment, with random taste.",
        "gifts.resale_punished": "Selling a leader's gift is a political crime: a detected seller is punished (dismissal, exile or a fine) unless shielded or able to buy their way out.",
        "gifts.resale_supply": "Sold gifts are bought by a trader of the province and add to the goods on the market the next month.",
    }

    def init_state(self) -> None:
        self.distributed = False  # whether this Congress's gifts were handed out already
        self.outcomes = np.zeros((len(ITEMS), len(CHOICES)), dtype=np.int64)  # this month
        self.to_date = np.zeros((len(ITEMS), len(CHOICES)), dtype=np.int64)
        self.recipients = 0
        self.sales = 0.0
        self.sim.enforcement.declare("gift_resale")

    def step(self) -> None:
        sim, p = self.sim, self.pars
        self.outcomes[:] = 0
        self.recipients, self.sales = 0, 0.0
        if sim.t < 0:  # gifts are handed out at a Congress inside the recorded window
            return
        if not p.congress_gifts:
            self.distributed = False
            return
        if self.distributed:
            return
        self.distributed = True
        recipients = self._draw_recipients()
        if len(recipients):
            self._choose(recipients)

    def _draw_recipients(self) -> np.ndarray:
        """Cadres attending the Congress: the full-scale number times the run's scale."""
        sim, p, rng = self.sim, self.pars, self.rng
        expected = p.recipients * sim.pars.population.effective_scale
        n = int(expected) + int(rng.random() < expected - int(expected))
        cadres = np.flatnonzero(_IS_CADRE[sim.people.role])
        return np.sort(rng.choice(cadres, size=min(n, len(cadres)), replace=False))

    def _choose(self, recipients: np.ndarray) -> None:
        sim, p, rng = self.sim, self.pars, self.rng
        hh, enforcement = sim.households, sim.enforcement
        household = sim.people.household[recipients]
        self.recipients = len(recipients)
        value = np.array(p.item_values_usd)[None, :]
        wealth = np.maximum(hh.cash[household], 0)
        owns_better_chance = (
            np.array(p.better_owned_share)[None, :]
            * (wealth / (wealth + p.better_goods_wealth_usd))[:, None]
        )
        owns_better = rng.random((len(recipients), len(ITEMS))) < owns_better_chance
        symbolic = (p.symbolic_value_usd * sim.loyalty.gift_regard(recipients))[:, None]
        protected = sim.patronage.protected(household)
        detection = enforcement.detection_chance(household, p.resale_detection, protected)
        item_detection = detection[:, None] * np.array(p.item_conspicuousness)[None, :]
        expected_penalty = item_detection * enforcement.pars.harshness * p.resale_penalty_usd

        worth = np.empty((len(recipients), len(ITEMS), len(CHOICES)))
        worth[..., USED] = symbolic + value * np.where(owns_better, p.redundant_use_share, 1.0)
        worth[..., STORED] = symbolic
        worth[..., GIVEN] = p.family_value_share * value
        worth[..., SOLD] = p.resale_price_share * value - expected_penalty
        worth += p.choice_noise_usd * rng.gumbel(size=worth.shape)
        choice = worth.argmax(axis=2)
        for item in range(len(ITEMS)):
            self.outcomes[item] = np.bincount(choice[:, item], minlength=len(CHOICES))
        self.to_date += self.outcomes

        sim.loyalty.receive_gift(recipients)
        sold = choice == SOLD
        self._sell(recipients, household, sold, value[0], item_detection)

    def _sell(self, recipients, household, sold, value, item_detection) -> None:
        """Traders of the province pay for the sold goods; some sellers are found out."""
        sim, p, rng = self.sim, self.pars, self.rng
        hh = sim.households
        price = (sold * (p.resale_price_share * value)[None, :]).sum(axis=1)
        sellers = np.flatnonzero(price > 0)
        if len(sellers) == 0:
            return
        traders = np.flatnonzero(sim.population.role_count[Role.TRADER] > 0)
        buyers = draw_within_groups(
            traders, hh.province[traders], hh.province[household[sellers]], rng
        )
        deal = buyers >= 0
        sellers, buyers = sellers[deal], buyers[deal]
        paid = within_means(hh.cash, buyers, price[sellers])
        self.sales = sim.ledger.pay(
            "gift_sale",
            HOUSEHOLDS,
            HOUSEHOLDS,
            paid,
            debit_idx=buyers,
            credit_idx=household[sellers],
            source=IncomeSource.MARKET,
        )
        sim.markets.second_hand_usd += float((sold[sellers] * value[None, :]).sum())

        # One detection draw per seller: found out through any item sold.
        undetected = np.prod(1 - np.where(sold[sellers], item_detection[sellers], 0.0), axis=1)
        caught = sellers[rng.random(len(sellers)) < 1 - undetected]
        sentence = Sentence(
            fine_usd=p.resale_fine_usd,
            exile=p.resale_exile_share,
            dismissal=p.resale_dismissal_share,
        )
        sim.enforcement.punish("gift_resale", np.sort(recipients[caught]), sentence)

    def record(self, rec) -> None:
        rec.add("gift_recipients", self.recipients)
        rec.add("gift_sales_usd", self.sales)
        rec.add_groups("gift_items", self.outcomes.sum(axis=0), "choice", list(CHOICES))
        rec.add_groups("gift_items", self.outcomes.sum(axis=1), "item", list(ITEMS))
        rec.add_groups("gift_items_to_date", self.to_date.sum(axis=0), "choice", list(CHOICES))
        total = self.to_date.sum()
        rec.add("gift_resale_share", self.to_date[:, SOLD].sum() / total if total else np.nan)
