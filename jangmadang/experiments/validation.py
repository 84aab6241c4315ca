"""Pattern-oriented validation: every stylized fact from the reports, checked at once.

Each :class:`Pattern` names an observed regularity, the report or statistic it comes from, and
how to measure it on ensembles, as one number per member:

- ``scenario``: alt minus base (same seeds) of an indicator's mean over a window;
- ``groups``: group A minus group B of one indicator within the base scenario; a group may be
  several joined by ``+`` (their mean), or ``max:`` or ``min:`` followed by several;
- ``trend``: the mean over a late window minus the mean over an early one, minus a threshold;
- ``level``: the mean over a window minus a threshold;
- ``correlation``: across the years of a window, the correlation of two indicators' yearly
  means (the weather of the years is random, so each member has its own good and bad years).

The pattern passes when the whole 95% interval of the mean effect lies on the expected side of
zero. Add a pattern by appending to ``PATTERNS``; each scenario it needs is run once as an
ensemble and shared by every pattern that uses it.

A pattern is **emergent** when it arises from agents' choices and interactions, and
**imposed** when a scenario value or a rule passes through to it (the closure's delivery share
into remittances received, the redenomination's exchange limit into cash): an imposed pattern
checks the plumbing, not the model, and says why in ``imposed``. The headline counts emergent
patterns only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jangmadang.experiments import checks
from jangmadang.experiments.compare import interval
from jangmadang.experiments.ensemble import member_results, resolve
from jangmadang.experiments.paired import run_paired
from jangmadang.scenario import with_overrides
from jangmadang.store import ResultsStore


@dataclass(frozen=True)
class Pattern:
    name: str
    source: str  # a report file name or a statistic in the evidence ledger's [sources]
    kind: str  # scenario | groups | trend | level | correlation
    indicator: str
    expect: int  # +1: the effect is positive; -1: negative
    window: tuple[str, str] = ("2012-01", "2025-12")
    base: str = "baseline"
    alt: str = ""  # kind scenario: the scenario compared with the base
    dimension: str = "all"
    groups: tuple[str, str] = ("all", "all")  # kind groups: A and B
    early: tuple[str, str] = ("2012-01", "2012-12")  # kind trend
    threshold: float = 0.0  # kinds level and trend
    other: str = ""  # kind correlation: the second indicator
    imposed: str = ""  # why the pattern passes an input through; empty: emergent
    description: str = field(default="", compare=False)

    @property
    def origin(self) -> str:
        return "imposed" if self.imposed else "emergent"


CLOSURE = ("2020-02", "2023-07")
GRAIN_BELT = ("South Pyongan", "North Pyongan", "South Hwanghae", "North Hwanghae")
NORTH_EAST = ("North Hamgyong", "South Hamgyong", "Ryanggang", "Chagang", "Kangwon")
BORDER = ("North Pyongan", "North Hamgyong", "Chagang", "Ryanggang")
INTERIOR = (
    "South Pyongan",
    "Pyongyang",
    "South Hamgyong",
    "South Hwanghae",
    "North Hwanghae",
    "Kangwon",
)
OTHER_PROVINCES = (*GRAIN_BELT, *NORTH_EAST)
SCHEDULES = "the census's fertility and mortality schedules set the rate"
PATTERNS = (
    Pattern("closure raises food prices", "002_d0e71752c93d23e1.txt", "scenario",
            "food_price_usd_per_kg", +1, CLOSURE, base="no_border_closure", alt="baseline"),
    Pattern("closure raises food insecurity", "002_d0e71752c93d23e1.txt", "scenario",
            "food_insecure_share", +1, CLOSURE, base="no_border_closure", alt="baseline"),
    Pattern("closure cuts remittances received", "002_d0e71752c93d23e1.txt", "scenario",
            "remittances_received_usd", -1, CLOSURE, base="no_border_closure", alt="baseline",
            imposed="the closure sets the share of transfers that get through"),
    Pattern("closure raises the brokers' share", "002_d0e71752c93d23e1.txt", "scenario",
            "broker_share_of_transfers", +1, CLOSURE, base="no_border_closure", alt="baseline",
            imposed="the closure sets the brokers' cut"),
    Pattern("closure cuts defections", "mou_arrivals", "scenario",
            "defections", -1, CLOSURE, base="no_border_closure", alt="baseline",
            imposed="the border's state multiplies the hazard of leaving"),
    Pattern("sanctions cut exports", "unscr_2017", "scenario",
            "exports_usd", -1, ("2017-01", "2019-12"), alt="strict_sanctions",
            imposed="the scenario sets the sanctions' cut of exports"),
    Pattern("market growth ties donju to party secretaries", "001_7779113432fd1511.txt",
            "scenario", "donju_secretary_tie_share", +1, ("2019-01", "2021-12"),
            alt="market_boom"),
    Pattern("tied donju earn more than untied", "001_7779113432fd1511.txt", "groups",
            "donju_income_usd", +1, dimension="tied", groups=("tied", "untied")),
    Pattern("border agents take more than interior agents", "004_50cf4b8f26c8f34a.txt",
            "groups", "agent_bribe_income_usd", +1, ("2014-01", "2019-12"),
            dimension="border", groups=("border", "interior")),
    Pattern("families with relatives abroad spend more", "002_d0e71752c93d23e1.txt", "groups",
            "spending_usd", +1, ("2015-01", "2019-12"), dimension="relatives_abroad",
            groups=("with", "without")),
    Pattern("most household income comes from markets", "csis_survey_2017", "level",
            "market_income_share", +1, threshold=0.5),
    Pattern("private loyalty withers", "000_27c40fbff0bfb932.txt", "trend",
            "private_loyalty", -1, ("2025-01", "2025-12")),
    Pattern("compliance stays high", "002_d0e71752c93d23e1.txt", "level",
            "compliance", +1, threshold=0.7),
    Pattern("arrivals in the South fall after 2011", "mou_arrivals", "trend",
            "arrivals_south_korea", -1, ("2017-01", "2019-12"), early=("2012-01", "2013-12"),
            imposed="the crackdown's yearly tightening lowers the hazard by rule"),
    Pattern("defector families become sought-after in-laws", "002_d0e71752c93d23e1.txt",
            "trend", "defector_family_relative_desirability", +1, ("2017-01", "2019-12"),
            early=("2012-01", "2014-12")),
    # The history since 2001 (issue 12): the transition the reports describe, from the
    # history scenario's runs, and the provinces as the public record describes them.
    Pattern("markets spread after 2003", "haggard_noland_2011", "trend",
            "market_income_share", +1, ("2004-01", "2006-12"), base="history",
            early=("2001-01", "2002-12")),
    Pattern("the currency reform wipes out cash savings", "haggard_noland_2010", "trend",
            "cash_mean_usd", -1, ("2009-12", "2010-01"), base="history",
            early=("2009-10", "2009-11"),
            imposed="the exchange limit takes the cash above it"),
    Pattern("the currency reform cuts market incomes", "haggard_noland_2010", "trend",
            "income_market_usd", -1, ("2009-12", "2010-01"), base="history",
            early=("2009-10", "2009-11"),
            imposed="the reform closes the markets for two months by rule"),
    Pattern("arrivals in the South rise to 2009", "mou_arrivals", "trend",
            "arrivals_south_korea", +1, ("2008-01", "2009-12"), base="history",
            early=("2001-01", "2002-12")),
    Pattern("rations fail more in bad years", "haggard_noland_2007", "correlation",
            "ration_delivery_share", +1, ("2012-01", "2019-12"), other="harvest_index",
            imposed="the state's grain is procured from the harvest"),
    Pattern("Pyongyang holds the most cash", "hrnk_songbun_2012", "groups",
            "cash_mean_usd", +1, ("2015-01", "2019-12"), dimension="province",
            groups=("Pyongyang", "max:" + "+".join(OTHER_PROVINCES)),
            imposed="Pyongyang starts with twice the cash and more donju"),
    Pattern("Pyongyang is the least food-insecure", "hrnk_songbun_2012", "groups",
            "food_insecure_share", -1, ("2015-01", "2019-12"), dimension="province",
            groups=("Pyongyang", "min:" + "+".join(OTHER_PROVINCES))),
    Pattern("the grain belt is less food-insecure than the north-east", "fao_wfp_cfsam",
            "groups", "food_insecure_share", -1, ("2015-01", "2019-12"),
            dimension="province", groups=("+".join(GRAIN_BELT), "+".join(NORTH_EAST))),
    Pattern("border provinces earn more from markets", "haggard_noland_2011", "groups",
            "income_market_usd", +1, ("2015-01", "2019-12"), dimension="province",
            groups=("+".join(BORDER), "+".join(INTERIOR))),
    Pattern("trading households pay bribes more often", "kim_byung_yeon_2017", "groups",
            "households_paid_bribe_12m_share", +1, ("2015-01", "2019-12"),
            dimension="trader", groups=("with_trader", "without_trader"),
            imposed="officials demand bribes of traders by rule"),
    # Demography: the published rates of 2014-2021 (about 14.5 births and 9.3 deaths per
    # 1,000 a year) within the ranges issue 11 set. The marriage round and hunger move them,
    # but the census schedules set their level: plumbing checks.
    Pattern("births are 12-17 per 1,000 a year", "un_wpp", "level",
            "crude_birth_rate", +1, ("2014-01", "2019-12"), threshold=12,
            imposed=SCHEDULES),
    Pattern("births are 12-17 per 1,000 a year (upper)", "un_wpp", "level",
            "crude_birth_rate", -1, ("2014-01", "2019-12"), threshold=17,
            imposed=SCHEDULES),
    Pattern("deaths are 8-11 per 1,000 a year", "un_wpp", "level",
            "crude_death_rate", +1, ("2014-01", "2019-12"), threshold=8,
            imposed=SCHEDULES),
    Pattern("deaths are 8-11 per 1,000 a year (upper)", "un_wpp", "level",
            "crude_death_rate", -1, ("2014-01", "2019-12"), threshold=11,
            imposed=SCHEDULES),
)  # fmt: skip


def _series_mean(df: pd.DataFrame, indicator, dimension, group, window) -> float:
    rows = df[(df.indicator == indicator) & (df.dimension == dimension) & (df.group == group)]
    rows = rows[(rows.date >= window[0]) & (rows.date <= window[1])]
    return float(rows.value.mean()) if len(rows) else np.nan


def _group_mean(df: pd.DataFrame, indicator, dimension, spec: str, window) -> float:
    """A group's mean over the window; ``"A+B"`` averages groups, ``"max:A+B"`` and
    ``"min:A+B"`` take the largest and the smallest of them."""
    how, _, names = spec.rpartition(":")
    means = [_series_mean(df, indicator, dimension, name, window) for name in names.split("+")]
    return float({"": np.mean, "max": np.max, "min": np.min}[how](means))


def effects(pattern: Pattern, runs: dict[str, dict[int, pd.DataFrame]]) -> np.ndarray:
    """The pattern's effect for every member (``runs``: scenario -> member -> results)."""
    p, base = pattern, runs[pattern.base]
    members = sorted(base)
    if p.kind == "scenario":
        alt = runs[p.alt]
        members = [m for m in members if m in alt]
        return np.array(
            [
                _series_mean(alt[m], p.indicator, "all", "all", p.window)
                - _series_mean(base[m], p.indicator, "all", "all", p.window)
                for m in members
            ]
        )
    if p.kind == "groups":
        a, b = p.groups
        return np.array(
            [
                _group_mean(base[m], p.indicator, p.dimension, a, p.window)
                - _group_mean(base[m], p.indicator, p.dimension, b, p.window)
                for m in members
            ]
        )
    if p.kind == "trend":
        return np.array(
            [
                _series_mean(base[m], p.indicator, "all", "all", p.window)
                - _series_mean(base[m], p.indicator, "all", "all", p.early)
                - p.threshold
                for m in members
            ]
        )
    if p.kind == "level":
        return np.array(
            [
                _series_mean(base[m], p.indicator, "all", "all", p.window) - p.threshold
                for m in members
            ]
        )
    if p.kind == "correlation":
        return np.array([_yearly_correlation(base[m], p) for m in members])
    raise ValueError(f"pattern {p.name!r}: unknown kind {p.kind!r}")


