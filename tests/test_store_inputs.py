"""Names, paths and catalogs the store refuses in one line (exit 2) before any work: unsafe
scenario names, an --out that cannot hold results, a corrupt catalog, an empty evidence key."""

import os
from pathlib import Path

import pytest
from test_bad_input import assert_cli_error, runner

from jangmadang.cli import app
from jangmadang.scenario import ScenarioError, load_scenario
from jangmadang.store import ResultsStore, UnknownRun

TINY = ["--population", "2000", "--start", "2012-01", "--end", "2012-02", "--no-plot"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("a" * 300, "at most 100 characters long, not 300"),
        ("my scenario", "letters, digits, '_' or '-'"),
        ("../../etc", "letters, digits, '_' or '-'"),
        ("", "letters, digits, '_' or '-'"),
    ],
)
def test_unsafe_scenario_names_are_refused(tmp_path, name, reason):
    path = tmp_path / "named.toml"
    path.write_text(f'name = "{name}"\n')
    with pytest.raises(ScenarioError):
        load_scenario(path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), *TINY, "--out", str(out)])
    assert_cli_error(result, f"{path}: name:", reason)
    assert not out.exists()


def test_a_long_file_name_is_a_name_error(tmp_path):
    path = tmp_path / f"{'b' * 120}.toml"
    path.write_text('start = "2012-01"\nend = "2012-02"\n')
    result = runner.invoke(app, ["run", str(path), *TINY, "--out", str(tmp_path / "out")])
    assert_cli_error(result, f"{path}: name:", "at most 100 characters")


def test_a_name_from_a_file_name_keeps_only_identifier_characters(tmp_path):
    path = tmp_path / "rally 2.0.toml"
    path.write_text('extends = "baseline"\n')
    assert load_scenario(path).name == "rally_2_0"


def test_identifier_names_with_dashes_and_capitals_are_accepted(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('name = "Slow-Reopening_2"\nextends = "baseline"\n')
    assert load_scenario(path).name == "Slow-Reopening_2"


def test_run_folders_stay_inside_the_store(tmp_path):
    scenario = load_scenario("baseline").model_copy(update={"name": "../../escape"})
    store = ResultsStore(tmp_path / "out")
    with pytest.raises(UnknownRun):
        store.start_run(scenario)
    assert not (tmp_path / "escape").exists() and not list(tmp_path.rglob("*escape*"))


OUT_COMMANDS = {
    "run": ["run", *TINY],
    "runs": ["runs"],
    "query": ["query", "SELECT 1"],
    "plot": ["plot", "some-run"],
    "doctor": ["doctor"],
}


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_out_that_is_a_file_or_empty(tmp_path, command):
    args = OUT_COMMANDS[command]
    a_file = tmp_path / "file.txt"
    a_file.write_text("keep me")
    result = runner.invoke(app, [*args, "--out", str(a_file)])
    assert_cli_error(result, f"--out '{a_file}': is a file, not a folder")
    assert a_file.read_text() == "keep me"
    result = runner.invoke(app, [*args, "--out", ""])
    assert_cli_error(result, "--out '': empty")


def test_out_that_cannot_be_created(tmp_path):
    parent = tmp_path / "file.txt"
    parent.write_text("")
    result = runner.invoke(app, ["run", *TINY, "--out", str(parent / "below")])
    assert_cli_error(result, f"--out '{parent / 'below'}': cannot create the folder")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
def test_out_that_cannot_be_written(tmp_path):
    if os.geteuid() == 0:
        folder = Path("/proc/self")  # even root cannot create a file there
    else:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
    result = runner.invoke(app, ["run", *TINY, "--out", str(folder)])
    assert_cli_error(result, f"--out '{folder}': cannot write in the folder")


@pytest.fixture
def corrupt(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "jangmadang.duckdb").write_bytes(os.urandom(4096))
    return out


@pytest.mark.parametrize("command", ["run", "runs", "query", "plot"])
def test_corrupt_catalog_is_one_line_suggesting_doctor(corrupt, command):
    result = runner.invoke(app, [*OUT_COMMANDS[command], "--out", str(corrupt)])
    line = assert_cli_error(result, f"{corrupt / 'jangmadang.duckdb'}: not a readable catalog")
    assert f"jangmadang doctor --out {corrupt}" in line
    assert sorted(p.name for p in corrupt.iterdir()) == ["jangmadang.duckdb", "jangmadang.lock"]


@pytest.mark.parametrize("key", ["", "  "])
def test_empty_evidence_key_is_an_error(key):
    result = runner.invoke(app, ["evidence", key])
    assert_cli_error(result, "evidence: empty key")
