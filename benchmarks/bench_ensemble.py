"""Ensemble speed-up on Dask: the same 16-member ensemble on 1 and on 2 worker processes.

    python benchmarks/bench_ensemble.py [--runs 16] [--population 100000]

Each configuration runs in a fresh results folder and its own LocalCluster (single-threaded
worker processes), timed from submitting the ensemble to the last member stored. The members'
results are also compared: they must be identical whatever the number of workers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_scale import write_record  # run as a script: benchmarks/ is on the path

from jangmadang.experiments import member_results, run_ensemble
from jangmadang.store import ResultsStore


def timed_ensemble(workers: int, runs: int, population: int, folder: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    ensemble_id = run_ensemble("baseline", runs, out=folder, workers=workers, population=population)
    seconds = time.perf_counter() - started
    return seconds, member_results(ResultsStore(folder), ensemble_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "ensemble.json"
    )
    args = parser.parse_args()
    timings, members = {}, {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            timings[workers], members[workers] = timed_ensemble(
                workers, args.runs, args.population, Path(folder)
            )
        print(f"{workers} worker(s): {timings[workers]:.1f} s for {args.runs} runs")
    identical = all(
        members[1][m].drop(columns="run_id").equals(members[2][m].drop(columns="run_id"))
        for m in members[1]
    )
    speedup = timings[1] / timings[2]
    print(f"speed-up on 2 workers: {speedup:.2f}x; results identical: {identical}")
    record = {
        "benchmark": "ensemble",
        "command": "python benchmarks/bench_ensemble.py",
        "runs": args.runs,
        "population": args.population,
        "seconds": {str(k): round(v, 2) for k, v in timings.items()},
        "speedup_2_workers": round(speedup, 2),
        "identical_results": identical,
    }
    write_record(record, args.output)


if __name__ == "__main__":
    main()
