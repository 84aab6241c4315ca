"""Calibration with Optuna: fit chosen parameters to observed targets.

The targets file (``jangmadang/data/targets.toml`` is the shipped one) lists observations with
weights and tolerances; a trial's loss is the weighted mean of each target's squared relative
error beyond its tolerance, plus a small share of the squared error itself (``CENTRING``), so
the fit sits inside the band rather than at its edge, where other seeds would put it outside.
A trial runs one seed or several (``replicates``, the same seeds for every trial) and is judged
on the seeds' mean, as the fit report judges the result. Parameters vary within their
plausible ranges from the evidence ledger. Optuna's TPE sampler proposes trials a batch at a
time, each batch runs as Dask tasks, and every trial is kept in an SQLite study in the output
folder, so an interrupted calibration resumes where it stopped. The scenario's own values are
always the first trial, so the fit report shows how far the calibration moved from them.

A study is named by everything that defines it (the scenario's hash, which covers its
population, months and seed; the parameters and the targets), so a calibration with other
settings starts its own study instead of mixing trials of both.

Outputs (``OUT/calibration/<study>/``): ``settings.toml``, what defines the study;
``calibrated.toml``, a scenario that extends the original with the best values; ``fit.md``,
the fit report; ``fit.png``, simulated against observed for the default and the best values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import tomli_w
from pydantic import Field, ValidationError, ValidationInfo, field_validator

from jangmadang.experiments import checks
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import keyed, member_seeds, run_batch, using_client
from jangmadang.experiments.sensitivity import point_scenario, problem
from jangmadang.module import ParameterModel
from jangmadang.modules.defection import load_arrivals
from jangmadang.modules.population import Geography
from jangmadang.scenario import Problem, Scenario, ScenarioError, _key, _reason, with_overrides
from jangmadang.store import scenario_to_toml
from jangmadang.timeline import Month, format_month

DATA_SERIES = {"arrivals": load_arrivals}
# The parameters the joint calibration fits (``jangmadang calibrate history``): the nine most
# influential assumptions of the Morris screening (``jangmadang screen``; the tenth, the
# harvest level, is the FAO/WFP normal by definition), the hazard's level and the brokers'
# network's reach, which set the arrivals' level and rise, the crackdown's drop and yearly
# tightening, which set them after 2011, and the markets' tolerance in 2001, which sets the
# informal income share at the start.
FITTED = (
    "loyalty.punishment_effect",
    "food.price_supply_flexibility",
    "markets.exports_usd_per_capita",
    "markets.donju_capacity",
    "official_economy.farmer_wage_multiplier",
    "markets.wealth_spending_share",
    "defection.tied_multiplier",
    "markets.donju_capital_elasticity",
    "defection.tumen_multiplier",
    "defection.base_hazard",
    "defection.network_half_reach",
    "defection.crackdown_multiplier",
    "defection.guard_tightening_per_year",
    "markets.tolerance",
)
# Share of a target's squared relative error that costs even inside its tolerance: at the band's
# edge it adds as much as an error a fifth beyond it would (for a 25% tolerance), a pull to the
# middle that leaves the band's meaning (where a target passes) unchanged.
CENTRING = 0.05
KINDS = ("yearly_total", "mean", "range")


class TargetsError(ScenarioError):
    """A targets file that cannot be used; ``problems`` name the file, the key and the reason."""


class _Target(ParameterModel):
    name: str = Field(min_length=1)
    indicator: str = Field(min_length=1)  # a national indicator
    weight: float = Field(1.0, gt=0)
    tolerance: float = Field(0.0, ge=0)  # relative error that costs nothing
    source: str = ""  # where the observation comes from (evidence ledger)


def _ordered(window: list) -> list:
    if window[1] < window[0]:
        raise ValueError(
            f"the last month {format_month(window[1])} is before the first "
            f"{format_month(window[0])}"
        )
    return window


class YearlyTotal(_Target):
    """Simulated yearly sums, scaled to 1:1, against a published yearly series."""

    kind: Literal["yearly_total"]
    data: Literal[tuple(DATA_SERIES)]
    years: list[int] = Field(min_length=2, max_length=2)  # first and last, inclusive

    @field_validator("years")
    @classmethod
    def _years_ordered(cls, years: list[int]) -> list[int]:
        if years[1] < years[0]:
            raise ValueError(f"the last year {years[1]} is before the first {years[0]}")
        return years


class _Window(_Target):
    """A target measured as the mean over a window: of the national series, or with
    ``provinces``, of the provinces' series weighted as given (to compare like with like when
    the observation comes from a sample of some provinces more than others)."""

    window: list[Month] = Field(min_length=2, max_length=2)
    provinces: dict[str, Annotated[float, Field(gt=0)]] = {}

    _window_ordered = field_validator("window")(_ordered)


class Mean(_Window):
    """The mean of an indicator over a window against a value."""

    kind: Literal["mean"]
    value: float

    @field_validator("value")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0: the loss is the error relative to it")
        return value


class Range(_Window):
    """The same mean against a band ``[low, high]`` (no cost inside it)."""

    kind: Literal["range"]
    low: float = Field(gt=0)  # errors are relative to the bounds
    high: float

    @field_validator("high")
    @classmethod
    def _above_low(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("low")
        if low is not None and not high > low:
            raise ValueError(f"must be above low ({low:g})")
        return high


Target = Annotated[YearlyTotal | Mean | Range, Field(discriminator="kind")]


class Targets(ParameterModel):
    targets: list[Target] = Field(min_length=1)


def load_targets(path: str | Path | None = None, scenario: Scenario | None = None) -> list:
    """Targets from a TOML file (default: the shipped ``targets.toml``), checked field by
    field; with ``scenario``, also that each target can be measured on its runs (a known
    national indicator, months inside its window, years it completes)."""
    shown = "the shipped targets.toml" if path is None else str(path)

    def fail(problems: list[tuple[str, str]]):
        return TargetsError([Problem(shown, key, reason) for key, reason in problems])

    try:
        if path is None:
            text = resources.files("jangmadang.data").joinpath("targets.toml").read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        raw = tomllib.loads(text.removeprefix("\ufeff"))  # a BOM is not part of the TOML
    except FileNotFoundError:
        raise fail([("", "no such targets file")]) from None
    except UnicodeDecodeError as exc:
        raise fail([("", f"not UTF-8 text (byte {exc.start})")]) from None
    except OSError as exc:
        raise fail([("", f"cannot read file: {exc.strerror}")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise fail([("", f"not valid TOML ({exc})")]) from None
    try:
        targets = Targets.model_validate(raw).targets
    except ValidationError as exc:
        raise fail([_target_problem(error) for error in exc.errors()]) from None
    problems = [
        (f"targets[{i}].name", f"{t.name!r} also names targets[{first}]")
        for i, t in enumerate(targets)
        for first in [next(j for j, u in enumerate(targets) if u.name == t.name)]
        if first < i
    ]
    if scenario is not None:
        problems += _unmeasurable(targets, scenario)
    if problems:
        raise fail(problems)
    return targets


def _target_problem(error: dict) -> tuple[str, str]:
    """Key and reason of a validation error, as written in the file: ``targets[1].value``
    (without pydantic's union tag), and a missing or unknown ``kind`` named as such."""
    loc, kinds = error["loc"], ", ".join(KINDS)
    if len(loc) > 2 and loc[2] in KINDS:
        loc = loc[:2] + loc[3:]
    if error["type"] == "union_tag_invalid":
        return _key((*loc, "kind")), f"must be one of {kinds} (got {error['ctx']['tag']!r})"
    if error["type"] == "union_tag_not_found":
        return _key((*loc, "kind")), f"missing: one of {kinds}"
    if loc == ("targets",) and error["type"] == "missing":
        return "targets", "missing: write each target as a [[targets]] table"
    return _key(loc), _reason(error)


def _unmeasurable(targets: list, scenario: Scenario) -> list[tuple[str, str]]:
    """Targets the scenario's runs cannot measure: they would cost a flat penalty or NaN."""
    known, problems = checks.national_indicators(), []
    provinces = Geography.load().names
    months = f"{format_month(scenario.start)}..{format_month(scenario.end)}"
    complete = range(
        scenario.start.year + (scenario.start.month > 1),
        scenario.end.year + (scenario.end.month == 12),
    )
    for i, t in enumerate(targets):
        if t.indicator not in known:
            problems.append((f"targets[{i}].indicator", checks.unknown_indicators([t.indicator])))
        if isinstance(t, YearlyTotal):
            first, last = t.years
            observed = [y for y in DATA_SERIES[t.data]() if first <= y <= last and y in complete]
            if not observed:
                problems.append(
                    (
                        f"targets[{i}].years",
                        f"{first}..{last} has no year with {t.data} data that the run's months "
                        f"{months} cover completely",
                    )
                )
            continue
        if t.window[0] < scenario.start or t.window[1] > scenario.end:
            span = "..".join(map(format_month, t.window))
            problems.append((f"targets[{i}].window", f"{span} is not inside the run's {months}"))
        unknown = sorted(set(t.provinces) - set(provinces))
        if unknown:
            problems.append(
                (f"targets[{i}].provinces", f"no province {', '.join(map(repr, unknown))}")
            )
    return problems


def simulated(target, results: pd.DataFrame, scale: float):
    """The simulated counterpart of a target: yearly totals at 1:1 (a Series by year) or a
    window mean (a float), weighted over provinces if the target names them."""
    rows = results[results.indicator == target.indicator]
    national = rows[rows.dimension == "all"]
    if isinstance(target, YearlyTotal):
        first, last = target.years
        by_year = national.groupby(national.date.dt.year)["value"].agg(["sum", "count"])
        by_year = by_year[
            (by_year["count"] == 12) & (by_year.index >= first) & (by_year.index <= last)
        ]
        return by_year["sum"] / scale
    start, end = (pd.Timestamp(month) for month in target.window)
    rows = rows[(rows.date >= start) & (rows.date <= end)]
    if not target.provinces:
        window = rows[rows.dimension == "all"]
        return float(window.value.mean()) if len(window) else np.nan
    by_province = rows[rows.dimension == "province"].groupby("group")["value"].mean()
    weights = pd.Series(target.provinces)
    if not weights.index.isin(by_province.index).all():
        return np.nan
    return float((by_province[weights.index] * weights).sum() / weights.sum())


def seeds_mean(target, runs: list[pd.DataFrame], scale: float):
    """A target's simulated value averaged over runs (seeds): a Series by year or a float."""
    values = [simulated(target, results, scale) for results in runs]
    if isinstance(target, YearlyTotal):
        return pd.concat(values, axis=1).mean(axis=1, skipna=False)
    return float(np.mean(values))


def target_loss(target, value) -> float:
    """The cost of a target's simulated value (see ``seeds_mean``)."""
    if isinstance(target, YearlyTotal):
        observed = DATA_SERIES[target.data]()
        years = [y for y in value.index if y in observed]
        if not years:
            return np.nan
        errors = np.array([value[y] / observed[y] - 1 for y in years])
    elif isinstance(target, Mean):
        errors = np.array([value / target.value - 1])
    else:
        errors = np.array([min(0.0, value / target.low - 1) + max(0.0, value / target.high - 1)])
    excess = np.maximum(np.abs(errors) - target.tolerance, 0)
    if not np.isfinite(excess).all():
        return 1e6
    return float(np.mean(excess**2 + CENTRING * errors**2))


def loss(targets: list, runs: list[pd.DataFrame], scale: float) -> float:
    """The weighted mean cost of the targets, each judged on the runs' (seeds') mean."""
    weights = np.array([t.weight for t in targets])
    losses = np.array([target_loss(t, seeds_mean(t, runs, scale)) for t in targets])
    return float((weights * losses).sum() / weights.sum())


def check_inputs(
    base: Scenario,
    params,
    targets,
    trials: int,
    seeds: int = 1,
    span: float = 1.0,
    replicates: int = 1,
):
    """A calibration's inputs, checked before a study is made; returns the parameters' problem
    (bounds) and the targets."""
    spec = problem(params)
    target_list = load_targets(targets, base)
    checks.at_least("trials", trials, 1)
    checks.at_least("seeds", seeds, 1)
    checks.at_least("replicates", replicates, 1)
    if not 0 < span <= 1:
        raise checks.BadInput("span", "must be above 0 and at most 1", span)
    return spec, target_list


@dataclass
class Calibration:
    study: str
    best_params: dict[str, float]
    default_loss: float
    best_loss: float
    trials: int
    scenario_path: Path
    report_path: Path
    fit: pd.DataFrame  # every target (a row a year for a yearly one): see fit_table


def calibrate(
    scenario: str | Path,
    params: list[str],
    *,
    targets: str | Path | None = None,
    trials: int = 40,
    seeds: int = 3,
    span: float = 1.0,
    replicates: int = 1,
    batch: int | None = None,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Calibration:
    """Run ``trials`` more trials (the study with these settings resumes if it exists) and
    write the outputs; the fit report runs the scenario's values and the best ones on
    ``seeds`` seeds each. With ``span`` below 1, each parameter is searched within that
    fraction of its plausible range on either side of the scenario's value (a local
    refinement: a few dozen trials cannot cover a dozen whole ranges). Each trial runs
    ``replicates`` seeds (the first members' seeds of the scenario, the same for every trial,
    or the scenario's own seed for one) and is judged on their mean."""
    import optuna

    base = resolve(scenario, **run_options)
    spec, target_list = check_inputs(base, params, targets, trials, seeds, span, replicates)
    if batch is not None:
        checks.at_least("batch", batch, 1)
    if client is None:
        checks.cluster(workers, scheduler)
    name, settings = keyed(
        base.name,
        base,
        params=spec["names"],
        targets=[t.model_dump(mode="json") for t in target_list],
        sampler="TPE",
        span=span,
        # named only when above 1, so a one-seed study keeps the name it had before the option
        **({"replicates": replicates} if replicates > 1 else {}),
    )
    folder = Path(out) / "calibration" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.toml").write_text(tomli_w.dumps(settings))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{(folder / 'study.db').as_posix()}"
    opt = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction="minimize",
        sampler=optuna.samplers.TPESampler(seed=base.seed),
    )
    defaults = {p: float(getattr(getattr(base, p.split(".")[0]), p.split(".")[1])) for p in params}
    searched = [
        (max(low, defaults[p] - span * (high - low)), min(high, defaults[p] + span * (high - low)))
        for p, (low, high) in zip(params, spec["bounds"], strict=True)
    ]
    if not opt.trials:
        opt.enqueue_trial(defaults, user_attrs={"default": True})
    scale = base.population.effective_scale
    batch = batch or max(1, (workers or 2) // replicates)
    trial_seeds = [base.seed] if replicates == 1 else member_seeds(base.seed, replicates)

    with using_client(client, workers, scheduler) as c:
        done = 0
        while done < trials:
            asked = [opt.ask() for _ in range(min(batch, trials - done))]
            points = [
                [t.suggest_float(p, *bounds) for p, bounds in zip(params, searched, strict=True)]
                for t in asked
            ]
            scenarios = [
                with_overrides(point_scenario(base, params, np.array(v)), {"seed": seed})
                for v in points
                for seed in trial_seeds
            ]
            losses = _run_losses(c, scenarios, replicates, target_list, scale)
            for i, t in enumerate(asked):
                opt.tell(t, losses[i])
            done += len(asked)
            if progress:
                progress(done, trials)
        best = opt.best_trial
        runs = _report_runs(c, base, {"default": defaults, "best": best.params}, seeds)

    finished = [t for t in opt.trials if t.value is not None]
    default_trials = [t for t in finished if t.user_attrs.get("default")]
    default_loss = default_trials[0].value if default_trials else np.nan
    scenario_path = _write_scenario(folder, scenario, base, best.params)
    table = fit_table(target_list, runs, scale)
    table.to_csv(folder / "fit.csv", index=False)
    report_path = _write_report(
        folder, base, defaults, best.params, default_loss, best.value, len(finished), table
    )
    _plot_fit(folder / "fit.png", target_list, runs, scale)
    return Calibration(
        name,
        dict(best.params),
        default_loss,
        best.value,
        len(finished),
        scenario_path,
        report_path,
        table,
    )


def _run_losses(client, scenarios: list[Scenario], replicates: int, targets: list, scale: float):
    """The loss of each trial, whose ``replicates`` runs follow one another in ``scenarios``."""
    runs: list = [None] * len(scenarios)

    def keep(i: int, results: pd.DataFrame, _wall: float) -> None:
        runs[i] = results

    run_batch(client, scenarios, keep)
    return [
        loss(targets, runs[i : i + replicates], scale) for i in range(0, len(scenarios), replicates)
    ]


def _write_scenario(folder: Path, spec, base: Scenario, best: dict[str, float]) -> Path:
    """A scenario that extends the original and sets the best values."""
    sections: dict[str, dict] = {}
    for key, value in best.items():
        section, name = key.split(".")
        current = getattr(getattr(base, section), name)
        sections.setdefault(section, {})[name] = (
            int(round(value)) if isinstance(current, int) else value
        )
    if isinstance(spec, Scenario):  # no file to extend: save the resolved original beside it
        (folder / "original.toml").write_text(scenario_to_toml(spec))
        extends = "original.toml"
    elif Path(str(spec)).suffix == ".toml":
        extends = str(Path(spec).resolve())
    else:
        extends = str(spec)
    document = {
        "name": f"{base.name}_calibrated",
        "description": f"{base.name} with parameters fitted by jangmadang calibrate",
        "extends": extends,
        **sections,
    }
    path = folder / "calibrated.toml"
    path.write_text(tomli_w.dumps(document))
    return path


def _report_runs(client, base: Scenario, values: dict[str, dict], seeds: int) -> dict:
    """Results of each set of values (label -> parameter values) on ``seeds`` seeds, the same
    for every set: label -> list of results."""
    labels = list(values)
    scenarios = [
        with_overrides(point_scenario(base, list(v), np.array(list(v.values()))), {"seed": seed})
        for v in values.values()
        for seed in member_seeds(base.seed, seeds)
    ]
    runs: dict[str, list] = {label: [None] * seeds for label in labels}

    def keep(i: int, results: pd.DataFrame, _wall: float) -> None:
        runs[labels[i // seeds]][i % seeds] = results

    run_batch(client, scenarios, keep)
    return runs


def fit_table(targets: list, runs: dict[str, list], scale: float) -> pd.DataFrame:
    """Each target against the runs (``runs["best"]``, a list over seeds, and optionally
    ``runs["default"]``, the scenario's values): observed, the band it may lie in (observed
    widened by the tolerance), the mean over seeds with its 90% band (5th to 95th
    percentile), and whether the best values' mean is inside. A yearly target has a row a
    year."""
    rows = []
    for t in targets:
        sims = {label: [simulated(t, r, scale) for r in results] for label, results in runs.items()}
        observed = _observed(t)
        if isinstance(t, YearlyTotal):
            items = [
                (
                    str(y),
                    float(observed[y]),
                    {k: [s.get(y, np.nan) for s in v] for k, v in sims.items()},
                )
                for y in observed.index
            ]
        else:
            items = [("", observed, sims)]
        for when, value, by_label in items:
            if isinstance(t, Range):
                low, high = t.low * (1 - t.tolerance), t.high * (1 + t.tolerance)
                shown = f"{t.low:g}-{t.high:g}"
            else:
                low, high = value * (1 - t.tolerance), value * (1 + t.tolerance)
                low, high = min(low, high), max(low, high)
                shown = f"{value:.4g}"
            best = np.array(by_label["best"], dtype=float)
            default = np.array(by_label.get("default", [np.nan]), dtype=float)
            rows.append(
                {
                    "target": t.name,
                    "year": when,
                    "observed": shown,
                    "low": low,
                    "high": high,
                    "default": float(np.mean(default)),
                    "best": float(np.mean(best)),
                    "best_5": float(np.percentile(best, 5)),
                    "best_95": float(np.percentile(best, 95)),
                    "inside": bool(low <= np.mean(best) <= high),
                    "source": t.source,
                }
            )
    return pd.DataFrame(rows)


def _write_report(folder, base, defaults, best, default_loss, best_loss, n_trials, table) -> Path:
    lines = [
        f"# Calibration of {base.name}",
        "",
        f"{n_trials} trials; loss {default_loss:.4g} with the scenario's values, "
        f"{best_loss:.4g} at the best.",
        "",
        "| parameter | scenario value | best |",
        "|---|---:|---:|",
        *(f"| {p} | {defaults[p]:.4g} | {best[p]:.4g} |" for p in defaults),
        "",
        "Each target with the best values: the mean over the seeds and its 90% band; inside "
        "when the mean lies within the observation widened by the target's tolerance.",
        "",
        fit_markdown(table),
    ]
    path = folder / "fit.md"
    path.write_text("\n".join(lines))
    return path


def fit_markdown(table: pd.DataFrame) -> str:
    """The fit table as Markdown: a row a target (a row a year for a yearly one)."""
    both = table.default.notna().any()  # else only one set of values was run
    lines = [
        f"{int(table.inside.sum())} of {len(table)} rows inside their tolerance.",
        "",
        "| target | observed | tolerated |"
        + (" scenario's values | best (90% band) |" if both else " simulated (90% band) |")
        + " inside |",
        "|---|---:|---:|" + ("---:|" if both else "") + "---:|:---:|",
    ]
    for row in table.itertuples():
        name = f"{row.target} {row.year}".strip()
        default = f" {row.default:.4g} |" if both else ""
        lines.append(
            f"| {name} | {row.observed} | {row.low:.4g}-{row.high:.4g} |{default} "
            f"{row.best:.4g} ({row.best_5:.4g}-{row.best_95:.4g}) | "
            f"{'yes' if row.inside else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def _observed(target):
    if isinstance(target, YearlyTotal):
        first, last = target.years
        return pd.Series(
            {y: v for y, v in DATA_SERIES[target.data]().items() if first <= y <= last}
        )
    if isinstance(target, Mean):
        return target.value
    return f"{target.low:g}-{target.high:g}"


def _plot_fit(path: Path, targets: list, runs: dict, scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 3), squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
        observed = _observed(t)
        if isinstance(t, YearlyTotal):
            ax.plot(observed.index, observed.values, "s", color="black", ms=3, label="observed")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            for label, style in (("default", "--"), ("best", "-")):
                seeds = pd.concat([simulated(t, r, scale) for r in runs[label]], axis=1)
                ax.plot(seeds.index, seeds.mean(axis=1), style, label=label)
                if label == "best":
                    low, high = seeds.quantile(0.05, axis=1), seeds.quantile(0.95, axis=1)
                    ax.fill_between(seeds.index, low, high, alpha=0.2, label="90% band")
        else:
            values = [np.mean([simulated(t, r, scale) for r in runs[k]]) for k in runs]
            ax.bar(list(runs), values, color=["tab:grey", "tab:blue"])
            if isinstance(t, Mean):
                ax.axhline(t.value, color="black", lw=1, label="observed")
            else:
                ax.axhspan(t.low, t.high, color="black", alpha=0.1, label="observed range")
        ax.set_title(t.name, fontsize=9)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
