"""Snapshots, runs continued from them, and forks: all bit-identical to uninterrupted runs."""

import json

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

import jangmadang as jm
from jangmadang import snapshot
from jangmadang.sim import first_difference
from jangmadang.snapshot import SnapshotError

WINDOW = {"population": 12_000, "start": "2019-06", "end": "2020-09"}


@pytest.fixture(scope="module")
def uninterrupted():
    return jm.Sim("baseline", **WINDOW).run()


def state_of(sim) -> dict:
    """Every array and value of the sim as the snapshot sees it, for exact comparison."""
    values = {f"people.{k}": v for k, v in sim.people.fields.items()}
    values |= {f"households.{k}": v for k, v in sim.households.fields.items()}
    values |= {f"ledger.{k}": getattr(sim.ledger, k) for k in snapshot.LEDGER_VALUES}
    for module in sim.modules:
        for key, value in vars(module).items():
            if key not in snapshot.NOT_STATE:
                values[f"{module.name}.{key}"] = value
    return values


def assert_same(a, b, where="state"):
    assert type(a) is type(b), f"{where}: {type(a)} != {type(b)}"
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_saved_and_loaded_state_is_identical(tmp_path):
    sim = jm.Sim("baseline", **WINDOW).run(until="2019-11")
    sim.save(tmp_path / "snap")
    loaded = jm.Sim.load(tmp_path / "snap")
    assert loaded.steps_done == sim.steps_done and loaded.month == sim.month
    assert_same(state_of(sim), state_of(loaded))
    assert_frame_equal(sim.results, loaded.results)
    manifest = json.loads((tmp_path / "snap" / snapshot.MANIFEST).read_text())
    assert manifest["month_reached"] == "2019-11"
    assert manifest["format"] == snapshot.FORMAT_VERSION


def test_a_run_continued_from_a_snapshot_equals_the_uninterrupted_run(tmp_path, uninterrupted):
    sim = jm.Sim("baseline", **WINDOW).run(until="2020-02")
    sim.save(tmp_path / "snap")
    del sim
    resumed = jm.Sim.load(tmp_path / "snap").run()
    assert resumed.finished
    assert_frame_equal(resumed.results, uninterrupted.results)


def test_stopping_with_until_and_running_on_changes_nothing(uninterrupted):
    sim = jm.Sim("baseline", **WINDOW).run(until="2019-06").run(until="2020-01").run()
    assert_frame_equal(sim.results, uninterrupted.results)
    with pytest.raises(ValueError, match="not a month of the run"):
        jm.Sim("baseline", **WINDOW).run(until="2030-01")


def test_snapshot_during_burn_in_and_before_any_step(tmp_path, uninterrupted):
    fresh = jm.Sim("baseline", **WINDOW).init()
    fresh.save(tmp_path / "fresh")
    assert_frame_equal(jm.Sim.load(tmp_path / "fresh").run().results, uninterrupted.results)


def test_saving_replaces_an_older_snapshot(tmp_path, uninterrupted):
    sim = jm.Sim("baseline", **WINDOW).run(until="2019-08")
    sim.save(tmp_path / "snap")
    sim.run(until="2020-03").save(tmp_path / "snap")
    assert json.loads((tmp_path / "snap" / snapshot.MANIFEST).read_text())["month_reached"] == (
        "2020-03"
    )
    assert_frame_equal(jm.Sim.load(tmp_path / "snap").run().results, uninterrupted.results)
    assert [p.name for p in tmp_path.iterdir()] == ["snap"]  # no temporary folders left


def test_wrong_versions_and_incomplete_snapshots_are_refused(tmp_path):
    sim = jm.Sim("baseline", **WINDOW).run(until="2019-07")
    folder = sim.save(tmp_path / "snap")
    manifest_file = folder / snapshot.MANIFEST
    manifest = json.loads(manifest_file.read_text())
    for key, value, message in (
        ("format", 99, "snapshot format 99"),
        ("package_version", "0.0.1", "written by jangmadang 0.0.1"),
    ):
        manifest_file.write_text(json.dumps({**manifest, key: value}))
        with pytest.raises(SnapshotError, match=message):
            jm.Sim.load(folder)
    manifest_file.unlink()
    with pytest.raises(SnapshotError, match="not a complete snapshot"):
        jm.Sim.load(folder)
    with pytest.raises(SnapshotError, match="has not been initialised"):
        jm.Sim("baseline", **WINDOW).save(tmp_path / "never")


def test_state_that_cannot_be_saved_is_named(tmp_path):
    sim = jm.Sim("baseline", **WINDOW).init()
    sim.markets.callback = lambda: None
    with pytest.raises(SnapshotError, match=r"markets\.callback: a function cannot be saved"):
        sim.save(tmp_path / "snap")
    assert not any(tmp_path.iterdir())  # nothing half-written left behind


def test_a_fork_equals_a_separate_run_of_the_other_scenario():
    window = {"population": 12_000, "start": "2019-01", "end": "2020-12"}
    base = jm.Sim("baseline", **window)
    alt_alone = jm.Sim("no_border_closure", **window).run()
    assert first_difference(base.scenario, alt_alone.scenario) == 12  # closure from 2020-01
    base.run(until="2019-12")
    alt = base.fork("no_border_closure", **window).run()
    base.run()
    assert_frame_equal(alt.results, alt_alone.results)
    assert_frame_equal(base.results, jm.Sim("baseline", **window).run().results)
    with pytest.raises(ValueError, match="differ from 2020-01"):
        base.fork("no_border_closure", **window)
    with pytest.raises(ValueError, match="seed, population"):
        jm.Sim("baseline", **window).fork("no_border_closure", **{**window, "seed": 9})
