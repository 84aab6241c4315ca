"""The Morris screening of assumptions: which parameters it screens, what it measures and how
it ranks them. (A whole screening is 384 runs: `jangmadang screen`, not the test suite.)"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jangmadang import evidence
from jangmadang.experiments.calibration import FITTED
from jangmadang.experiments.ensemble import resolve
from jangmadang.experiments.screening import (
    OUTPUTS,
    assumptions,
    outputs_of,
    rank,
    ranking_markdown,
)
from jangmadang.sim import Sim


def test_every_assumption_with_a_range_is_screened_and_nothing_else():
    entries, screened = evidence.load(), assumptions()
    assert len(screened) > 150 and len(set(screened)) == len(screened)
    for key in screened:
        low, high = entries[key].range
        assert entries[key].kind == "assumption" and high > low
    assert "population.scale" not in screened  # the size of a run is not a behaviour
    assert "food.harvest_level" not in screened  # sourced: the FAO/WFP normal harvest
    assert set(FITTED) <= set(screened)


def test_outputs_are_the_means_of_their_windows():
    results = Sim(resolve("history", population=5_000, end="2019-12")).run().results
    values = outputs_of(results)
    assert len(values) == len(OUTPUTS) and np.isfinite(values).all()
    national = results[(results.dimension == "all") & (results.indicator == "compliance")]
    window = national[(national.date >= "2012-01") & (national.date <= "2019-12")]
    assert values[[o[0] for o in OUTPUTS].index("compliance")] == window.value.mean()


def test_influence_is_relative_mu_star_averaged_over_outputs():
    indices = pd.DataFrame(
        {
            "parameter": ["food.harvest_sd", "loyalty.lecture_effect"] * 2,
            "output": ["a", "a", "b", "b"],
            "mu_star": [1.0, 0.0, 0.0, 10.0],
            "relative": [0.9, 0.0, 0.1, 2.0],
        }
    )
    ranking = rank(indices)
    assert list(ranking.parameter) == ["loyalty.lecture_effect", "food.harvest_sd"]
    assert ranking.influence.tolist() == [1.0, 0.5]
    assert ranking.moves_most.tolist() == ["b", "a"]
    assert ranking.range.iloc[1] == list(evidence.load()["food.harvest_sd"].range)
    text = ranking_markdown(ranking, "jangmadang screen")
    assert "| 1 | loyalty.lecture_effect | 1 | b | 0-0.02 | neither |" in text


def test_a_screening_ranks_what_moves_the_outputs_and_resumes(client, tmp_path, monkeypatch):
    """Three assumptions, two trajectories (8 runs of the history at 20,000 persons): the
    hazard of leaving must move arrivals more than the lectures' effect does, and the
    markets' tolerance the informal income share of 2001-2002 most; a second
    call finds every run stored and runs none."""
    from jangmadang.experiments import screening

    chosen = ["defection.base_hazard", "loyalty.lecture_effect", "markets.tolerance"]
    monkeypatch.setattr(screening, "assumptions", lambda: chosen)
    first = screening.screen(population=20_000, out=tmp_path, client=client)
    stored = next((tmp_path / "screening").glob("*/outputs.csv"))
    assert len(pd.read_csv(stored)) == 2 * (len(chosen) + 1)
    arrivals = first.indices[first.indices.output == "arrivals 2008-2009"].set_index("parameter")
    assert arrivals.mu_star["defection.base_hazard"] > arrivals.mu_star["loyalty.lecture_effect"]
    share = first.indices[first.indices.output == "informal income share 2001-2002"]
    assert share.set_index("parameter").relative.idxmax() == "markets.tolerance"
    assert set(first.ranking.parameter) == set(chosen)

    def no_runs(*_args, **_kwargs):
        raise AssertionError("a stored screening ran again")

    monkeypatch.setattr(screening, "run_batch", lambda c, scenarios, keep: scenarios and no_runs())
    again = screening.screen(population=20_000, out=tmp_path, client=client)
    pd.testing.assert_frame_equal(again.indices, first.indices)
