"""The simulation: scenario -> population arrays -> modules in a fixed order each month -> results.

>>> import jangmadang as jm
>>> sim = jm.Sim("baseline", population=50_000).run()
>>> sim.results.query("indicator == 'food_insecure_share' and dimension == 'all'")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jangmadang import streams
from jangmadang.ledger import IncomeSource, Ledger
from jangmadang.modules import ORDER
from jangmadang.modules.population import Geography
from jangmadang.results import Recorder, gini, group_mean, median
from jangmadang.scenario import Scenario, load_scenario, with_overrides
from jangmadang.state import HouseholdKind, label


class Sim:
    """One run of one scenario.

    ``scenario`` is a built-in name, a TOML path or a :class:`Scenario`. ``population`` (persons)
    or ``scale`` (share of the full 25.97 million) picks the size; ``seed``, ``start`` and
    ``end`` override the scenario's. ``check_money`` asserts money conservation every month.
    """

    def __init__(
        self,
        scenario: str | Path | Scenario = "baseline",
        *,
        population: int | None = None,
        scale: float | None = None,
        seed: int | None = None,
        start: str | None = None,
        end: str | None = None,
        check_money: bool = True,
    ):
        overrides = run_overrides(
            population=population, scale=scale, seed=seed, start=start, end=end
        )
        if isinstance(scenario, Scenario):
            scenario = with_overrides(scenario, overrides)
        else:
            scenario = load_scenario(scenario, overrides)
        self.scenario = scenario
        self.months = scenario.months
        self.check_money = check_money
        self.modules = [cls(self) for cls in ORDER]
        for module in self.modules:
            setattr(self, module.name, module)
        self.t = 0  # index of the current month in ``months``; negative during burn-in
        self.month = scenario.burn_in[0] if scenario.burn_in else scenario.start
        self.pars = scenario.params_at(0)
        self.recorder = Recorder()
        self.initialized = False
        self.wall_seconds = 0.0

    @property
    def seed(self) -> int:
        return self.scenario.seed

    def init(self) -> Sim:
        """Build the population, open the ledger and let every module declare its state."""
        self.geography = Geography.load()
        for module in self.modules:
            module.rng = streams.stream(self.seed, module.name, month=None)
            module.init_state()
            if module.name == "population":  # the ledger wraps the households' cash
                hh = self.households
                hh.add("income", np.float32, columns=len(IncomeSource))
                self.ledger = Ledger(hh.cash, hh.income)
        self.ledger.start()
        self.initialized = True
        return self

    def run(self, progress: Callable[[int, int], Any] | None = None) -> Sim:
        """Run every month of the scenario; ``progress(done, total)`` is called after each."""
        started = time.perf_counter()
        if not self.initialized:
            self.init()
        burn_in = self.scenario.burn_in
        for t, month in enumerate(burn_in, start=-len(burn_in)):
            self.step(t, month)
        for t, month in enumerate(self.months):
            self.step(t, month)
            if progress:
                progress(t + 1, len(self.months))
        self.wall_seconds = time.perf_counter() - started
        return self

    def step(self, t: int, month) -> None:
        """Advance one month; burn-in months (t < 0) use the first month's parameters and
        are not recorded."""
        self.t, self.month = t, month
        self.pars = self.scenario.params_at(max(t, 0))
        self.households.income[:] = 0
        for module in self.modules:
            module.rng = streams.stream(self.seed, module.name, month)
            module.step()
        if self.check_money:
            self.ledger.check()
        if t < 0:
            self.ledger.close_month()
            return
        rec = self.recorder
        rec.month = month
        for module in self.modules:
            module.record(rec)
        self._record_economy(rec)

    def _record_economy(self, rec: Recorder) -> None:
        """Household income, cash and money flows: indicators of the ledger, not of one module."""
        hh, geo = self.households, self.geography
        income = np.zeros(hh.n)  # summed column by column: hh.income.sum(axis=1) is slow
        for source in IncomeSource:
            column = hh.income[:, source]
            column64 = column.astype(np.float64)
            income += column64
            name = f"income_{label(source)}_usd"
            rec.add(name, column.mean(dtype=np.float64))
            rec.add_groups(name, group_mean(hh.province, geo.n, column64), "province", geo.names)
            rec.add_groups(
                name,
                group_mean(hh.kind, len(HouseholdKind), column64),
                "household_kind",
                [label(k) for k in HouseholdKind],
            )
        del column64
        total_income = income.sum()
        market_share = hh.income[:, IncomeSource.MARKET].sum(dtype=np.float64) / max(
            total_income, 1e-12
        )
        rec.add("income_total_usd", income.mean())
        rec.add("market_income_share", market_share)
        # Share of earning households living mostly off markets (at least three-quarters of
        # income): the quantity the 2017 in-country survey asked about.
        earning = income > 0
        mostly_market = hh.income[:, IncomeSource.MARKET] >= 0.75 * income
        rec.add(
            "households_mostly_market_share",
            np.count_nonzero(mostly_market & earning) / max(np.count_nonzero(earning), 1),
        )
        rec.add("gini_income", gini(income))
        rec.add("cash_mean_usd", hh.cash.mean())
        rec.add("cash_median_usd", median(hh.cash))
        rec.add("money_in_circulation_usd", hh.cash.sum())
        rec.add_groups(
            "cash_mean_usd", group_mean(hh.province, geo.n, hh.cash), "province", geo.names
        )
        rec.add_groups(
            "cash_median_usd", _province_medians(hh.cash, hh.province, geo.n), "province", geo.names
        )
        rec.add_groups(
            "cash_mean_usd",
            group_mean(hh.kind, len(HouseholdKind), hh.cash),
            "household_kind",
            [label(k) for k in HouseholdKind],
        )
        created = destroyed = 0.0
        for (flow, debit, credit), amount in sorted(self.ledger.close_month().items()):
            rec.add("money_flow_usd", amount, "flow", flow)
            if self.ledger.is_external(debit) and not self.ledger.is_external(credit):
                created += amount
                rec.add("money_created_usd", amount, "flow", flow)
            elif self.ledger.is_external(credit) and not self.ledger.is_external(debit):
                destroyed += amount
                rec.add("money_destroyed_usd", amount, "flow", flow)
        rec.add("money_created_usd", created)
        rec.add("money_destroyed_usd", destroyed)

    @property
    def results(self) -> pd.DataFrame:
        """Monthly indicators in long format: date, indicator, dimension, group, value."""
        return self.recorder.to_frame()

    def series(self, indicator: str, dimension: str = "all", group: str = "all") -> pd.Series:
        """One indicator over time for one group, indexed by date."""
        df = self.results
        rows = df[(df.indicator == indicator) & (df.dimension == dimension) & (df.group == group)]
        if rows.empty:
            raise KeyError(f"no results for {indicator!r} ({dimension}={group})")
        return rows.set_index("date")["value"].rename(indicator)


def run_overrides(
    *, population=None, scale=None, seed=None, start=None, end=None
) -> dict[str, Any]:
    """Map run options to scenario keys (``population`` becomes a scale of the full size)."""
    if population is not None and scale is not None:
        raise ValueError("give population or scale, not both")
    overrides: dict[str, Any] = {}
    if population is not None:
        overrides["population.persons"] = population
    if scale is not None:
        overrides["population.scale"] = scale
    for key, value in (("seed", seed), ("start", start), ("end", end)):
        if value is not None:
            overrides[key] = value
    return overrides


def _province_medians(values: np.ndarray, province: np.ndarray, n: int) -> np.ndarray:
    """Households are stored by province, so each province is one contiguous slice."""
    bounds = np.searchsorted(province, np.arange(n + 1))
    return np.array(
        [
            median(values[lo:hi]) if hi > lo else np.nan
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
    )
