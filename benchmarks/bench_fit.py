"""The calibration targets with the defaults (issue 15): the history scenario at 1 million
persons, 2001-2019, three seeds, every target of ``jangmadang/data/targets.toml`` with the
mean over seeds, its 90% band and whether it lies inside the target's tolerance.

    python benchmarks/bench_fit.py                       # 1,000,000 persons, 3 seeds, 2 workers
    python benchmarks/bench_fit.py --population 200000 --seeds 2

Results go to ``benchmarks/results/fit.csv`` and ``fit.md`` (``--output`` to change the folder).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from jangmadang.experiments import dask_client, member_seeds
from jangmadang.experiments.calibration import fit_markdown, fit_table, load_targets
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.runner import run_batch
from jangmadang.scenario import with_overrides

OUTPUT = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=1_000_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()

    base = resolve("history", population=args.population, end="2019-12")
    targets = load_targets(None, base)
    scenarios = [
        with_overrides(base, {"seed": seed}) for seed in member_seeds(base.seed, args.seeds)
    ]
    runs = [None] * len(scenarios)

    def keep(i, results, wall):
        runs[i] = results
        print(f"seed {scenarios[i].seed}: {wall:.0f} s", flush=True)

    started = time.perf_counter()
    with dask_client(args.workers) as client:
        run_batch(client, scenarios, keep)
    table = fit_table(targets, {"best": runs}, base.population.effective_scale)
    command = "python benchmarks/bench_fit.py" + (
        f" --population {args.population} --seeds {args.seeds}"
        if (args.population, args.seeds) != (1_000_000, 3)
        else ""
    )
    text = (
        f"Made with `{command}` ({args.seeds} seeds at {args.population:,} persons, "
        f"{time.perf_counter() - started:.0f} s on {args.workers} workers).\n\n"
        + fit_markdown(table)
    )
    args.output.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output / "fit.csv", index=False)
    (args.output / "fit.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
