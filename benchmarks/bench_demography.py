"""Demography against its targets (issue 11): the baseline at 1 million persons, three seeds.

Reports the 2012-2019 means of the crude birth and death rates (per 1,000 a year), total
fertility and period life expectancy by sex; the 2021 population at 1:1 (the run's population
divided by its scale: a scaled run stands for the full one); and marriages per 1,000 unmarried
adults in 2023-2025 as a share of 2012-2014 (the pool of the unmarried renews).

    python benchmarks/bench_demography.py                 # 1,000,000 persons, seeds 1-3
    python benchmarks/bench_demography.py --population 200000 --seeds 1 2

Results go to ``benchmarks/results/demography.json`` (``--output`` to change).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

import jangmadang as jm

OUTPUT = Path(__file__).resolve().parent / "results" / "demography.json"
TARGETS = {  # issue 11's "done when"
    "crude_birth_rate": (12, 17),
    "crude_death_rate": (8, 11),
    "life_expectancy_male": (65.6 - 3, 68 + 3),
    "life_expectancy_female": (72.7 - 3, 76 + 3),
    "population_2021_at_1_to_1": (25_970_000 * 0.97, 25_970_000 * 1.03),
    "marriage_rate_late_over_early": (0.7, np.inf),
}


def measure(population: int, seed: int) -> dict:
    started = time.perf_counter()
    sim = jm.Sim("baseline", population=population, seed=seed).run()
    df = sim.results
    year = pd.to_datetime(df.date).dt.year

    def mean(indicator, years, dimension="all", group="all"):
        rows = df[
            (df.indicator == indicator)
            & (df.dimension == dimension)
            & (df.group == group)
            & year.between(*years)
        ]
        return float(rows.value.mean())

    window = (2012, 2019)
    return {
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
        "crude_birth_rate": mean("crude_birth_rate", window),
        "crude_death_rate": mean("crude_death_rate", window),
        "total_fertility_rate": mean("total_fertility_rate", window),
        "life_expectancy_male": mean("life_expectancy", window, "sex", "male"),
        "life_expectancy_female": mean("life_expectancy", window, "sex", "female"),
        "population_2021_at_1_to_1": mean("population", (2021, 2021))
        / sim.scenario.population.effective_scale,
        "marriage_rate_late_over_early": mean("marriages_per_1000_unmarried", (2023, 2025))
        / mean("marriages_per_1000_unmarried", (2012, 2014)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    runs = [measure(args.population, seed) for seed in args.seeds]
    summary = {}
    for key, (low, high) in TARGETS.items():
        value = float(np.mean([run[key] for run in runs]))
        summary[key] = {"mean": value, "target": [low, high], "met": bool(low <= value <= high)}
        print(f"{key:32s} {value:14,.2f}   target {low:,.1f} .. {high:,.1f}   "
              f"{'met' if low <= value <= high else 'NOT MET'}")  # fmt: skip
    fertility = float(np.mean([run["total_fertility_rate"] for run in runs]))
    print(f"{'total_fertility_rate':32s} {fertility:14,.2f}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "command": "python benchmarks/bench_demography.py"
                + (f" --population {args.population}" if args.population != 1_000_000 else ""),
                "population": args.population,
                "runs": runs,
                "summary": summary,
            },
            indent=1,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
