"""Which assumptions matter: a Morris screening over every assumption with a plausible range.

Most of the evidence ledger's parameter entries are labelled assumptions, each with a range.
Morris's elementary effects (SALib) rank them by how much they move the quantities the model is
judged on: the calibration targets and the indicators of the validation table, measured on one
history run per sample point (2001 onwards, so the transition's patterns count too). All points
share the scenario's seed (common random numbers), so differences come from the parameters.

Outputs differ in units, so each parameter's mu* on an output is divided by the spread of that
output over all the runs; a parameter's influence is the mean of these over the outputs, and
the output it moves most is named beside it.

Each finished run's outputs are appended to ``outputs.csv`` in the study's folder, so a
screening that stops resumes where it stopped: the sample is fixed by the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jangmadang import evidence
from jangmadang.experiments import checks
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import keyed, run_batch, using_client
from jangmadang.experiments.sensitivity import point_scenario, problem
from jangmadang.scenario import Scenario
from jangmadang.timeline import format_month, parse_month

# (output, national indicator, first month, last month): the targets of
# jangmadang/data/targets.toml and the indicators the validation table measures.
OUTPUTS = (
    ("arrivals 2001-2002", "arrivals_south_korea", "2001-01", "2002-12"),
    ("arrivals 2008-2009", "arrivals_south_korea", "2008-01", "2009-12"),
    ("arrivals 2012-2019", "arrivals_south_korea", "2012-01", "2019-12"),
    ("informal income share 2001-2002", "market_income_share", "2001-01", "2002-12"),
    ("informal income share 2016-2019", "market_income_share", "2016-01", "2019-12"),
    ("living mostly off markets 2017", "households_mostly_market_share", "2017-01", "2017-12"),
    ("food insecurity 2019", "food_insecure_share", "2019-01", "2019-12"),
    ("defectors remitting 2018", "defectors_sent_last_12_months_share", "2018-12", "2018-12"),
    ("remittance per remitter", "remittance_yearly_per_remitter_usd", "2015-01", "2019-12"),
    ("food price", "food_price_usd_per_kg", "2012-01", "2019-12"),
    ("private loyalty 2019", "private_loyalty", "2019-01", "2019-12"),
    ("compliance", "compliance", "2012-01", "2019-12"),
    ("mean cash", "cash_mean_usd", "2015-01", "2019-12"),
    ("households paying bribes", "households_paid_bribe_12m_share", "2015-01", "2019-12"),
    ("donju tied to secretaries", "donju_secretary_tie_share", "2015-01", "2019-12"),
    ("rations delivered", "ration_delivery_share", "2012-01", "2019-12"),
    ("births per 1,000", "crude_birth_rate", "2014-01", "2019-12"),
    ("deaths per 1,000", "crude_death_rate", "2014-01", "2019-12"),
)
DEFAULT_END = "2019-12"  # the last month any output needs


def assumptions() -> list[str]:
    """Every parameter labelled an assumption in the evidence ledger with a non-empty range,
    except those that set the size of a run."""
    entries, keys = evidence.load(), evidence.parameter_keys()
    return [
        key
        for key in keys
        if key in entries
        and entries[key].kind == "assumption"
        and entries[key].range is not None
        and entries[key].range[1] > entries[key].range[0]
        and key not in checks.SIZE_PARAMETERS
    ]


def outputs_of(results: pd.DataFrame) -> list[float]:
    """The screening's outputs of one run, in the order of ``OUTPUTS``."""
    national = results[results.dimension == "all"]
    values = []
    for _name, indicator, first, last in OUTPUTS:
        rows = national[
            (national.indicator == indicator)
            & (national.date >= pd.Timestamp(first))
            & (national.date <= pd.Timestamp(last))
        ]
        values.append(float(rows.value.mean()) if len(rows) else np.nan)
    return values


def check_inputs(base: Scenario, trajectories: int) -> Scenario:
    """A screening's inputs, checked before anything runs: enough trajectories, and runs
    that cover every output's months."""
    checks.at_least("trajectories", trajectories, 2, " (Morris needs two to estimate a spread)")
    first = min(parse_month(o[2]) for o in OUTPUTS)
    last = max(parse_month(o[3]) for o in OUTPUTS)
    if base.start > first:
        raise checks.BadInput(
            "start", f"the outputs begin in {format_month(first)}", format_month(base.start)
        )
    if base.end < last:
        raise checks.BadInput(
            "end", f"the outputs end in {format_month(last)}", format_month(base.end)
        )
    return base


