"""Bad input is rejected with one message naming the file (or option), the key and the reason.

Scenario files: unknown keys, wrong types, out-of-range values, bad months and windows, bad
events, broken ``extends`` chains, each attributed to the file that wrote the bad value. CLI:
exit code 2, the message on stderr, no traceback, and nothing written to the catalog.
"""

import inspect
import math
import textwrap
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jangmadang.cli import app
from jangmadang.scenario import Problem, ScenarioError, load_scenario
from jangmadang.store import ResultsStore

WINDOW = 'start = "2012-01"\nend = "2012-06"\n'
HYPOTHESIS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(spec, overrides=None) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(spec, overrides, override_source="command line")
    problems = info.value.problems
    assert problems, "a ScenarioError must carry at least one problem"
    assert str(info.value) == "\n".join(str(p) for p in problems)
    return problems


def assert_problem(problems: list[Problem], source, key: str, reason: str) -> None:
    """One problem names exactly this file (or option) and key, and its reason says ``reason``."""
    listing = "\n".join(str(p) for p in problems)
    assert any(p.source == str(source) and p.key == key and reason in p.reason for p in problems), (
        f"expected {source}: {key}: ...{reason}... in\n{listing}"
    )


def rejected(path: Path, key: str, reason: str) -> None:
    assert_problem(problems_of(path), path, key, reason)


# --------------------------------------------------------------------------------------------
# One file, one mistake


FILE_CASES = {
    "toml_syntax_error": ("name = \n", "", "not valid TOML"),
    "unknown_top_level_key": (WINDOW + "colour = 1\n", "colour", "unknown key"),
    "unknown_key_in_section": (
        WINDOW + "[markets]\ngoods_spending_shar = 0.2\n",
        "markets.goods_spending_shar",
        "unknown key",
    ),
    "unknown_section": (WINDOW + "[weather]\nrain = 1\n", "weather", "unknown key"),
    "section_is_not_a_table": (WINDOW + "markets = 3\n", "markets", "valid dictionary"),
    "string_for_a_float": (
        WINDOW + '[markets]\ngoods_spending_share = "lots"\n',
        "markets.goods_spending_share",
        "valid number",
    ),
    "list_for_a_number": (
        WINDOW + "[food]\nimport_share = [0.1, 0.2]\n",
        "food.import_share",
        "valid number",
    ),
    "fraction_for_an_integer": (
        WINDOW + "[population]\nhouseholds_per_inminban = 25.5\n",
        "population.households_per_inminban",
        "valid integer",
    ),
    "share_above_one": (
        WINDOW + "[markets]\ngoods_spending_share = 1.5\n",
        "markets.goods_spending_share",
        "less than or equal to 1",
    ),
    "share_below_zero": (
        WINDOW + "[world]\nsanctions = -0.1\n",
        "world.sanctions",
        "greater than or equal to 0",
    ),
    "negative_count": (
        WINDOW + "[population]\nmss_agents = -1\n",
        "population.mss_agents",
        "greater than or equal to 0",
    ),
    "zero_persons": (
        WINDOW + "[population]\npersons = 0\n",
        "population.persons",
        "greater than 0",
    ),
    "negative_seed": (WINDOW + "seed = -1\n", "seed", "greater than or equal to 0"),
    "burn_in_too_long": (WINDOW + "burn_in_months = 121\n", "burn_in_months", "less than or equal"),
    "scale_zero": (WINDOW + "[population]\nscale = 0\n", "population.scale", "greater than 0"),
    "scale_above_one": (
        WINDOW + "[population]\nscale = 1.5\n",
        "population.scale",
        "less than or equal to 1",
    ),
    "persons_above_full_size": (
        WINDOW + "[population]\npersons = 30000000\n",
        "population.persons",
        "exceeds full_size",
    ),
    "end_before_start": ('start = "2012-06"\nend = "2012-01"\n', "end", "before start 2012-06"),
    "month_13": ('start = "2012-13"\n', "start", "expected a month written YYYY-MM"),
    "month_with_slash": ('end = "12/2012"\n', "end", "expected a month written YYYY-MM"),
    "month_as_number": ("start = 2012\n", "start", "expected a month written YYYY-MM"),
    "cadre_kind_shares_do_not_sum_to_one": (
        WINDOW + "[population]\ncadre_kind_shares = [0.5, 0.5, 0.5]\n",
        "population.cadre_kind_shares",
        "summing to 1",
    ),
    "cadre_kind_shares_wrong_length": (
        WINDOW + "[population]\ncadre_kind_shares = [0.5, 0.5]\n",
        "population.cadre_kind_shares",
        "3 non-negative shares",
    ),
    "cadre_kind_shares_negative": (
        WINDOW + "[population]\ncadre_kind_shares = [1.2, -0.1, -0.1]\n",
        "population.cadre_kind_shares",
        "non-negative shares",
    ),
    "extends_not_a_string": ("extends = 3\n", "extends", "must be a scenario name or path"),
    "missing_parent": (
        'extends = "no_such_parent"\n',
        "extends",
        "no scenario file or built-in scenario named 'no_such_parent'",
    ),
    "remove_events_names_no_inherited_event": (
        'extends = "baseline"\nremove_events = ["border_closur"]\n',
        "remove_events",
        "no inherited event named 'border_closur'",
    ),
    "events_not_tables": (WINDOW + "events = 3\n", "events", "[[events]] tables"),
}

