"""Forks: `compare baseline no_border_closure` with the shared history run once.

    python benchmarks/bench_forks.py [--runs 4] [--population 100000] [--workers 2]

Times, on one Dask cluster, the two ensembles of a comparison run separately (as `compare`
did before forks: every member runs 2012-2025 plus the burn-in) and as paired ensembles that
run 2010-2019 once per seed and fork at 2020-01, the first month the scenarios differ. Each
configuration writes to a fresh results folder; the members' results are compared and must
be identical. Upper bound of the speed-up in simulated months: (24 + 168) x 2 / (24 + 168 + 72)
= 1.45 for this pair.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_scale import write_record  # run as a script: benchmarks/ is on the path

from jangmadang.experiments.ensemble import member_results, resolve, run_ensemble
from jangmadang.experiments.paired import run_paired
from jangmadang.experiments.runner import dask_client
from jangmadang.scenario import with_overrides
from jangmadang.store import ResultsStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "forks.json"
    )
    args = parser.parse_args()
    base = resolve("baseline", population=args.population)
    alt = with_overrides(
        resolve("no_border_closure", population=args.population), {"seed": base.seed}
    )
    seconds, stored = {}, {}
    with dask_client(args.workers) as client:
        client.submit(sum, [1]).result()  # workers up before timing
        for how in ("separate", "forked"):
            with tempfile.TemporaryDirectory() as folder:
                started = time.perf_counter()
                if how == "separate":
                    ids = [
                        run_ensemble(s, args.runs, out=folder, client=client) for s in (base, alt)
                    ]
                else:
                    ids = run_paired([base, alt], args.runs, out=folder, client=client)
                seconds[how] = time.perf_counter() - started
                store = ResultsStore(folder)
                stored[how] = [member_results(store, i) for i in ids]
            print(f"{how}: {seconds[how]:.1f} s for {args.runs} seeds x 2 scenarios")
    identical = all(
        stored["separate"][s][m]
        .drop(columns="run_id")
        .equals(stored["forked"][s][m].drop(columns="run_id"))
        for s in range(2)
        for m in range(args.runs)
    )
    speedup = seconds["separate"] / seconds["forked"]
    print(f"speed-up with forks: {speedup:.2f}x; results identical: {identical}")
    record = {
        "benchmark": "forks",
        "command": "python benchmarks/bench_forks.py",
        "runs": args.runs,
        "population": args.population,
        "workers": args.workers,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "speedup": round(speedup, 2),
        "identical_results": identical,
    }
    write_record(record, args.output)


if __name__ == "__main__":
    main()