def _yearly_correlation(df: pd.DataFrame, p: Pattern) -> float:
    """Correlation across the window's years of the yearly means of ``p.indicator`` and
    ``p.other`` (national series)."""
    rows = df[(df.dimension == "all") & (df.date >= p.window[0]) & (df.date <= p.window[1])]
    rows = rows[rows.indicator.isin([p.indicator, p.other])]
    yearly = rows.pivot_table(
        index=pd.to_datetime(rows.date).dt.year, columns="indicator", values="value"
    )
    return float(yearly[p.indicator].corr(yearly[p.other]))


DEFAULT_RUNS = 8
DEFAULT_POPULATION = 500_000  # enough defectors a year for the arrivals trend to show


def validate(
    runs: int = DEFAULT_RUNS,
    *,
    patterns: tuple[Pattern, ...] = PATTERNS,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    population: int | None = DEFAULT_POPULATION,
    **run_options,
) -> pd.DataFrame:
    """Run every scenario the patterns need as an ensemble (same seeds for all) and return
    the table: pattern, source, effect, low, high, expected sign, passed, origin (emergent or
    imposed) and, for an imposed one, the input it passes through."""
    run_options["population"] = population
    names = sorted({p.base for p in patterns} | {p.alt for p in patterns if p.alt})
    base_seed = resolve("baseline", **run_options).seed
    scenarios = {
        name: with_overrides(resolve(name, **run_options), {"seed": base_seed}) for name in names
    }
    checks.interval_runs(runs)
    if client is None:
        checks.cluster(workers, scheduler)

    # The baseline is the trunk: every other scenario forks from it where they part.
    order = sorted(scenarios, key=lambda name: name != "baseline")
    ensemble_ids = run_paired(
        [scenarios[name] for name in order],
        runs,
        out=out,
        workers=workers,
        scheduler=scheduler,
        client=client,
        progress=progress,
    )
    ids = dict(zip(order, ensemble_ids, strict=True))
    store = ResultsStore(out)
    results = {name: member_results(store, ensemble) for name, ensemble in ids.items()}
    rows = []
    for p in patterns:
        mean, low, high = interval(effects(p, results))
        passed = bool(low > 0) if p.expect > 0 else bool(high < 0)
        rows.append(
            {
                "pattern": p.name,
                "source": p.source,
                "effect": mean,
                "low": low,
                "high": high,
                "expected": "+" if p.expect > 0 else "-",
                "passed": passed,
                "origin": p.origin,
                "imposed": p.imposed,
            }
        )
    return pd.DataFrame(rows)