EVENT = "[[events]]\nname = {name!r}\nstart = {start!r}\n"
EVENT_CASES = {
    "event_start_outside_window": (
        EVENT.format(name="late", start="2013-01"),
        "events[0].start",
        "never in force in the scenario window 2012-01..2012-06",
    ),
    "event_end_before_its_start": (
        EVENT.format(name="a", start="2012-03") + 'end = "2012-02"\n',
        "events[0].end",
        "is not after the event's start 2012-03",
    ),
    "event_unknown_parameter": (
        EVENT.format(name="a", start="2012-03") + 'set = { "world.bogus" = 1 }\n',
        "events[0].set.world.bogus",
        "unknown parameter 'world.bogus'",
    ),
    "event_parameter_without_section": (
        EVENT.format(name="a", start="2012-03") + 'add = { "sanctions" = 0.1 }\n',
        "events[0].add.sanctions",
        "write section.name",
    ),
    "event_changes_a_population_parameter": (
        EVENT.format(name="a", start="2012-03") + 'set = { "population.urban_share" = 0.5 }\n',
        "events[0].set.population.urban_share",
        "apply only at the start",
    ),
    "event_scales_a_non_numeric_parameter": (
        EVENT.format(name="a", start="2012-03") + 'scale = { "world.border" = 2.0 }\n',
        "events[0].scale.world.border",
        "not numeric, so it can only be set",
    ),
    "event_sets_an_invalid_value": (
        EVENT.format(name="a", start="2012-03") + 'set = { "world.border" = "ajar" }\n',
        "events[0].set.world.border",
        "'open', 'restricted' or 'closed'",
    ),
    "event_scale_pushes_share_above_one": (
        EVENT.format(name="a", start="2012-03")
        + 'scale = { "markets.goods_spending_share" = 10.0 }\n',
        "events[0].scale.markets.goods_spending_share",
        "after this change Input should be less than or equal to 1",
    ),
    "event_add_pushes_share_below_zero": (
        EVENT.format(name="a", start="2012-03") + 'add = { "world.sanctions" = -1.0 }\n',
        "events[0].add.world.sanctions",
        "after this change Input should be greater than or equal to 0",
    ),
    "event_scale_factor_not_a_number": (
        EVENT.format(name="a", start="2012-03") + 'scale = { "world.sanctions" = "double" }\n',
        "events[0].scale.world.sanctions",
        "valid number",
    ),
    "duplicate_event_names_in_one_file": (
        EVENT.format(name="a", start="2012-02") + EVENT.format(name="a", start="2012-04"),
        "events[1].name",
        "duplicate event name 'a'",
    ),
    "event_unknown_key": (
        EVENT.format(name="a", start="2012-03") + "colour = 1\n",
        "events[0].colour",
        "unknown key",
    ),
    "event_missing_start": ("[[events]]\nname = 'a'\n", "events[0].start", "Field required"),
    "event_bad_name": (EVENT.format(name="Big Day", start="2012-03"), "events[0].name", "pattern"),
    "second_event_bad_month": (
        EVENT.format(name="a", start="2012-02") + EVENT.format(name="b", start="2012/04"),
        "events[1].start",
        "expected a month written YYYY-MM",
    ),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_bad_file_is_rejected_naming_file_key_and_reason(tmp_path, case):
    text, key, reason = FILE_CASES[case]
    rejected(write(tmp_path / f"{case}.toml", text), key, reason)


@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_bad_event_is_rejected_naming_file_key_and_reason(tmp_path, case):
    text, key, reason = EVENT_CASES[case]
    rejected(write(tmp_path / f"{case}.toml", WINDOW + text), key, reason)


def test_every_problem_in_a_file_is_reported(tmp_path):
    path = write(
        tmp_path / "many.toml",
        WINDOW + "colour = 1\n[markets]\ngoods_spending_share = 2\n[food]\nimport_share = -1\n",
    )
    problems = problems_of(path)
    assert {p.key for p in problems} == {
        "colour",
        "markets.goods_spending_share",
        "food.import_share",
    }
    assert all(p.source == str(path) for p in problems)


# --------------------------------------------------------------------------------------------
# Files that cannot be found or read


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.toml"
    assert_problem(problems_of(path), path, "", "no scenario file or built-in scenario named")


def test_unknown_builtin_name_lists_the_builtins():
    problems = problems_of("baseline_typo")
    assert_problem(
        problems, "baseline_typo", "", "built-in: baseline, history, market_boom, no_border_closure"
    )


def test_directory_is_not_a_scenario(tmp_path):
    assert_problem(problems_of(tmp_path), tmp_path, "", "no scenario file")


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'description = "caf\xe9"\n')
    assert_problem(problems_of(path), path, "", "cannot read file: not UTF-8")


