"""Snapshot cost: writing and reading the whole state, at full scale by default.

    python benchmarks/bench_snapshot.py [--population 24000000] [--folder /tmp/jm-snapshot]

Builds the baseline at the given size (no burn-in), runs its first month, saves a snapshot,
loads it in the same process, and runs one more month from both the original and the loaded
copy to check they agree. Reports seconds to save and to load, the snapshot's size on disk
and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import time
from pathlib import Path

from bench_scale import write_record  # run as a script: benchmarks/ is on the path
from pandas.testing import assert_frame_equal

import jangmadang as jm
from jangmadang.experiments.ensemble import resolve
from jangmadang.scenario import with_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=24_000_000)  # about 1:1 in 2010
    parser.add_argument("--folder", type=Path, default=Path("/tmp/jm-snapshot"))
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "snapshot.json"
    )
    args = parser.parse_args()
    scenario = with_overrides(
        resolve("baseline", population=args.population, start="2012-01", end="2012-02"),
        {"burn_in_months": 0},
    )
    sim = jm.Sim(scenario).run(until="2012-01")
    shutil.rmtree(args.folder, ignore_errors=True)
    started = time.perf_counter()
    sim.save(args.folder)
    save_seconds = time.perf_counter() - started
    size = sum(f.stat().st_size for f in args.folder.rglob("*") if f.is_file())
    started = time.perf_counter()
    loaded = jm.Sim.load(args.folder)
    load_seconds = time.perf_counter() - started
    identical = True
    try:
        assert_frame_equal(sim.run().results, loaded.run().results)
    except AssertionError:
        identical = False
    shutil.rmtree(args.folder, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.population:,} persons: save {save_seconds:.2f} s, load {load_seconds:.2f} s, "
        f"{size / 2**20:,.0f} MiB on disk; continued runs identical: {identical}"
    )
    record = {
        "benchmark": "snapshot",
        "command": "python benchmarks/bench_snapshot.py",
        "population": args.population,
        "save_seconds": round(save_seconds, 2),
        "load_seconds": round(load_seconds, 2),
        "snapshot_mib": round(size / 2**20, 1),
        "peak_rss_mib_two_copies": round(peak),
        "identical_after_one_month": identical,
    }
    write_record(record, args.output)


if __name__ == "__main__":
    main()
