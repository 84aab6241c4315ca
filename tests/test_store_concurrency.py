"""Many processes write one results folder while another reads it: eight ``jangmadang run``
processes, four processes storing the same ensemble members, and a reader looping over
``runs`` and ``query``. Every run is catalogued once, nobody sees a half-written run, and no
process fails."""

import subprocess
import sys
import textwrap

import pytest

from jangmadang.store import ResultsStore

RUNS = 8
MEMBER_WRITERS = 4
MEMBERS = 4

CLI = "from jangmadang.cli import app; app(prog_name='jangmadang')"

MEMBER_WRITER = """
import sys
import pandas as pd
from jangmadang.scenario import load_scenario, with_overrides
from jangmadang.store import ResultsStore

out, order = sys.argv[1], [int(m) for m in sys.argv[2].split(",")]
store = ResultsStore(out)
base = load_scenario("baseline", {"population.persons": 2000, "start": "2012-01", "end": "2012-02"})
store.open_ensemble("ens", base)
for member in order:
    results = pd.DataFrame({
        "date": pd.to_datetime(["2012-01-01", "2012-02-01"]),
        "indicator": "population", "dimension": "all", "group": "all",
        "value": [float(member), float(member)],
    })
    store.save_member("ens", member, with_overrides(base, {"seed": 100 + member}), results, 0.1)
"""

READER = """
import pathlib, sys, time
from jangmadang.store import NoCatalog, ResultsStore

out, stop = sys.argv[1], pathlib.Path(sys.argv[2])
store, loops = ResultsStore(out), 0
while not stop.exists():
    try:
        listing = store.runs()
    except NoCatalog:
        time.sleep(0.05)
        continue
    seen = store.query(
        "SELECT (SELECT count(*) FROM runs WHERE status = 'completed') AS done, "
        "(SELECT count(DISTINCT run_id) FROM results) AS seen, "
        "(SELECT count(*) FROM results) AS rows_"
    ).iloc[0]
    assert seen.done == seen.seen, seen  # a completed run has all its results, others none
    assert listing.run_id.is_unique
    loops += 1
print(loops)
"""


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    stop = out.parent / f"{out.name}.stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(READER), str(out), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tiny = ["--population", "2000", "--start", "2012-01", "--end", "2012-02", "--no-plot"]
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CLI, "run", *tiny, "--seed", str(seed), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(RUNS)
    ]
    orders = [",".join(str((m + k) % MEMBERS) for m in range(MEMBERS)) for k in range(4)]
    writers += [
        subprocess.Popen(
            [sys.executable, "-c", MEMBER_WRITER, str(out), order],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for order in orders[:MEMBER_WRITERS]
    ]
    finished = [(w.args, *w.communicate(timeout=300), w.returncode) for w in writers]
    stop.touch()
    read = reader.communicate(timeout=120)
    return out, finished, (*read, reader.returncode)


def test_every_writer_succeeds(crowded):
    _, finished, _ = crowded
    for args, stdout, stderr, code in finished:
        assert code == 0, (args, stdout, stderr)
        assert "Traceback" not in stderr and "lock" not in stderr.lower(), stderr


def test_the_reader_never_saw_a_half_written_run(crowded):
    _, _, (stdout, stderr, code) = crowded
    assert code == 0, stderr
    assert int(stdout) > 0


def test_every_run_is_catalogued_once(crowded):
    out, _, _ = crowded
    store = ResultsStore(out)
    runs = store.runs()
    assert runs.run_id.is_unique and (runs.status == "completed").all()
    singles = runs[~runs.run_id.str.startswith("ens-")]
    assert sorted(singles.seed) == list(range(RUNS))
    members = store.ensemble_members("ens")
    assert members.member.tolist() == list(range(MEMBERS))
    assert len(runs) == RUNS + MEMBERS  # copies stored twice were discarded
    counted = store.query("SELECT count(DISTINCT run_id) AS n FROM results").n.iloc[0]
    assert counted == RUNS + MEMBERS


def test_the_store_is_clean_afterwards(crowded):
    out, _, _ = crowded
    assert ResultsStore(out).doctor() == []
    assert not list(out.rglob("*.tmp"))