def test_unreadable_file(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.toml", WINDOW)
    real_read_text = Path.read_text

    def read_text(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)  # the suite may run as root
    assert_problem(problems_of(path), path, "", "cannot read file: Permission denied")


# --------------------------------------------------------------------------------------------
# extends: the file that wrote the bad value is named


def test_missing_parent_names_the_child(tmp_path):
    child = write(tmp_path / "child.toml", 'extends = "parent_that_is_gone"\n')
    rejected(child, "extends", "no scenario file or built-in scenario named 'parent_that_is_gone'")


def test_missing_grandparent_names_the_parent(tmp_path):
    write(tmp_path / "parent.toml", 'extends = "gone"\n')
    child = write(tmp_path / "child.toml", 'extends = "parent"\n')
    assert_problem(problems_of(child), tmp_path / "parent.toml", "extends", "named 'gone'")


def test_circular_extends(tmp_path):
    a = write(tmp_path / "a.toml", 'extends = "b"\n')
    b = write(tmp_path / "b.toml", 'extends = "a.toml"\n')
    assert_problem(problems_of(a), a, "extends", f"circular extends: {a} -> {b} -> {a}")


def test_scenario_extending_itself(tmp_path):
    me = write(tmp_path / "me.toml", 'extends = "me"\n')
    assert_problem(problems_of(me), me, "extends", "circular extends")


def test_bad_value_in_child_is_attributed_to_the_child(tmp_path):
    write(tmp_path / "parent.toml", WINDOW + "[markets]\nimport_margin = 0.4\n")
    child = write(tmp_path / "child.toml", 'extends = "parent"\n[markets]\nimport_share = 1\n')
    # import_share is a food parameter: markets.import_share is unknown, written by the child
    rejected(child, "markets.import_share", "unknown key")
    child.write_text('extends = "parent"\n[markets]\ngoods_spending_share = 2.0\n')
    rejected(child, "markets.goods_spending_share", "less than or equal to 1")


def test_bad_value_in_parent_is_attributed_to_the_parent(tmp_path):
    parent = write(tmp_path / "parent.toml", WINDOW + "[markets]\ngoods_spending_share = 2.0\n")
    child = write(tmp_path / "child.toml", 'extends = "parent"\n[markets]\nimport_margin = 0.4\n')
    problems = problems_of(child)
    assert_problem(problems, parent, "markets.goods_spending_share", "less than or equal to 1")
    assert all(p.source != str(child) for p in problems)


def test_unknown_section_in_parent_is_attributed_to_the_parent(tmp_path):
    parent = write(tmp_path / "parent.toml", WINDOW + "[weather]\nrain = 1\n")
    child = write(tmp_path / "child.toml", 'extends = "parent"\nseed = 3\n')
    assert_problem(problems_of(child), parent, "weather", "unknown key")


def test_section_check_in_child_names_the_child_and_the_field(tmp_path):
    # The parent opened [population]; the child's persons breaks the section's own check.
    write(tmp_path / "parent.toml", WINDOW + "[population]\nscale = 0.001\n")
    child = write(tmp_path / "child.toml", 'extends = "parent"\n[population]\npersons = 30000000\n')
    rejected(child, "population.persons", "exceeds full_size")
    child.write_text('extends = "parent"\n[population]\ncadre_kind_shares = [1.0, 1.0, 0]\n')
    rejected(child, "population.cadre_kind_shares", "summing to 1")


def test_child_event_is_named_by_its_index_in_the_child(tmp_path):
    write(tmp_path / "parent.toml", WINDOW + EVENT.format(name="a", start="2012-02"))
    child = write(
        tmp_path / "child.toml",
        'extends = "parent"\n'
        + EVENT.format(name="b", start="2012-03")
        + 'scale = { "markets.goods_spending_share" = 10.0 }\n',
    )
    rejected(child, "events[0].scale.markets.goods_spending_share", "after this change")


def test_parent_event_is_attributed_to_the_parent(tmp_path):
    parent = write(
        tmp_path / "parent.toml",
        WINDOW
        + EVENT.format(name="a", start="2012-02")
        + EVENT.format(name="b", start="2012-03")
        + 'set = { "world.border" = "ajar" }\n',
    )
    child = write(
        tmp_path / "child.toml", 'extends = "parent"\n' + EVENT.format(name="c", start="2012-04")
    )
    assert_problem(problems_of(child), parent, "events[1].set.world.border", "'open'")


def test_child_event_outside_its_window_names_the_child(tmp_path):
    write(tmp_path / "parent.toml", WINDOW)
    child = write(
        tmp_path / "child.toml",
        'extends = "parent"\nend = "2012-03"\n' + EVENT.format(name="late", start="2012-05"),
    )
    rejected(child, "events[0].start", "never in force in the scenario window 2012-01..2012-03")


def test_remove_events_in_a_child_naming_no_inherited_event(tmp_path):
    write(tmp_path / "parent.toml", WINDOW + EVENT.format(name="a", start="2012-02"))
    child = write(tmp_path / "child.toml", 'extends = "parent"\nremove_events = ["b"]\n')
    rejected(child, "remove_events", "no inherited event named 'b'")


def test_valid_child_narrowing_the_window_keeps_inherited_events(tmp_path):
    """Control: a narrower window in a child is not bad input for the parent's events."""
    write(tmp_path / "parent.toml", WINDOW + EVENT.format(name="a", start="2012-05"))
    child = write(tmp_path / "child.toml", 'extends = "parent"\nend = "2012-03"\n')
    assert [e.name for e in load_scenario(child).events] == ["a"]


def test_event_setting_a_number_as_text_is_rejected_at_the_set(tmp_path):
    path = write(
        tmp_path / "text.toml",
        WINDOW
        + EVENT.format(name="a", start="2012-02")
        + 'set = { "markets.goods_spending_share" = "0.5" }\n'
        + EVENT.format(name="b", start="2012-03")
        + 'scale = { "markets.goods_spending_share" = 3.0 }\n',
    )
    rejected(path, "events[0].set.markets.goods_spending_share", "valid number")


# --------------------------------------------------------------------------------------------
# Run options are attributed to the command line


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        ({"population.persons": -5}, "population.persons", "greater than 0"),
        ({"population.persons": 30_000_000}, "population.persons", "exceeds full_size"),
        ({"population.scale": 0.0}, "population.scale", "greater than 0"),
        ({"start": "2012-13"}, "start", "expected a month written YYYY-MM, got '2012-13'"),
        ({"start": "2015-01", "end": "2014-01"}, "end", "before start 2015-01"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
    ],
)
def test_override_problems_name_the_command_line(overrides, key, reason):
    assert_problem(problems_of("baseline", overrides), "command line", key, reason)


