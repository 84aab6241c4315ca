"""Food: grain needs, the market food price, purchases and food insecurity.

Each person needs about 14.5 kg of grain a month. A household eats first from its stock
(rations just delivered, a farm household's harvest allocation), then buys the shortfall at the
market price with the cash it has. The price follows supply (harvest, lean spring months,
imports through the border) and the money in circulation; a border closure or sanctions cut
imports and push it up (002_d0e71752c93d23e1.txt). A household that cannot reach enough of its
need this month is food-insecure.

Provinces differ in grain. The western plains grow most of the cereal: farm families there
receive more at the harvest than in the mountainous north and east, and in provinces that grow
less than their people eat the grain on the market has been moved in from elsewhere and costs
more.

Money paid for food goes to the ``market`` clearing account: the imported part leaves for
China, farm households receive their share of domestic sales, and the rest is traders' revenue
that the markets module pays out.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from jangmadang.kernels import in_blocks
from jangmadang.ledger import HOUSEHOLDS, IncomeSource
from jangmadang.module import Module, ParameterModel
from jangmadang.modules.food_kernels import buy_food
from jangmadang.results import group_mean, group_sum
from jangmadang.state import HouseholdKind, Role, label

HARVEST_MONTH = 10  # October: the main grain harvest is distributed to farm households


def grain_deficit(geo) -> np.ndarray:
    """Each province's shortfall of cereal output against its population: 1 - (share of
    national cereal output / share of the census population), 0 where it grows its share."""
    population_share = geo.census / geo.census.sum()
    return np.maximum(0.0, 1.0 - geo.cereal_share / population_share)


class FoodParams(ParameterModel):
    need_kg_per_person: float = Field(14.5, gt=0, le=40)
    price_usd_per_kg: float = Field(0.29, gt=0)
    price_money_elasticity: float = Field(0.5, ge=0, le=2)
    price_supply_flexibility: float = Field(1.83, ge=0, le=10)
    seasonal_amplitude: float = Field(0.15, ge=0, le=0.9)
    import_share: float = Field(0.1, ge=0, le=1)
    harvest_sd: float = Field(0.07, ge=0, le=1)
    farm_allocation_kg_per_person: float = Field(160.0, ge=0, le=500)
    farm_allocation_province_elasticity: float = Field(0.5, ge=0, le=1)
    farm_allocation_sd: float = Field(0.25, ge=0, le=1)
    deficit_price_premium: float = Field(0.2, ge=0, le=1)
    harvest_level: float = Field(1.0, gt=0, le=2)
    farm_sales_share: float = Field(0.3, ge=0, le=1)
    max_food_budget_share: float = Field(0.9, gt=0, le=1)
    insecure_threshold: float = Field(0.85, gt=0, le=1)


class Food(Module):
    name = "food"
    Params = FoodParams
    rules = {
        "food.price": "The grain price rises with money in circulation and falls with supply (harvest, season, imports).",
        "food.purchase": "Households eat from stock first, then buy the shortfall with the cash they have.",
        "food.insecurity": "A household that eats less than a threshold share of its need this month is food-insecure.",
        "food.harvest": "Each October farm households receive an allocation of the harvest, which varies from year to year and from household to household and is larger in provinces that grow more cereal per farm family.",
        "food.provincial_price": "Grain costs more in provinces that grow less cereal than their people eat, since it is moved in from the grain belt.",
        "food.market_revenue": "Food spending is split between grain imports, farm households' sales and traders' revenue.",
    }

    def init_state(self) -> None:
        sim, p = self.sim, self.pars
        hh = sim.households
        self.harvest_index = 1.0
        farm = sim.population.rural
        allocation = self.farm_allocation(sim.population.present(), farm)
        months_since_harvest = (sim.month.month - HARVEST_MONTH) % 12
        stock = np.full(hh.n, 0.5 * p.need_kg_per_person)
        stock[farm] = allocation[hh.province[farm]] * self._household_luck(len(farm))
        stock[farm] *= (12 - months_since_harvest) / 12
        stock *= hh.size
        hh.set("food_stock", stock.astype(np.float32))
        hh.add("food_insecure", bool, inherit=True)
        hh.add(
            "spending", np.float32, scratch=True
        )  # this month's spending on food and goods (markets adds)
        self.reference_money = float(hh.cash.sum())
        self.price = p.price_usd_per_kg
        self.province_price = np.full(sim.geography.n, p.price_usd_per_kg)
        self.spending = 0.0
        sim.ledger.open("market")
        sim.ledger.open("abroad", external=True)

    def step(self) -> None:
        sim, p = self.sim, self.pars
        hh, ledger = sim.households, sim.ledger
        if sim.month.month == HARVEST_MONTH:
            present = sim.population.present()
            self.harvest_index = p.harvest_level * float(
                np.exp(p.harvest_sd * self.rng.standard_normal() - p.harvest_sd**2 / 2)
            )
            farm = sim.population.rural
            per_person = self.farm_allocation(present, farm)[hh.province[farm]]
            per_person *= self._household_luck(len(farm))
            hh.food_stock[farm] += (per_person * present[farm]).astype(np.float32)

        imports = p.import_share * sim.pars.world.import_capacity
        supply = (1 - p.import_share) * self.harvest_index + imports
        season = 1 + p.seasonal_amplitude * np.cos(2 * np.pi * (sim.month.month - 5) / 12)
        money = max(float(hh.cash.sum()), 1e-9) / max(self.reference_money, 1e-9)
        self.price = (
            p.price_usd_per_kg
            * season
            * money**p.price_money_elasticity
            * supply ** (-p.price_supply_flexibility)
        )
        self.province_price = self.price * (
            1 + p.deficit_price_premium * grain_deficit(sim.geography)
        )

        # One compiled pass over households; the ledger debits what they spent.
        spend = np.empty(hh.n)
        counts = sim.population.role_count
        in_blocks(
            buy_food,
            hh.n,
            spend,
            hh.food_stock,
            hh.spending,
            hh.food_insecure,
            hh.size,
            counts[Role.ABROAD],
            counts[Role.DETAINED] + counts[Role.DECEASED],
            hh.cash,
            hh.province,
            p.need_kg_per_person,
            self.province_price,
            p.max_food_budget_share,
            p.insecure_threshold,
        )
        self.spending = ledger.pay("food_purchase", HOUSEHOLDS, "market", spend)
        del spend

        ledger.pay("grain_imports", "market", "abroad", self.spending * imports / supply)
        farm = sim.population.rural
        farmers = sim.population.role_count[Role.FARMER][farm]
        domestic = self.spending * (1 - imports / supply)
        n_farmers = farmers.sum(dtype=np.int64)
        if n_farmers > 0:
            ledger.pay(
                "farm_sales",
                "market",
                HOUSEHOLDS,
                domestic * p.farm_sales_share * farmers / n_farmers,
                credit_idx=farm,
                source=IncomeSource.MARKET,
            )

    def _household_luck(self, n: int) -> np.ndarray:
        """Each farm household's share of the harvest relative to its province's mean
        (log-normal, mean 1): work teams, plots and private gardens differ, so farm families
        run out of grain over several months of the lean season, not all in the same one."""
        sd = self.pars.farm_allocation_sd
        return np.exp(sd * self.rng.standard_normal(n) - sd**2 / 2)

    def farm_allocation(self, present: np.ndarray, farm: np.ndarray) -> np.ndarray:
        """Harvest allocation per farm person in each province (kg): the national allocation
        times the province's cereal output per farm person relative to the country's, raised to
        ``farm_allocation_province_elasticity`` (the state evens out the rest through
        procurement), scaled so the mean over farm persons stays the national allocation."""
        p, geo, hh = self.pars, self.sim.geography, self.sim.households
        farm_persons = group_sum(hh.province[farm], geo.n, present[farm].astype(np.float64))
        total = farm_persons.sum()
        if total == 0:
            return np.full(geo.n, p.farm_allocation_kg_per_person * self.harvest_index)
        per_farm_person = geo.cereal_share / np.maximum(farm_persons / total, 1e-9)
        weight = (
            np.where(farm_persons > 0, per_farm_person, 1.0)
            ** p.farm_allocation_province_elasticity
        )
        weight /= (farm_persons @ weight) / total
        return p.farm_allocation_kg_per_person * self.harvest_index * weight

    def record(self, rec) -> None:
        hh, geo = self.sim.households, self.sim.geography
        rec.add("food_price_usd_per_kg", self.price)
        rec.add_groups("food_price_usd_per_kg", self.province_price, "province", geo.names)
        rec.add("harvest_index", self.harvest_index)
        rec.add("food_spending_usd", self.spending)
        insecure = hh.food_insecure
        rec.add("food_insecure_share", insecure.mean())
        rec.add_groups(
            "food_insecure_share", group_mean(hh.province, geo.n, insecure), "province", geo.names
        )
        rec.add_groups(
            "food_insecure_share",
            group_mean(hh.kind, len(HouseholdKind), insecure),
            "household_kind",
            [label(k) for k in HouseholdKind],
        )
        rec.add_groups(
            "food_insecure_share",
            group_mean(hh.urban.view(np.int8), 2, insecure),
            "area",
            ["rural", "urban"],
        )
