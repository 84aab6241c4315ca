"""The evidence ledger covers every parameter, rule and baseline event, and only those."""

import re
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from jangmadang import evidence
from jangmadang.scenario import Parameters

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
LEDGER = resources.files("jangmadang.data").joinpath("evidence.toml")
ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"
COPY_RUN = 8  # this many consecutive words of a report count as copied
WORD = re.compile(r"[a-z0-9']+")


def default(key: str):
    section, field = key.split(".")
    return getattr(getattr(Parameters(), section), field)


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shingles(text: str) -> set[str]:
    words = WORD.findall(text.lower())
    return {" ".join(words[i : i + COPY_RUN]) for i in range(len(words) - COPY_RUN + 1)}


def test_every_parameter_rule_and_event_has_an_entry():
    assert evidence.missing() == []


def test_every_entry_names_an_existing_key():
    assert evidence.unknown() == []


def test_keys_cover_what_the_model_declares():
    keys = evidence.parameter_keys()
    assert "official_economy.wage_usd" in keys and "world.border" in keys
    assert "food.price" in evidence.rule_keys()
    assert "event.border_closure" in evidence.event_keys()


@pytest.mark.parametrize("entry", evidence.load().values(), ids=lambda e: e.key)
def test_entry_is_well_formed(entry):
    known = evidence.sources()
    assert entry.kind in evidence.KINDS
    assert entry.says.strip() and "\n" not in entry.says
    if entry.kind == "report":
        assert entry.source in evidence.REPORTS
    elif entry.kind == "statistic":
        assert entry.source in known and entry.source not in evidence.REPORTS
    else:
        assert entry.source in known or entry.source in evidence.REPORTS or entry.source == "model"
    assert entry.source_description


@pytest.mark.parametrize("key", evidence.parameter_keys())
def test_numeric_default_lies_in_its_range(key):
    entry, value = evidence.load()[key], default(key)
    if not is_number(value):
        assert entry.range is None, f"{key} is not numeric, so it takes no range"
        return
    assert entry.range is not None, f"{key} needs a plausible range"
    low, high = entry.range
    assert low <= value <= high, f"{key} = {value} lies outside {entry.range}"


def test_ranges_only_on_numeric_parameters():
    parameters = set(evidence.parameter_keys())
    for key, entry in evidence.load().items():
        if entry.range is not None:
            assert key in parameters and entry.range[0] <= entry.range[1], key


def test_sources_cover_reports_used_and_name_real_reports():
    known = evidence.sources()
    used = {entry.source for entry in evidence.load().values()}
    assert {s for s in used if s in evidence.REPORTS} <= set(known)
    looks_like_report = {s for s in known if s.endswith(".txt")}
    assert looks_like_report <= set(evidence.REPORTS)
    if SEEDS.is_dir():
        assert set(evidence.REPORTS) <= {p.name for p in SEEDS.glob("*.txt")}


def test_lookup_by_key_and_prefix():
    assert [e.key for e in evidence.lookup("food.price")] == ["food.price"]
    food = [e.key for e in evidence.lookup("food")]
    assert "food.need_kg_per_person" in food and "food.harvest" in food
    assert all(key.startswith("food.") for key in food)
    assert len(evidence.lookup("event")) == len(evidence.event_keys())
    assert evidence.lookup("no_such_section") == []


def test_ledger_is_valid_toml_with_both_tables():
    raw = tomllib.loads(LEDGER.read_text("utf-8"))
    assert set(raw) == {"sources", "entries"}


def test_no_line_repeats_a_report():
    if not SEEDS.is_dir():
        pytest.skip(f"source reports not found at {SEEDS}")
    known = set()
    for report in sorted(SEEDS.glob("*.txt")):
        known |= shingles(report.read_text(errors="replace"))
    copied = []
    for path, text in (("evidence.toml", LEDGER.read_text("utf-8")), ("ODD.md", _odd())):
        for number, line in enumerate(text.splitlines(), 1):
            if shingles(line) & known:
                copied.append(f"{path}:{number}: {line.strip()[:80]}")
    assert copied == []


def _odd() -> str:
    return ODD.read_text("utf-8") if ODD.is_file() else ""