def test_override_into_a_section_that_is_not_a_table(tmp_path):
    path = write(tmp_path / "flat.toml", WINDOW + "population = 3\n")
    problems = problems_of(path, {"population.persons": 3000})
    assert_problem(problems, path, "population", "valid dictionary")


# --------------------------------------------------------------------------------------------
# Hypothesis: numeric ranges

SHARES = [
    "markets.goods_spending_share",
    "markets.max_exempt_share",
    "food.import_share",
    "food.farm_sales_share",
    "world.sanctions",
    "world.trade_when_closed",
    "official_economy.aid_to_pds_share",
    "population.urban_share",
    "demography.new_household_share",
]
outside_unit = st.one_of(  # finite: infinities and NaN have their own test
    st.floats(max_value=0.0, exclude_max=True, allow_infinity=False),
    st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
)


def write_value(path: Path, dotted: str, value) -> Path:
    section, field = dotted.split(".")
    raw = {"start": "2012-01", "end": "2012-03", section: {field: value}}
    path.write_text(tomli_w.dumps(raw))
    return path


@HYPOTHESIS
@given(field=st.sampled_from(SHARES), value=outside_unit)
def test_shares_outside_unit_interval_are_rejected(tmp_path, field, value):
    path = write_value(tmp_path / "share.toml", field, value)
    reason = "greater than or equal to 0" if value < 0 else "less than or equal to 1"
    rejected(path, field, reason)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    "field", ["markets.goods_spending_share", "markets.exemption_fee_usd", "food.price_usd_per_kg"]
)
def test_infinite_or_nan_values_are_rejected(tmp_path, field, value):
    path = write_value(tmp_path / "inf.toml", field, value)
    rejected(path, field, "finite number")


