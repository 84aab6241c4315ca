"""Calibration with Optuna: fit chosen parameters to observed targets.

The targets file (``jangmadang/data/targets.toml`` is the shipped one) lists observations with
weights and tolerances; a run's loss is the weighted mean of each target's squared relative
error beyond its tolerance. Parameters vary within their plausible ranges from the evidence
ledger. Optuna's TPE sampler proposes trials a batch at a time, each batch runs as Dask tasks,
and every trial is kept in an SQLite study in the output folder, so an interrupted calibration
resumes where it stopped. The scenario's own values are always the first trial, so the fit
report shows how far the calibration moved from them.

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
from jangmadang.experiments.runner import keyed, run_batch, using_client
from jangmadang.experiments.sensitivity import point_scenario, problem
from jangmadang.module import ParameterModel
from jangmadang.modules.defection import load_arrivals
from jangmadang.scenario import Problem, Scenario, ScenarioError, _key, _reason
from jangmadang.store import scenario_to_toml
from jangmadang.timeline import Month, format_month

DATA_SERIES = {"arrivals": load_arrivals}
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


class Mean(_Target):
    """The mean of a national indicator over a window against a value."""

    kind: Literal["mean"]
    window: list[Month] = Field(min_length=2, max_length=2)
    value: float

    _window_ordered = field_validator("window")(_ordered)

    @field_validator("value")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0: the loss is the error relative to it")
        return value


class Range(_Target):
    """The same mean against a band ``[low, high]`` (no cost inside it)."""

    kind: Literal["range"]
    window: list[Month] = Field(min_length=2, max_length=2)
    low: float = Field(gt=0)  # errors are relative to the bounds
    high: float

    _window_ordered = field_validator("window")(_ordered)

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
        elif t.window[0] < scenario.start or t.window[1] > scenario.end:
            span = "..".join(map(format_month, t.window))
            problems.append((f"targets[{i}].window", f"{span} is not inside the run's {months}"))
    return problems


def simulated(target, results: pd.DataFrame, scale: float):
    """The simulated counterpart of a target: yearly totals at 1:1 (a Series by year) or a
    window mean (a float)."""
    national = results[(results.indicator == target.indicator) & (results.dimension == "all")]
    if isinstance(target, YearlyTotal):
        first, last = target.years
        by_year = national.groupby(national.date.dt.year)["value"].agg(["sum", "count"])
        by_year = by_year[
            (by_year["count"] == 12) & (by_year.index >= first) & (by_year.index <= last)
        ]
        return by_year["sum"] / scale
    start, end = (pd.Timestamp(month) for month in target.window)
    window = national[(national.date >= start) & (national.date <= end)]
    return float(window.value.mean()) if len(window) else np.nan


def target_loss(target, results: pd.DataFrame, scale: float) -> float:
    value = simulated(target, results, scale)
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
    return float(np.mean(excess**2)) if np.isfinite(excess).all() else 1e6


def loss(targets: list, results: pd.DataFrame, scale: float) -> float:
    weights = np.array([t.weight for t in targets])
    losses = np.array([target_loss(t, results, scale) for t in targets])
    return float((weights * losses).sum() / weights.sum())


def check_inputs(base: Scenario, params, targets, trials: int):
    """A calibration's inputs, checked before a study is made; returns the parameters' problem
    (bounds) and the targets."""
    spec = problem(params)
    target_list = load_targets(targets, base)
    checks.at_least("trials", trials, 1)
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


def calibrate(
    scenario: str | Path,
    params: list[str],
    *,
    targets: str | Path | None = None,
    trials: int = 40,
    batch: int | None = None,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Calibration:
    """Run ``trials`` more trials (the study with these settings resumes if it exists) and
    write the outputs."""
    import optuna

    base = resolve(scenario, **run_options)
    spec, target_list = check_inputs(base, params, targets, trials)
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
    if not opt.trials:
        opt.enqueue_trial(defaults, user_attrs={"default": True})
    scale = base.population.effective_scale
    batch = batch or max(1, workers or 2)

    with using_client(client, workers, scheduler) as c:
        done = 0
        while done < trials:
            asked = [opt.ask() for _ in range(min(batch, trials - done))]
            points = [
                [
                    t.suggest_float(p, *bounds)
                    for p, bounds in zip(params, spec["bounds"], strict=True)
                ]
                for t in asked
            ]
            scenarios = [point_scenario(base, params, np.array(v)) for v in points]
            losses = _run_losses(c, scenarios, target_list, scale)
            for i, t in enumerate(asked):
                opt.tell(t, losses[i])
            done += len(asked)
            if progress:
                progress(done, trials)

    finished = [t for t in opt.trials if t.value is not None]
    default_trials = [t for t in finished if t.user_attrs.get("default")]
    default_loss = default_trials[0].value if default_trials else np.nan
    best = opt.best_trial
    scenario_path = _write_scenario(folder, scenario, base, best.params)
    report_path = _write_report(
        folder,
        base,
        target_list,
        defaults,
        best.params,
        default_loss,
        best.value,
        len(finished),
        scale,
    )
    return Calibration(
        name, dict(best.params), default_loss, best.value, len(finished), scenario_path, report_path
    )


def _run_losses(client, scenarios: list[Scenario], targets: list, scale: float):
    losses: dict[int, float] = {}

    def keep(i: int, results: pd.DataFrame, _wall: float) -> None:
        losses[i] = loss(targets, results, scale)

    run_batch(client, scenarios, keep)
    return losses


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


def _write_report(
    folder, base, targets, defaults, best, default_loss, best_loss, n_trials, scale
) -> Path:
    """Rerun the default and best values once to show every target, simulated vs observed."""
    from jangmadang.sim import Sim

    runs = {
        "default": Sim(point_scenario(base, list(defaults), np.array(list(defaults.values()))))
        .run()
        .results,
        "best": Sim(point_scenario(base, list(best), np.array(list(best.values())))).run().results,
    }
    lines = [
        f"# Calibration of {base.name}",
        "",
        f"{n_trials} trials; loss {default_loss:.4g} with the scenario's values, {best_loss:.4g} at the best.",
        "",
        "| parameter | scenario value | best |",
        "|---|---:|---:|",
        *(f"| {p} | {defaults[p]:.4g} | {best[p]:.4g} |" for p in defaults),
        "",
        "| target | observed | default | best | loss (default -> best) |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in targets:
        observed = _observed(t)
        sim_default, sim_best = (simulated(t, runs[k], scale) for k in ("default", "best"))
        shown = [_brief(v) for v in (observed, sim_default, sim_best)]
        change = f"{target_loss(t, runs['default'], scale):.3g} -> {target_loss(t, runs['best'], scale):.3g}"
        lines.append(f"| {t.name} | {shown[0]} | {shown[1]} | {shown[2]} | {change} |")
    path = folder / "fit.md"
    path.write_text("\n".join(lines) + "\n")
    _plot_fit(folder / "fit.png", targets, runs, scale)
    return path


def _observed(target):
    if isinstance(target, YearlyTotal):
        first, last = target.years
        return pd.Series(
            {y: v for y, v in DATA_SERIES[target.data]().items() if first <= y <= last}
        )
    if isinstance(target, Mean):
        return target.value
    return f"{target.low:g}-{target.high:g}"


def _brief(value) -> str:
    if isinstance(value, pd.Series):
        return f"{value.sum():,.0f} in {len(value)} years" if len(value) else "-"
    return value if isinstance(value, str) else f"{value:.3g}"


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
                series = simulated(t, runs[label], scale)
                ax.plot(series.index, series.values, style, label=label)
        else:
            values = [simulated(t, runs[k], scale) for k in ("default", "best")]
            ax.bar(["default", "best"], values, color=["tab:grey", "tab:blue"])
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
