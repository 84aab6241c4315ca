"""Scenario semantics: extends, events, the monthly parameter schedule, resolved output."""

import textwrap

import pytest

import jangmadang as jm
from jangmadang.scenario import load_scenario
from jangmadang.store import scenario_to_toml


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_builtin_scenarios_load():
    names = jm.available_scenarios()
    assert {"baseline", "no_border_closure", "strict_sanctions"} <= set(names)
    for name in names:
        assert load_scenario(name).name == name


def test_history_starts_in_2001_and_hands_over_to_the_baseline_events():
    s = load_scenario("history")
    at = {m.strftime("%Y-%m"): s.params_at(t) for t, m in enumerate(s.months)}
    sanctions = {month: at[month].world.sanctions for month in at}
    assert s.start.year == 2001 and s.end == load_scenario("baseline").end
    assert sanctions["2006-09"] == 0.0 and sanctions["2006-10"] == 0.1
    assert sanctions["2009-06"] == sanctions["2015-12"] == 0.2
    assert sanctions["2016-03"] == 0.5 and sanctions["2018-01"] == 0.9
    assert at["2020-01"].world.border == "closed"


def test_baseline_events_change_the_border_and_revert():
    s = load_scenario("baseline")
    at = {m.strftime("%Y-%m"): s.params_at(t) for t, m in enumerate(s.months)}
    assert at["2019-12"].world.border == "open"
    assert at["2020-01"].world.border == "closed"
    assert at["2023-07"].world.border == "closed"
    assert at["2023-08"].world.border == "restricted"
    assert at["2015-12"].world.sanctions == pytest.approx(0.2)
    assert at["2016-03"].world.sanctions == pytest.approx(0.5)
    assert at["2018-01"].world.sanctions == pytest.approx(0.9)


def test_remove_events_and_replace_by_name():
    s = load_scenario("no_border_closure")
    assert "border_closure" not in {e.name for e in s.events}
    assert all(p.world.border == "open" for p in (s.params_at(t) for t in range(len(s.months))))
    strict = load_scenario("strict_sanctions")
    names = [e.name for e in strict.events]
    assert names.count("sanctions_2016") == 1
    assert strict.params_at(60).world.sanctions == 1.0  # 2017-01


def test_scale_and_add_events_and_user_file_extending_a_builtin(tmp_path):
    path = write(
        tmp_path / "mine.toml",
        """
        extends = "baseline"
        start = "2018-01"
        end = "2019-12"
        [markets]
        exemption_fee_usd = 12.0
        [[events]]
        name = "wage_reform"
        start = "2019-01"
        end = "2019-07"
        scale = { "official_economy.wage_usd" = 4.0 }
        add = { "food.import_share" = 0.05 }
    """,
    )
    s = load_scenario(path)
    assert s.name == "mine" and s.extends == "baseline"
    assert s.markets.exemption_fee_usd == 12.0
    assert s.params_at(11).official_economy.wage_usd == pytest.approx(5.0)  # 2018-12
    assert s.params_at(12).official_economy.wage_usd == pytest.approx(20.0)
    assert s.params_at(12).food.import_share == pytest.approx(0.15)
    assert s.params_at(18).official_economy.wage_usd == pytest.approx(5.0)  # 2019-07: over
    # Inherited 2016 sanctions still apply in the narrower window.
    assert s.params_at(0).world.sanctions == pytest.approx(0.9)


def test_resolved_scenario_round_trips_with_the_same_fingerprint(tmp_path):
    original = load_scenario("strict_sanctions", {"population.persons": 4_000})
    path = tmp_path / "resolved.toml"
    path.write_text(scenario_to_toml(original))
    again = load_scenario(path)
    assert again.fingerprint() == original.fingerprint()
    assert again.extends is None


def test_fingerprint_changes_with_any_value():
    a = load_scenario("baseline")
    b = load_scenario("baseline", {"food.need_kg_per_person": 14.0})
    assert a.fingerprint() != b.fingerprint()


def test_sim_accepts_a_scenario_object_with_overrides():
    s = load_scenario("baseline")
    sim = jm.Sim(s, population=3_000, start="2013-01", end="2013-02", seed=9)
    assert sim.scenario.population.size == 3_000 and sim.seed == 9
    assert len(sim.months) == 2
