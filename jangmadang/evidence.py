"""The evidence ledger: where every parameter default, rule and dated event comes from.

``jangmadang/data/evidence.toml`` holds one entry per key: every leaf parameter of
:class:`~jangmadang.scenario.Parameters` (``"food.price_usd_per_kg"``), every rule a module
declares (``"food.price"``), every dated event of the baseline scenario
(``"event.border_closure"``) and the data files (``"data.provinces"``). An entry says what
kind of evidence it is (one of the five source reports, an outside statistic, or a modelling
assumption), names its source and paraphrases what that source says.

>>> from jangmadang import evidence
>>> evidence.lookup("official_economy.wage_usd")[0].source
'002_d0e71752c93d23e1.txt'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

KINDS = ("report", "statistic", "assumption")
MODEL = "model"  # the source of an assumption that no report or statistic motivates

# The five source reports the model is built from (index: shared/seeds/README.md).
REPORTS = {
    "000_27c40fbff0bfb932.txt": "Daily NK, July 2016",
    "001_7779113432fd1511.txt": "blog summary of a Daily NK interview, 2016-07-08",
    "002_d0e71752c93d23e1.txt": "Radio Free Asia, June 2020",
    "003_4698395215fc0f0c.txt": "Radio Free Asia, 2024",
    "004_50cf4b8f26c8f34a.txt": "Daily NK, 2018-05-15",
}
DATA_KEYS = (
    "data.provinces",
    "data.province_cereal",
    "data.boundaries",
    "data.arrivals",
)  # data files shipped in jangmadang/data


class EvidenceError(ValueError):
    """evidence.toml is malformed."""


@dataclass(frozen=True)
class Entry:
    key: str
    kind: str  # one of KINDS
    source: str  # a report file name, a key of [sources], or "model"
    says: str  # one-line paraphrase of what the source says
    range: tuple[float, float] | None  # plausible values of a numeric parameter
    source_description: str  # the source spelled out: outlet or publisher, and date
    range_note: str = ""


def _describe(source: str, sources: dict[str, str]) -> str:
    if source in sources:
        return sources[source]
    if source in REPORTS:
        return REPORTS[source]
    if source == MODEL:
        return "modelling choice"
    return ""


def _entry(key: str, raw: dict, sources: dict[str, str]) -> Entry:
    absent = [field for field in ("kind", "source", "says") if field not in raw]
    extra = set(raw) - {"kind", "source", "says", "range", "range_note"}
    if absent or extra:
        problem = f"missing {', '.join(absent)}" if absent else f"unknown {', '.join(extra)}"
        raise EvidenceError(f"evidence.toml: entries.{key}: {problem}")
    bounds = raw.get("range")
    if bounds is not None:
        if len(bounds) != 2 or not all(isinstance(b, int | float) for b in bounds):
            raise EvidenceError(f"evidence.toml: entries.{key}.range: write [low, high]")
        bounds = (bounds[0], bounds[1])
    return Entry(
        key=key,
        kind=raw["kind"],
        source=raw["source"],
        says=raw["says"],
        range=bounds,
        source_description=_describe(raw["source"], sources),
        range_note=raw.get("range_note", ""),
    )


@cache
def _raw() -> dict:
    text = resources.files("jangmadang.data").joinpath("evidence.toml").read_text("utf-8")
    return tomllib.loads(text)


def sources() -> dict[str, str]:
    """The ``[sources]`` table: report file names and outside statistics, described."""
    return dict(_raw().get("sources", {}))


@cache
def load() -> dict[str, Entry]:
    """Every entry of the ledger, by key, in file order."""
    described = sources()
    return {key: _entry(key, raw, described) for key, raw in _raw().get("entries", {}).items()}


def parameter_keys() -> list[str]:
    """``section.field`` for every leaf parameter of every module's section."""
    from jangmadang.scenario import Parameters

    return [
        f"{section}.{field}"
        for section, info in Parameters.model_fields.items()
        for field in info.annotation.model_fields
    ]


def rule_keys() -> list[str]:
    """The keys of every module's ``rules``, in the order the modules run."""
    from jangmadang.modules import ORDER

    return [key for module in ORDER for key in module.rules]


REFERENCE_SCENARIOS = ("baseline", "history")  # their events are the public record


def event_keys() -> list[str]:
    """``event.<name>`` for every dated event of the reference scenarios (the what-if
    scenarios' own events are hypotheses, described in their files)."""
    from jangmadang.scenario import load_scenario

    names = [e.name for scenario in REFERENCE_SCENARIOS for e in load_scenario(scenario).events]
    return [f"event.{name}" for name in dict.fromkeys(names)]


def required_keys() -> list[str]:
    return [*parameter_keys(), *rule_keys(), *event_keys(), *DATA_KEYS]


def missing() -> list[str]:
    """Keys that need an entry and have none."""
    entries = load()
    return [key for key in required_keys() if key not in entries]


def unknown() -> list[str]:
    """Entries that name no parameter, rule, baseline event or data file."""
    required = set(required_keys())
    return [key for key in load() if key not in required]


def lookup(prefix: str) -> list[Entry]:
    """The entry for a key, or every entry under a section, module or ``event`` prefix."""
    entries = load()
    if prefix in entries:
        return [entries[prefix]]
    stem = prefix.rstrip(".") + "."
    return [entry for key, entry in entries.items() if key.startswith(stem)]
