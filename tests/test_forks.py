"""Paired ensembles share history through forks and store exactly what separate runs store."""

from pandas.testing import assert_frame_equal

from jangmadang.experiments.ensemble import member_results, resolve, run_ensemble
from jangmadang.experiments.paired import run_paired
from jangmadang.scenario import with_overrides
from jangmadang.store import ResultsStore

OPTIONS = {"population": 6_000, "start": "2019-07", "end": "2020-04"}


def test_paired_ensembles_equal_separate_ensembles(tmp_path, client):
    base = resolve("baseline", **OPTIONS)
    scenarios = [base] + [
        with_overrides(resolve(name, **OPTIONS), {"seed": base.seed})
        for name in ("no_border_closure", "strict_sanctions")
    ]
    paired_ids = run_paired(scenarios, 2, out=tmp_path / "paired", client=client)
    separate_ids = [run_ensemble(s, 2, out=tmp_path / "separate", client=client) for s in scenarios]
    assert paired_ids == separate_ids
    for ensemble_id in paired_ids:
        paired = member_results(ResultsStore(tmp_path / "paired"), ensemble_id)
        separate = member_results(ResultsStore(tmp_path / "separate"), ensemble_id)
        assert sorted(paired) == [0, 1]
        for member in paired:
            assert_frame_equal(
                paired[member].drop(columns="run_id"), separate[member].drop(columns="run_id")
            )


def test_paired_ensembles_resume_only_missing_members(tmp_path, client):
    base = resolve("baseline", **OPTIONS)
    alt = with_overrides(resolve("no_border_closure", **OPTIONS), {"seed": base.seed})
    run_ensemble(alt, 1, out=tmp_path, client=client)  # member 0 of the alternative exists
    seen = []
    ids = run_paired(
        [base, alt], 2, out=tmp_path, client=client, progress=lambda d, t: seen.append((d, t))
    )
    store = ResultsStore(tmp_path)
    assert [len(store.ensemble_members(i)) for i in ids] == [2, 2]
    assert seen[0] == (1, 4) and seen[-1] == (4, 4)
