"""Calibration with Optuna: fit chosen parameters to observed targets.

The targets file (``jangmadang/data/targets.toml`` is the shipped one) lists observations with
weights and tolerances; a run's loss is the weighted mean of each target's squared relative
error beyond its tolerance. Parameters vary within their plausible ranges from the evidence
ledger. Optuna's TPE sampler proposes trials a batch at a time, each batch runs as Dask tasks,
and every trial is kept in an SQLite study in the output folder, so an interrupted calibration
resumes where it stopped. The scenario's own values are always the first trial, so the fit
report shows how far the calibration moved from them.

Outputs (``OUT/calibration/<study>/``): ``calibrated.toml``, a scenario that extends the
original with the best values; ``fit.md``, the fit report; ``fit.png``, simulated against
observed for the default and the best values.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import tomli_w

from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import run_batch, using_client
from jangmadang.experiments.sensitivity import point_scenario, problem
from jangmadang.modules.defection import load_arrivals
from jangmadang.scenario import Scenario
from jangmadang.store import scenario_to_toml

DATA_SERIES = {"arrivals": load_arrivals}
KINDS = ("yearly_total", "mean", "range")


class TargetsError(ValueError):
    pass


def load_targets(path: str | Path | None = None) -> list[dict]:
    """Targets from a TOML file (default: the shipped ``targets.toml``), checked."""
    if path is None:
        text = resources.files("jangmadang.data").joinpath("targets.toml").read_text()
        shown = "targets.toml"
    else:
        path = Path(path)
        if not path.is_file():
            raise TargetsError(f"{path}: no such targets file")
        text, shown = path.read_text(), str(path)
    try:
        targets = tomllib.loads(text).get("targets", [])
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{shown}: not valid TOML ({exc})") from None
    if not targets:
        raise TargetsError(f"{shown}: no [[targets]]")
    needed = {
        "yearly_total": ("data", "years"),
        "mean": ("window", "value"),
        "range": ("window", "low", "high"),
    }
    for i, t in enumerate(targets):
        kind = t.get("kind")
        if kind not in KINDS:
            raise TargetsError(f"{shown}: targets[{i}].kind: must be one of {', '.join(KINDS)}")
        for key in ("name", "indicator", *needed[kind]):
            if key not in t:
                raise TargetsError(f"{shown}: targets[{i}].{key}: missing")
        if kind == "yearly_total" and t["data"] not in DATA_SERIES:
            raise TargetsError(f"{shown}: targets[{i}].data: unknown series {t['data']!r}")
    return targets


def simulated(target: dict, results: pd.DataFrame, scale: float):
    """The simulated counterpart of a target: yearly totals at 1:1 (a Series by year) or a
    window mean (a float)."""
    national = results[(results.indicator == target["indicator"]) & (results.dimension == "all")]
    if target["kind"] == "yearly_total":
        first, last = target["years"]
        by_year = national.groupby(national.date.dt.year)["value"].agg(["sum", "count"])
        by_year = by_year[
            (by_year["count"] == 12) & (by_year.index >= first) & (by_year.index <= last)
        ]
        return by_year["sum"] / scale
    start, end = target["window"]
    window = national[(national.date >= start) & (national.date <= end)]
    return float(window.value.mean()) if len(window) else np.nan


def target_loss(target: dict, results: pd.DataFrame, scale: float) -> float:
    tolerance = float(target.get("tolerance", 0.0))
    value = simulated(target, results, scale)
    if target["kind"] == "yearly_total":
        observed = DATA_SERIES[target["data"]]()
        years = [y for y in value.index if y in observed]
        if not years:
            return np.nan
        errors = np.array([value[y] / observed[y] - 1 for y in years])
    elif target["kind"] == "mean":
        errors = np.array([value / target["value"] - 1])
    else:
        low, high = target["low"], target["high"]
        errors = np.array([min(0.0, value / low - 1) + max(0.0, value / high - 1)])
    excess = np.maximum(np.abs(errors) - tolerance, 0)
    return float(np.mean(excess**2)) if np.isfinite(excess).all() else 1e6


def loss(targets: list[dict], results: pd.DataFrame, scale: float) -> float:
    weights = np.array([float(t.get("weight", 1.0)) for t in targets])
    losses = np.array([target_loss(t, results, scale) for t in targets])
    return float((weights * losses).sum() / weights.sum())


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
    study: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Calibration:
    """Run ``trials`` more trials (the study resumes if it exists) and write the outputs."""
    import optuna

    target_list = load_targets(targets)
    base = resolve(scenario, **run_options)
    spec = problem(params)
    name = study or f"{base.name}-{'-'.join(p.split('.')[-1] for p in params)}"
    folder = Path(out) / "calibration" / name
    folder.mkdir(parents=True, exist_ok=True)
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


def _run_losses(client, scenarios: list[Scenario], targets: list[dict], scale: float):
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
        lines.append(f"| {t['name']} | {shown[0]} | {shown[1]} | {shown[2]} | {change} |")
    path = folder / "fit.md"
    path.write_text("\n".join(lines) + "\n")
    _plot_fit(folder / "fit.png", targets, runs, scale)
    return path


def _observed(target: dict):
    if target["kind"] == "yearly_total":
        first, last = target["years"]
        return pd.Series(
            {y: v for y, v in DATA_SERIES[target["data"]]().items() if first <= y <= last}
        )
    if target["kind"] == "mean":
        return target["value"]
    return f"{target['low']}-{target['high']}"


def _brief(value) -> str:
    if isinstance(value, pd.Series):
        return f"{value.sum():,.0f} in {len(value)} years" if len(value) else "-"
    return value if isinstance(value, str) else f"{value:.3g}"


def _plot_fit(path: Path, targets: list[dict], runs: dict, scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(targets), figsize=(4 * len(targets), 3), squeeze=False)
    for ax, t in zip(axes[0], targets, strict=True):
        observed = _observed(t)
        if t["kind"] == "yearly_total":
            ax.plot(observed.index, observed.values, "s", color="black", ms=3, label="observed")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            for label, style in (("default", "--"), ("best", "-")):
                series = simulated(t, runs[label], scale)
                ax.plot(series.index, series.values, style, label=label)
        else:
            values = [simulated(t, runs[k], scale) for k in ("default", "best")]
            ax.bar(["default", "best"], values, color=["tab:grey", "tab:blue"])
            if t["kind"] == "mean":
                ax.axhline(t["value"], color="black", lw=1, label="observed")
            else:
                ax.axhspan(t["low"], t["high"], color="black", alpha=0.1, label="observed range")
        ax.set_title(t["name"], fontsize=9)
        ax.legend(fontsize=6)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