@HYPOTHESIS
@given(field=st.sampled_from(SHARES), value=st.floats(min_value=0.0, max_value=1.0))
def test_shares_inside_unit_interval_are_accepted(tmp_path, field, value):
    section, name = field.split(".")
    scenario = load_scenario(write_value(tmp_path / "share.toml", field, value))
    assert getattr(getattr(scenario, section), name) == value


@HYPOTHESIS
@given(field=st.sampled_from(SHARES))
def test_nan_share_is_rejected(tmp_path, field):
    rejected(write_value(tmp_path / "nan.toml", field, float("nan")), field, "(got nan)")


@HYPOTHESIS
@given(count=st.integers(max_value=-1))
def test_negative_counts_are_rejected(tmp_path, count):
    path = write_value(tmp_path / "count.toml", "population.mss_agents", count)
    rejected(path, "population.mss_agents", "greater than or equal to 0")


@HYPOTHESIS
@given(persons=st.integers(max_value=0))
def test_non_positive_persons_are_rejected(tmp_path, persons):
    path = write_value(tmp_path / "persons.toml", "population.persons", persons)
    rejected(path, "population.persons", "greater than 0")


@HYPOTHESIS
@given(persons=st.integers(min_value=25_970_001, max_value=10**12))
def test_persons_above_full_size_are_rejected(tmp_path, persons):
    path = write_value(tmp_path / "persons.toml", "population.persons", persons)
    rejected(path, "population.persons", f"persons ({persons}) exceeds full_size")


