"""The simulation: scenario -> population arrays -> modules in a fixed order each month -> results.

>>> import jangmadang as jm
>>> sim = jm.Sim("baseline", population=50_000).run()
>>> sim.results.query("indicator == 'food_insecure_share' and dimension == 'all'")
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from jangmadang import kernels, streams
from jangmadang.ledger import IncomeSource, Ledger
from jangmadang.modules import ORDER
from jangmadang.modules.population import Geography
from jangmadang.results import Recorder, gini, mean_of_sums, median
from jangmadang.scenario import Scenario, load_scenario, with_overrides
from jangmadang.sim_kernels import economy_sums
from jangmadang.state import HouseholdKind, label
from jangmadang.timeline import format_month, parse_month


class Sim:
    """One run of one scenario.

    ``scenario`` is a built-in name, a TOML path or a :class:`Scenario`. ``population`` (persons)
    or ``scale`` (share of the population at 1:1: the census projected to the first simulated
    month) picks the size; ``seed``, ``start`` and ``end`` override the scenario's.
    ``check_money`` asserts money conservation every month.
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
        self.steps_done = 0  # months simulated so far, burn-in included
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
                hh.add("income", np.float32, columns=len(IncomeSource), scratch=True)
                self.ledger = Ledger(hh.cash, hh.income)
        self.ledger.start()
        self.initialized = True
        return self

    def run(
        self,
        until: str | date | None = None,
        progress: Callable[[int, int], Any] | None = None,
        after_month: Callable[[Sim], Any] | None = None,
    ) -> Sim:
        """Run the months not yet simulated, through ``until`` (a month of the window,
        inclusive; default the end). A sim stopped this way, saved and loaded, or forked,
        continues with the next month when ``run`` is called again.

        ``progress(done, total)`` and ``after_month(sim)`` are called after each recorded month.
        """
        started = time.perf_counter()
        if not self.initialized:
            self.init()
        steps = self.schedule
        stop = len(steps) if until is None else self._steps_through(until)
        for t, month in steps[self.steps_done : stop]:
            self.step(t, month)
            self.steps_done += 1
            if t >= 0:
                if progress:
                    progress(t + 1, len(self.months))
                if after_month:
                    after_month(self)
        self.wall_seconds += time.perf_counter() - started
        return self

    @property
    def schedule(self) -> list[tuple[int, date]]:
        """Every step as (t, month): burn-in months (t < 0), then the window."""
        burn_in = self.scenario.burn_in
        return [*enumerate(burn_in, start=-len(burn_in)), *enumerate(self.months)]

    @property
    def finished(self) -> bool:
        return self.steps_done == len(self.scenario.burn_in) + len(self.months)

    def _steps_through(self, until: str | date) -> int:
        month = parse_month(until) if isinstance(until, str) else until
        if month not in self.months:
            raise ValueError(
                f"until {format_month(month)}: not a month of the run "
                f"({format_month(self.scenario.start)}..{format_month(self.scenario.end)})"
            )
        return len(self.scenario.burn_in) + self.months.index(month) + 1

    def save(self, path: str | Path) -> Path:
        """Write the whole state to the folder ``path`` (see :mod:`jangmadang.snapshot`)."""
        from jangmadang import snapshot

        return snapshot.save(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Sim:
        """A sim from a snapshot folder; ``run()`` continues it where it stopped."""
        from jangmadang import snapshot

        return snapshot.load(path)

    def fork(self, scenario: str | Path | Scenario, **run_options) -> Sim:
        """A copy of this sim that continues under another scenario from the next month.

        The other scenario must agree with this one on everything already simulated (seed,
        population, start, burn-in and the parameters of every month so far), so the fork is
        exactly the run that scenario would have had: results equal to a separate full run.
        """
        other = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        other = with_overrides(other, run_overrides(**run_options))
        shared = first_difference(self.scenario, other)
        done = self.steps_done - len(self.scenario.burn_in)
        if shared is None or shared < max(done, 0) or (shared < 0 and self.initialized):
            raise ValueError(
                f"cannot fork {self.scenario.name!r} into {other.name!r} after {max(done, 0)} "
                f"months: {_difference_text(self.scenario, shared)}"
            )
        scenario_backup, self.scenario = self.scenario, None  # not copied: replaced below
        try:
            fork = copy.deepcopy(self)
        finally:
            self.scenario = scenario_backup
        fork.scenario, fork.months = other, other.months
        fork.pars = other.params_at(max(fork.t, 0))
        return fork

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
        """Household income, cash and money flows: indicators of the ledger, not of one module.

        The sums by province and kind come from one compiled pass (``sim_kernels``)."""
        hh, geo = self.households, self.geography
        kinds = [label(k) for k in HouseholdKind]
        sources = len(IncomeSource)
        blocks = kernels.n_blocks(hh.n)
        by_province = np.zeros((blocks, geo.n, sources + 2))
        by_kind = np.zeros((blocks, len(HouseholdKind), sources + 2))
        earners = np.zeros((blocks, geo.n, 2), dtype=np.int64)
        income = np.empty(hh.n)
        kernels.in_blocks(
            economy_sums,
            hh.n,
            by_province,
            by_kind,
            earners,
            income,
            hh.income,
            hh.cash,
            hh.province,
            hh.kind,
            int(IncomeSource.MARKET),
            0.75,
        )
        by_province, by_kind = by_province.sum(axis=0), by_kind.sum(axis=0)
        province_counts, kind_counts = by_province[:, -1], by_kind[:, -1]
        sums = by_province[:, :sources].sum(axis=0)
        for source in IncomeSource:
            name = f"income_{label(source)}_usd"
            rec.add(name, sums[source] / max(hh.n, 1))
            province_means = mean_of_sums(by_province[:, source], province_counts)
            rec.add_groups(name, province_means, "province", geo.names)
            kind_means = mean_of_sums(by_kind[:, source], kind_counts)
            rec.add_groups(name, kind_means, "household_kind", kinds)
        total_income = sums.sum()
        rec.add("income_total_usd", total_income / max(hh.n, 1))
        rec.add("market_income_share", sums[IncomeSource.MARKET] / max(total_income, 1e-12))
        province_income = by_province[:, :sources].sum(axis=1)
        rec.add_groups(
            "market_income_share",
            by_province[:, IncomeSource.MARKET] / np.maximum(province_income, 1e-12),
            "province",
            geo.names,
        )
        # Share of earning households living mostly off markets (at least three-quarters of
        # income): the quantity the 2017 in-country survey asked about.
        earning, mostly_market = earners.sum(axis=0).T
        rec.add("households_mostly_market_share", mostly_market.sum() / max(earning.sum(), 1))
        rec.add_groups(
            "households_mostly_market_share",
            mostly_market / np.maximum(earning, 1),
            "province",
            geo.names,
        )
        rec.add("gini_income", gini(income))
        del income
        money = by_province[:, sources].sum()
        rec.add("cash_mean_usd", money / max(hh.n, 1))
        national_median, province_medians = _cash_medians(hh.cash, hh.province, geo.n)
        rec.add("cash_median_usd", national_median)
        rec.add("money_in_circulation_usd", money)
        rec.add_groups(
            "cash_mean_usd",
            mean_of_sums(by_province[:, sources], province_counts),
            "province",
            geo.names,
        )
        rec.add_groups("cash_median_usd", province_medians, "province", geo.names)
        rec.add_groups(
            "cash_mean_usd", mean_of_sums(by_kind[:, sources], kind_counts), "household_kind", kinds
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


def first_difference(a: Scenario, b: Scenario) -> int | None:
    """Index of the first month of ``a``'s window whose parameters differ in ``b``: the month
    from which a run of ``a`` and a run of ``b`` can part. -1 when they differ from the start
    (including the burn-in), ``None`` when they cannot share any history (different seed,
    population or start); ``len(a.months)`` when ``b`` agrees with ``a`` through ``a``'s end.
    """
    if (
        a.seed != b.seed
        or a.population != b.population
        or a.start != b.start
        or a.burn_in_months != b.burn_in_months
    ):
        return None
    for t in range(min(len(a.months), len(b.months))):
        if a.params_at(t) != b.params_at(t):
            return t - 1 if t == 0 else t
    return min(len(a.months), len(b.months))


def _difference_text(a: Scenario, shared: int | None) -> str:
    if shared is None:
        return "they differ in seed, population, start or burn-in"
    if shared < 0:
        return "their parameters differ from the first month"
    return f"their parameters differ from {format_month(a.months[shared])}"


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


def _cash_medians(values: np.ndarray, province: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    """The median of all values and of each province's (households are stored by province, so
    each province is one contiguous slice), on the kernels' threads (NumPy's partition
    releases the GIL)."""
    bounds = np.searchsorted(province, np.arange(n + 1))
    slices = [values[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
    medians = kernels.thread_map(
        lambda part: median(part) if len(part) else np.nan, [values, *slices]
    )
    return medians[0], np.array(medians[1:])
