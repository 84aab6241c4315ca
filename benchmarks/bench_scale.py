"""Scale benchmark: build and run the baseline scenario at several population sizes.

Each size runs in its own subprocess, so the peak resident memory reported for a size is that
size's alone. The child times the population build (``Sim(...).init()``) and the run, and times
every module's ``step`` and ``record`` (plus the sim's own economy indicators and the ledger
check) so a slow month can be traced to its mechanism. It also measures the floor: one float32
uniform draw per person plus one pass over a float32 value per person, the least a month that
touches everyone can cost on this machine at this moment; the month's time as a multiple of it
is comparable across machines and loads.

    python benchmarks/bench_scale.py                        # 100k, 1M and 24M persons (1:1)
    python benchmarks/bench_scale.py --sizes 100000 1000000 --months 6

Results go to ``benchmarks/results/scale.json`` (``--output`` to change) and a table is printed.
Note that a run also simulates the scenario's burn-in months (24 in the baseline) before its
first recorded month; "months simulated" counts both, and per-month figures divide by it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (100_000, 1_000_000, 24_000_000)  # the last: about 1:1 in 2010-01
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "scale.json"
PARTS_SHOWN = 8  # slowest parts printed per size


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mib() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return None


# --------------------------------------------------------------------------------------------
# Child: one size, one run, one JSON line on stdout.


def _timed(fn, key: str, timings: dict[str, float]):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timings[key] += time.perf_counter() - started

    return wrapper


def floor_seconds(n: int, repeats: int = 5) -> tuple[float, float]:
    """Best of ``repeats`` times of one float32 uniform draw for ``n`` persons and of one pass
    over ``n`` float32 values (read and written in place)."""
    import numpy as np

    rng = np.random.default_rng(0)
    values = np.empty(n, dtype=np.float32)
    draws, passes = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        rng.random(n, dtype=np.float32, out=values)
        draws.append(time.perf_counter() - started)
        started = time.perf_counter()
        np.multiply(values, np.float32(0.5), out=values)
        passes.append(time.perf_counter() - started)
    return min(draws), min(passes)


def run_child(args: argparse.Namespace) -> dict:
    import jangmadang
    from jangmadang.timeline import add_months, format_month, parse_month

    start = parse_month(args.start)
    end = add_months(start, args.months - 1)
    rss_after_import = peak_rss_mib()
    # Before the build, so its array does not add to the peak memory.
    floor_draw, floor_pass = floor_seconds(args.size)

    started = time.perf_counter()
    sim = jangmadang.Sim(
        args.scenario,
        population=args.size,
        seed=args.seed,
        start=format_month(start),
        end=format_month(end),
    )
    sim.init()
    build_seconds = time.perf_counter() - started
    rss_after_build = peak_rss_mib()
    state_mib = (sim.people.nbytes + sim.households.nbytes) / 2**20

    # Time each module's step and record, the sim's economy indicators and the ledger check.
    timings: dict[str, float] = defaultdict(float)
    for module in sim.modules:
        module.step = _timed(module.step, f"{module.name}.step", timings)
        module.record = _timed(module.record, f"{module.name}.record", timings)
    sim._record_economy = _timed(sim._record_economy, "sim.record_economy", timings)
    rebuilds: list[float] = []  # the demography's yearly rebuild of the arrays, each time
    if hasattr(sim, "demography"):
        rebuild = sim.demography._rebuild

        def timed_rebuild():
            started = time.perf_counter()
            rebuild()
            rebuilds.append(time.perf_counter() - started)

        sim.demography._rebuild = timed_rebuild
    sim.ledger.check = _timed(sim.ledger.check, "ledger.check", timings)
    month_seconds: list[float] = []
    original_step = sim.step

    def step(t, month):
        started = time.perf_counter()
        original_step(t, month)
        month_seconds.append(time.perf_counter() - started)

    sim.step = step

    started = time.perf_counter()
    sim.run()
    run_seconds = time.perf_counter() - started
    rows = len(sim.results)

    months_simulated = len(sim.scenario.burn_in) + len(sim.months)
    persons = int(sim.people.n)
    floor = floor_draw + floor_pass
    return {
        "size": args.size,
        "persons": persons,
        "households": int(sim.households.n),
        "scenario": args.scenario,
        "seed": sim.seed,
        "start": format_month(start),
        "end": format_month(end),
        "months": len(sim.months),
        "burn_in_months": len(sim.scenario.burn_in),
        "months_simulated": months_simulated,
        "build_seconds": build_seconds,
        "run_seconds": run_seconds,
        "seconds_per_month": run_seconds / months_simulated,
        "slowest_month_seconds": max(month_seconds),
        "median_month_seconds": statistics.median(month_seconds),
        "month_seconds": [round(s, 4) for s in month_seconds],
        "agent_steps_per_second": persons * months_simulated / run_seconds,
        "floor_seconds": floor,
        "floor_draw_seconds": floor_draw,
        "floor_pass_seconds": floor_pass,
        "month_over_floor": run_seconds / months_simulated / floor,
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_after_import_mib": rss_after_import,
        "peak_rss_after_build_mib": rss_after_build,
        "final_rss_mib": current_rss_mib(),
        "state_arrays_mib": state_mib,
        "result_rows": rows,
        "seconds_by_part": dict(sorted(timings.items(), key=lambda kv: -kv[1])),
        "rebuild_seconds": [round(s, 3) for s in rebuilds],
    }


# --------------------------------------------------------------------------------------------
# Parent: one subprocess per size, then JSON and a table.


def environment() -> dict:
    import numba
    import numpy

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    return {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "git_commit": commit,
        "git_dirty": dirty,
        "nproc": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_record(record: dict, path: Path) -> None:
    """Write a benchmark's figures as JSON with this machine's environment, and say where."""
    record = {**record, "environment": environment()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")


def run_size(args: argparse.Namespace, size: int) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--size",
        str(size),
        "--months",
        str(args.months),
        "--start",
        args.start,
        "--scenario",
        args.scenario,
        "--seed",
        str(args.seed),
    ]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"size": size, "error": f"timed out after {args.timeout} s"}
    wall = time.perf_counter() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout or "").strip().splitlines() or [""]
        return {
            "size": size,
            "error": f"exit code {proc.returncode}: {lines[-1]}",
            "output_tail": lines[-20:],
        }
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_seconds"] = wall
    result["process_cpu_seconds"] = (children_after.ru_utime - children_before.ru_utime) + (
        children_after.ru_stime - children_before.ru_stime
    )
    return result


def print_table(results: list[dict], env: dict) -> None:
    headers = [
        "persons",
        "months",
        "build s",
        "run s",
        "s/month",
        "agent-steps/s",
        "floor ms",
        "x floor",
        "peak RSS MiB",
    ]
    rows = []
    for r in results:
        if "error" in r:
            rows.append([f"{r['size']:,}", *["-"] * (len(headers) - 2), "failed"])
            continue
        rows.append(
            [
                f"{r['persons']:,}",
                f"{r['months']}+{r['burn_in_months']}",
                f"{r['build_seconds']:.2f}",
                f"{r['run_seconds']:.2f}",
                f"{r['seconds_per_month']:.3f}",
                f"{r['agent_steps_per_second']:.3g}",
                f"{1000 * r['floor_seconds']:.1f}",
                f"{r['month_over_floor']:.1f}",
                f"{r['peak_rss_mib']:,.0f}",
            ]
        )
    title = (
        f"jangmadang scale benchmark - commit {env['git_commit']}"
        f"{' (dirty)' if env['git_dirty'] else ''}, python {env['python']}, "
        f"numpy {env['numpy']}, {env['nproc']} cpus"
    )
    caption = (
        "months: recorded + burn-in; s/month over both; floor: one float32 uniform draw plus "
        "one pass over the population, measured in the same process"
    )
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # a plain table
        print(title)
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
        for row in rows:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        print(caption)
    else:
        table = Table(title=title, caption=caption)
        for h in headers:
            table.add_column(h, justify="right")
        for row in rows:
            table.add_row(*row)
        Console(width=max(100, Console().width)).print(table)
    for r in results:
        if "error" in r:
            print(f"{r['size']:,} persons failed: {r['error']}")
            continue
        parts = list(r["seconds_by_part"].items())[:PARTS_SHOWN]
        print(
            f"{r['persons']:,} persons, seconds per month by part: "
            + ", ".join(f"{part} {seconds / r['months_simulated']:.3f}" for part, seconds in parts)
        )
        if r.get("rebuild_seconds"):
            print(f"  yearly rebuilds of the population: {r['rebuild_seconds']} s")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=[str(n) for n in DEFAULT_SIZES],
        help="population sizes in persons, space- or comma-separated; 1e6 and 24_000_000 work "
        "too (default: 100000 1000000 24000000)",
    )
    parser.add_argument("--months", type=int, default=12, help="recorded months (default 12)")
    parser.add_argument("--start", default="2012-01", help="first recorded month (YYYY-MM)")
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds allowed per size (default: none)"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.sizes = [
            int(float(part.replace("_", "")))
            for item in args.sizes
            for part in item.split(",")
            if part.strip()
        ]
    except ValueError:
        parser.error(f"--sizes takes whole numbers of persons, got {' '.join(args.sizes)!r}")
    if not args.sizes or min(args.sizes) < 1:
        parser.error("--sizes must be positive")
    if args.months < 1:
        parser.error("--months must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args)))
        return 0

    env = environment()
    results = []
    for size in args.sizes:
        print(f"running {size:,} persons ...", file=sys.stderr, flush=True)
        result = run_size(args, size)
        results.append(result)
        if "error" in result:
            print(f"  failed: {result['error']}", file=sys.stderr)
        else:
            print(
                f"  build {result['build_seconds']:.2f} s, run {result['run_seconds']:.2f} s, "
                f"peak RSS {result['peak_rss_mib']:,.0f} MiB",
                file=sys.stderr,
            )
    report = {
        "benchmark": "scale",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "environment": env,
        "settings": {
            "scenario": args.scenario,
            "seed": args.seed,
            "start": args.start,
            "months": args.months,
        },
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results, env)
    print(f"wrote {args.output}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