@HYPOTHESIS
@given(
    scale=st.one_of(
        st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
        st.floats(min_value=1.0, exclude_min=True, allow_infinity=False),
    )
)
def test_scale_outside_zero_one_is_rejected(tmp_path, scale):
    path = write_value(tmp_path / "scale.toml", "population.scale", scale)
    rejected(path, "population.scale", "greater than 0" if scale <= 0 else "less than or equal")


@HYPOTHESIS
@given(scale=st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
def test_scale_in_zero_one_is_accepted(tmp_path, scale):
    path = write_value(tmp_path / "scale.toml", "population.scale", scale)
    assert load_scenario(path).population.scale == scale


@HYPOTHESIS
@given(year=st.integers(1000, 9999), month=st.one_of(st.just(0), st.integers(13, 99)))
def test_months_outside_1_to_12_are_rejected(tmp_path, year, month):
    path = tmp_path / "month.toml"
    path.write_text(f'start = "2012-01"\nend = "{year:04d}-{month:02d}"\n')
    rejected(path, "end", "expected a month written YYYY-MM")


@HYPOTHESIS
@given(
    share=st.floats(min_value=0.01, max_value=1.0),
    factor=st.floats(min_value=1.0, max_value=1e6, exclude_min=True),
)
def test_event_scale_beyond_one_is_rejected(tmp_path, share, factor):
    path = tmp_path / "event.toml"
    raw = {
        "start": "2012-01",
        "end": "2012-03",
        "markets": {"goods_spending_share": share},
        "events": [
            {"name": "boom", "start": "2012-02", "scale": {"markets.goods_spending_share": factor}}
        ],
    }
    path.write_text(tomli_w.dumps(raw))
    key = "events[0].scale.markets.goods_spending_share"
    if share * factor > 1:
        rejected(path, key, "after this change Input should be less than or equal to 1")
    else:
        assert load_scenario(path).params_at(1).markets.goods_spending_share == share * factor


# --------------------------------------------------------------------------------------------
# CLI: exit code 2, one line on stderr naming source, key and reason, no traceback


def make_runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2
        return CliRunner(mix_stderr=False)
    return CliRunner()  # click >= 8.2 keeps result.stderr apart


runner = make_runner()
TINY = ["--population", "3000", "--start", "2012-01", "--end", "2012-03"]


def assert_cli_error(result, *fragments: str) -> str:
    """Exit 2, no traceback, and one stderr line holding every fragment; return that line."""
    everything = result.stdout + result.stderr
    assert result.exit_code == 2, everything
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in everything
    lines = [line for line in result.stderr.splitlines() if all(f in line for f in fragments)]
    assert lines, f"no stderr line holds {fragments}:\n{result.stderr}"
    return lines[0]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A real tiny run: its catalog row and results must survive every bad call below."""
    out = tmp_path_factory.mktemp("results")
    result = runner.invoke(app, ["run", *TINY, "--out", str(out), "--no-plot"])
    assert result.exit_code == 0, result.stdout + result.stderr
    store = ResultsStore(out)
    (run_id,) = store.runs().run_id
    return out, store, run_id


def snapshot(out: Path):
    store = ResultsStore(out)
    runs = store.runs()
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.name != "jangmadang.duckdb.wal")
    return runs, files


BAD_RUNS = {
    "population_negative": (["--population", "-5"], ["command line: --population:", "(got -5)"]),
    "population_above_full_size": (
        ["--population", "30000000"],
        ["command line: --population:", "persons (30000000) exceeds full_size"],
    ),
    "population_not_a_number": (  # Typer's own parsing: a usage error, also exit code 2
        ["--population", "lots"],
        ["Invalid value for '--population'"],
    ),
    "scale_zero": (["--scale", "0"], ["command line: --scale:", "greater than 0"]),
    "scale_two": (["--scale", "2"], ["command line: --scale:", "less than or equal to 1"]),
    "population_and_scale": (
        ["--population", "3000", "--scale", "0.001"],
        ["--population and --scale", "not both"],
    ),
    "start_month_13": (
        ["--start", "2012-13"],
        ["command line: --start:", "expected a month written YYYY-MM, got '2012-13'"],
    ),
    "end_before_start": (
        ["--start", "2012-06", "--end", "2012-01"],
        ["command line: --end:", "2012-01 is before start 2012-06"],
    ),
    "seed_negative": (["--seed", "-3"], ["command line: --seed:", "greater than or equal to 0"]),
    "unknown_scenario": (
        ["no_such_scenario"],
        ["no_such_scenario:", "no scenario file or built-in scenario named"],
    ),
}


def bad_scenario_file(tmp_path: Path) -> Path:
    return write(tmp_path / "bad.toml", WINDOW + "[markets]\ngoods_spending_share = 1.5\n")


@pytest.mark.parametrize("case", sorted(BAD_RUNS))
def test_cli_run_rejects_bad_options(stored, case):
    out, _, _ = stored
    args, fragments = BAD_RUNS[case]
    result = runner.invoke(app, ["run", *args, "--out", str(out), "--no-plot"])
    assert_cli_error(result, *fragments)


def test_cli_run_rejects_bad_scenario_file(stored, tmp_path):
    out, _, _ = stored
    path = bad_scenario_file(tmp_path)
    result = runner.invoke(app, ["run", str(path), *TINY, "--out", str(out)])
    line = assert_cli_error(
        result, f"{path}: markets.goods_spending_share:", "less than or equal to 1 (got 1.5)"
    )
    assert line.startswith("error: ")


def test_cli_run_reports_every_problem_one_per_line(stored, tmp_path):
    out, _, _ = stored
    path = write(tmp_path / "two.toml", WINDOW + "colour = 1\n[food]\nimport_share = 7\n")
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert_cli_error(result, f"{path}: colour: unknown key")
    assert_cli_error(result, f"{path}: food.import_share:", "less than or equal to 1")


def test_cli_show_scenario_missing_file(tmp_path):
    path = tmp_path / "missing.toml"
    result = runner.invoke(app, ["show-scenario", str(path)])
    assert_cli_error(result, f"{path}:", "no scenario file or built-in scenario named")


def test_cli_show_scenario_bad_event(tmp_path):
    path = write(
        tmp_path / "ev.toml",
        WINDOW + EVENT.format(name="a", start="2012-03") + 'set = { "world.border" = "ajar" }\n',
    )
    result = runner.invoke(app, ["show-scenario", str(path)])
    assert_cli_error(result, f"{path}: events[0].set.world.border:", "'open'")


def test_cli_plot_unknown_run_id(stored):
    out, _, _ = stored
    result = runner.invoke(app, ["plot", "baseline-19990101-000000-abcdef", "--out", str(out)])
    assert_cli_error(result, "run id 'baseline-19990101-000000-abcdef'", "not in the catalog")


def test_cli_plot_run_id_that_looks_like_markup(stored):
    out, _, _ = stored
    result = runner.invoke(app, ["plot", "[/bold]x", "--out", str(out)])
    assert_cli_error(result, "run id '[/bold]x'", "not in the catalog")


def test_cli_plot_unknown_indicator(stored, tmp_path):
    out, _, run_id = stored
    target = tmp_path / "never.png"
    result = runner.invoke(
        app, ["plot", run_id, "no_such_indicator", "--out", str(out), "--file", str(target)]
    )
    assert_cli_error(result, "unknown indicator", "no_such_indicator", "food_insecure_share")
    assert not target.exists()


def test_cli_query_invalid_sql(stored):
    out, _, _ = stored
    result = runner.invoke(app, ["query", "SELEC * FROM runs", "--out", str(out)])
    assert_cli_error(result, "query:", "syntax error")
    result = runner.invoke(app, ["query", "SELECT * FROM no_such_table", "--out", str(out)])
    assert_cli_error(result, "query:", "no_such_table")


def test_bad_cli_calls_write_nothing_and_lose_nothing(stored, tmp_path):
    out, store, run_id = stored
    runs_before, files_before = snapshot(out)
    bad_calls = [["run", *args, "--out", str(out)] for args, _ in BAD_RUNS.values()]
    bad_calls += [
        ["run", str(bad_scenario_file(tmp_path)), *TINY, "--out", str(out)],
        ["plot", "nope", "--out", str(out)],
        ["plot", run_id, "no_such_indicator", "--out", str(out)],
        ["query", "SELEC * FROM runs", "--out", str(out)],
    ]
    for args in bad_calls:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.stdout + result.stderr)
        runs_after, files_after = snapshot(out)
        assert files_after == files_before, args
        assert runs_after.equals(runs_before), args
    assert store.run_info(run_id)["status"] == "completed"
    assert len(store.load(run_id)) > 0
    assert store.scenario(run_id).population.size == 3000


def test_sql_cannot_change_the_catalog(tmp_path):
    out = tmp_path / "results"
    result = runner.invoke(app, ["run", *TINY, "--out", str(out), "--no-plot"])
    assert result.exit_code == 0, result.stdout + result.stderr
    (run_id,) = ResultsStore(out).runs().run_id
    for sql in ("DROP TABLE runs; SELEC", "DELETE FROM runs", "DROP TABLE runs"):
        result = runner.invoke(app, ["query", sql, "--out", str(out)])
        assert_cli_error(result, "query:", "read-only")
    assert ResultsStore(out).run_info(run_id)["status"] == "completed"


@pytest.mark.parametrize("args", [["runs"], ["plot", "some-run"], ["query", "SELECT 1"]])
def test_reading_a_missing_catalog_is_an_error_and_creates_nothing(tmp_path, args):
    out = tmp_path / "typo"
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert_cli_error(result, "no results catalog")
    assert not out.exists()


def test_python_api_overrides_on_a_scenario_object_raise_scenario_error():
    import jangmadang as jm

    scenario = load_scenario("baseline")
    with pytest.raises(ScenarioError) as info:
        jm.Sim(scenario, population=-5)
    assert_problem(info.value.problems, "override", "population.persons", "greater than 0")


def test_toml_date_that_is_not_a_month_is_rejected(tmp_path):
    path = tmp_path / "date.toml"
    path.write_text('start = 2012-01-05\nend = "2012-06"\n')
    rejected(path, "start", "expected a month written YYYY-MM")


def test_inherited_event_outside_a_narrowed_window_is_still_validated(tmp_path):
    parent = write(
        tmp_path / "parent.toml",
        """
        start = "2012-01"
        end = "2025-12"
        [[events]]
        name = "ajar"
        start = "2020-01"
        set = { "world.border" = "ajar" }
    """,
    )
    child = write(
        tmp_path / "child.toml",
        f"""
        extends = "{parent.name}"
        end = "2015-12"
    """,
    )
    for path in (parent, child):
        with pytest.raises(ScenarioError, match="world.border"):
            load_scenario(path)


# --------------------------------------------------------------------------------------------
# The command line's own parse errors follow the same one-line rule


@pytest.mark.parametrize(
    "args, says",
    [
        (["ensemble", "baseline", "--runs", "abc"], "Invalid value for '--runs'"),
        (["run", "--bogus"], "No such option: --bogus"),
        (["show-scenario"], "Missing argument"),
        (["nosuch"], "No such command 'nosuch'"),
    ],
)
def test_parse_errors_are_one_line(args, says):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], result.output
    assert "--help" in lines[0]


def test_help_still_works():
    assert CliRunner().invoke(app, ["run", "--help"]).exit_code == 0
    assert "Usage" in CliRunner().invoke(app, []).output  # no command: the help