def headline(table: pd.DataFrame) -> str:
    """How many emergent patterns pass: the only count that says something about the model."""
    emergent = table[table.origin == "emergent"]
    imposed = table[table.origin == "imposed"]
    return (
        f"{int(emergent.passed.sum())} of {len(emergent)} emergent patterns pass "
        f"({int(imposed.passed.sum())} of {len(imposed)} plumbing checks pass)"
    )


def markdown(table: pd.DataFrame, command: str) -> str:
    """The validation table as Markdown, with the command that made it: emergent patterns
    first, then the imposed ones as plumbing checks with the input each passes through."""
    lines = [f"Made with `{command}`: {headline(table)}.", ""]
    for origin, title, extra in (
        ("emergent", "Emergent patterns", ""),
        ("imposed", "Plumbing checks (imposed)", " passes through |"),
    ):
        lines += [
            f"{title}:",
            "",
            "| pattern | source | effect (95% interval) | expected | result |" + extra,
            "|---|---|---|:---:|:---:|" + ("---|" if extra else ""),
        ]
        for row in table[table.origin == origin].itertuples():
            effect = f"{row.effect:.3g} ({row.low:.3g} to {row.high:.3g})"
            verdict = "pass" if row.passed else "FAIL"
            cells = [row.pattern, row.source, effect, row.expected, verdict]
            if extra:
                cells.append(row.imposed)
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