@dataclass
class Screening:
    name: str
    settings: dict
    indices: pd.DataFrame  # parameter, output, mu_star, mu_star_conf, sigma, relative
    ranking: pd.DataFrame  # parameter, influence, moves_most, and the evidence's range


def screen(
    scenario: str | Path = "history",
    *,
    trajectories: int = 2,
    out: str | Path = "results",
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    progress=None,
    **run_options,
) -> Screening:
    """Morris screening of :func:`assumptions` on ``OUTPUTS`` (``trajectories`` x (k + 1)
    runs for k parameters); resumes from ``outputs.csv`` if the same screening ran before."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    if run_options.get("end") is None:
        run_options["end"] = DEFAULT_END
    base = check_inputs(resolve(scenario, **run_options), trajectories)
    if client is None:
        checks.cluster(workers, scheduler)
    params = assumptions()
    spec = problem(params)
    name, settings = keyed(
        f"{base.name}-morris",
        base,
        params=params,
        trajectories=trajectories,
        outputs=[list(o) for o in OUTPUTS],
    )
    folder = Path(out) / "screening" / name
    folder.mkdir(parents=True, exist_ok=True)
    points = sample.sample(spec, trajectories, seed=base.seed)
    stored = folder / "outputs.csv"
    columns = ["point", *(o[0] for o in OUTPUTS)]
    done = pd.read_csv(stored) if stored.exists() else pd.DataFrame(columns=columns)
    seen = set(done.point)
    todo = [i for i in range(len(points)) if i not in seen]
    if not stored.exists():
        done.to_csv(stored, index=False)
    finished = len(points) - len(todo)

    def keep(j: int, results: pd.DataFrame, _wall: float) -> None:
        nonlocal finished
        row = pd.DataFrame([[todo[j], *outputs_of(results)]], columns=columns)
        row.to_csv(stored, mode="a", header=False, index=False)
        finished += 1
        if progress:
            progress(finished, len(points))

    scenarios = [point_scenario(base, params, points[i]) for i in todo]
    with using_client(client, workers, scheduler) as c:
        run_batch(c, scenarios, keep)
    values = pd.read_csv(stored).drop_duplicates("point").set_index("point").sort_index()
    rows = []
    for output, _indicator, _first, _last in OUTPUTS:
        y = values[output].to_numpy()
        spread = np.nanstd(y)
        result = analyze.analyze(spec, points, y, seed=base.seed)
        for k, key in enumerate(params):
            mu_star = float(result["mu_star"][k])
            rows.append(
                {
                    "parameter": key,
                    "output": output,
                    "mu_star": mu_star,
                    "mu_star_conf": float(result["mu_star_conf"][k]),
                    "sigma": float(result["sigma"][k]),
                    "relative": mu_star / spread if spread > 0 else 0.0,
                }
            )
    indices = pd.DataFrame(rows)
    return Screening(name, settings, indices, rank(indices))


def rank(indices: pd.DataFrame) -> pd.DataFrame:
    """Parameters by influence (mean relative mu* over outputs), with the output each moves
    most and its range in the evidence ledger."""
    entries = evidence.load()
    by_parameter = indices.groupby("parameter")
    ranking = pd.DataFrame(
        {
            "influence": by_parameter["relative"].mean(),
            "moves_most": indices.loc[by_parameter["relative"].idxmax(), ["parameter", "output"]]
            .set_index("parameter")
            .output,
        }
    ).sort_values("influence", ascending=False)
    ranking["range"] = [list(entries[key].range) for key in ranking.index]
    return ranking.reset_index(names="parameter")


def ranking_markdown(ranking: pd.DataFrame, command: str, top: int = 10) -> str:
    """The ``top`` most influential assumptions as Markdown, each marked fitted (by the joint
    calibration, ``calibration.FITTED``), sourced (the ledger now gives it a source other than
    an assumption) or neither."""
    from jangmadang.experiments.calibration import FITTED

    entries = evidence.load()
    lines = [
        f"Made with `{command}`.",
        "",
        "| rank | assumption | influence | moves most | range | fitted or sourced |",
        "|---:|---|---:|---|---|---|",
    ]
    for i, row in enumerate(ranking.head(top).itertuples(), 1):
        low, high = row.range
        entry = entries[row.parameter]
        if row.parameter in FITTED:
            status = "fitted"
        elif entry.kind != "assumption":
            status = f"sourced ({entry.source})"
        else:
            status = "neither"
        lines.append(
            f"| {i} | {row.parameter} | {row.influence:.3g} | {row.moves_most} | "
            f"{low:g}-{high:g} | {status} |"
        )
    return "\n".join(lines) + "\n"
