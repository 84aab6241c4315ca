"""Scenarios are data: TOML files validated by pydantic.

A scenario names a window (``start``, ``end``), a ``seed``, one section of parameters per
module, and dated ``[[events]]`` that change parameters from a month (optionally until a
month): ``set``, ``scale`` or ``add`` a value. An event with no change only marks a date
(plots show it; later modules react to it by name). A scenario can ``extends`` another and
override any value; ``remove_events`` drops inherited events by name, and an event with an
inherited name replaces it.

Bad input raises :class:`ScenarioError`, whose message names the file, the key and the reason.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jangmadang.module import ParameterModel
from jangmadang.modules.bribes import BribesParams
from jangmadang.modules.currency import CurrencyParams
from jangmadang.modules.defection import DefectionParams
from jangmadang.modules.demography import DemographyParams, projected_population
from jangmadang.modules.enforcement import EnforcementParams
from jangmadang.modules.enterprises import EnterprisesParams
from jangmadang.modules.food import FoodParams
from jangmadang.modules.gifts import GiftsParams
from jangmadang.modules.loyalty import LoyaltyParams
from jangmadang.modules.markets import MarketsParams
from jangmadang.modules.official_economy import OfficialEconomyParams
from jangmadang.modules.patronage import PatronageParams
from jangmadang.modules.population import PopulationParams
from jangmadang.modules.remittances import RemittancesParams
from jangmadang.modules.security import SecurityParams
from jangmadang.timeline import Month, add_months, format_month, months_between, parse_month
from jangmadang.world import WorldParams

SCENARIO_DIR = resources.files("jangmadang.data").joinpath("scenarios")
STATIC_SECTIONS = ("population",)  # read once at the start; events may not change them
SCENARIO_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
EVENT_DATES_CHECKED = "event_dates_checked"  # validation context: loader checked them per file


class Parameters(ParameterModel):
    """Every module's parameters, one section each (the section name is the module name)."""

    world: WorldParams = Field(default_factory=WorldParams)
    population: PopulationParams = Field(default_factory=PopulationParams)
    demography: DemographyParams = Field(default_factory=DemographyParams)
    enforcement: EnforcementParams = Field(default_factory=EnforcementParams)
    currency: CurrencyParams = Field(default_factory=CurrencyParams)
    official_economy: OfficialEconomyParams = Field(default_factory=OfficialEconomyParams)
    food: FoodParams = Field(default_factory=FoodParams)
    markets: MarketsParams = Field(default_factory=MarketsParams)
    enterprises: EnterprisesParams = Field(default_factory=EnterprisesParams)
    patronage: PatronageParams = Field(default_factory=PatronageParams)
    gifts: GiftsParams = Field(default_factory=GiftsParams)
    defection: DefectionParams = Field(default_factory=DefectionParams)
    remittances: RemittancesParams = Field(default_factory=RemittancesParams)
    security: SecurityParams = Field(default_factory=SecurityParams)
    bribes: BribesParams = Field(default_factory=BribesParams)
    loyalty: LoyaltyParams = Field(default_factory=LoyaltyParams)


class Event(ParameterModel):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    label: str = ""
    start: Month
    end: Month | None = None
    set: dict[str, Any] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)
    add: dict[str, float] = Field(default_factory=dict)

    def takes_effect(self, start: date, end: date) -> bool:
        """Whether the event is in force in at least one month of ``start``..``end``."""
        return self.start <= end and (self.end is None or self.end > start)

    def active(self, month: date) -> bool:
        return self.start <= month and (self.end is None or month < self.end)


class Scenario(Parameters):
    name: str
    description: str = ""
    extends: str | None = None
    seed: int = Field(1, ge=0, lt=2**32)
    start: Month = date(2012, 1, 1)
    end: Month = date(2025, 12, 1)
    burn_in_months: int = Field(24, ge=0, le=120)
    events: list[Event] = Field(default_factory=list)

    _schedule: list[Parameters] = PrivateAttr(default_factory=list)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, name: str) -> str:
        """The name becomes part of run ids and folder names."""
        if len(name) > 100:
            raise ValueError(f"must be at most 100 characters long, not {len(name)}")
        if not SCENARIO_NAME.fullmatch(name):
            raise ValueError("must be letters, digits, '_' or '-' (at least one)")
        return name

    @model_validator(mode="after")
    def _check_window_and_events(self, info: ValidationInfo):
        # Event dates are checked against the window of the file that declares them; a window
        # narrowed later (by a child scenario or a run option) keeps inherited events valid.
        check_dates = not (info.context or {}).get(EVENT_DATES_CHECKED, False)
        problems = _window_problems(self) or _event_problems(self, check_dates)
        if not problems:
            problems = _size_problems(self)
        if problems:
            raise ValueError("\n".join(f"{key}: {reason}" for key, reason in problems))
        self._schedule = _build_schedule(self)
        return self

    @property
    def months(self) -> list[date]:
        return months_between(self.start, self.end)

    @property
    def burn_in(self) -> list[date]:
        """Months simulated before ``start`` with its parameters, so the initial state settles."""
        return (
            months_between(add_months(self.start, -self.burn_in_months), add_months(self.start, -1))
            if self.burn_in_months
            else []
        )

    def params_at(self, t: int) -> Parameters:
        """The parameters in force in month ``t`` (index into :attr:`months`)."""
        return self._schedule[t]

    def active_events(self, month: date) -> list[Event]:
        return [e for e in self.events if e.active(month)]

    @property
    def effective_events(self) -> list[Event]:
        """Events in force at some month of the window (others cannot change the results)."""
        return [e for e in self.events if e.takes_effect(self.start, self.end)]

    def resolved(self) -> dict:
        """Every value that determines the results, with only the effective events."""
        values = self.model_dump(mode="json", exclude={"extends", "description", "events"})
        values["events"] = [e.model_dump(mode="json") for e in self.effective_events]
        return values

    def fingerprint(self) -> str:
        """Hash of the resolved values: equal hashes mean identical inputs, however written."""
        resolved = json.dumps(self.resolved(), sort_keys=True)
        return hashlib.sha256(resolved.encode()).hexdigest()[:16]


def events_of(*scenarios: Scenario) -> list[Event]:
    """Every event of the scenarios, each name once (the first scenario's wins): what a figure
    comparing them marks."""
    events: dict[str, Event] = {}
    for scenario in scenarios:
        for event in scenario.events:
            events.setdefault(event.name, event)
    return list(events.values())


# --------------------------------------------------------------------------------------------
# Semantic checks beyond field types


def _window_problems(s: Scenario) -> list[tuple[str, str]]:
    if s.end < s.start:
        return [("end", f"{format_month(s.end)} is before start {format_month(s.start)}")]
    return []


def _size_problems(s: Scenario) -> list[tuple[str, str]]:
    """Fix the population at 1:1 (the census projected to the first simulated month, unless
    ``population.full_size`` gives it) and check the run's size against it."""
    population = s.population
    first = s.burn_in[0] if s.burn_in else s.start
    full = population.full_size or _projected(s.demography, s.loyalty.marriage_rate, first)
    population.set_full_size(full)
    if population.persons is not None and population.persons > full:
        return [
            (
                "population.persons",
                f"persons ({population.persons}) exceeds full_size ({full}), the population "
                f"at 1:1 in {format_month(first)}",
            )
        ]
    return []


_PROJECTIONS: dict[str, int] = {}


def _projected(demography: DemographyParams, marriage_rate: float, month: date) -> int:
    """``projected_population``, remembered: scenarios are validated many times over."""
    key = f"{demography.model_dump_json()}|{marriage_rate}|{month}"
    if key not in _PROJECTIONS:
        _PROJECTIONS[key] = projected_population(demography, marriage_rate, month)
    return _PROJECTIONS[key]


def _event_problems(s: Scenario, check_dates: bool = True) -> list[tuple[str, str]]:
    problems, seen = [], set()
    window = f"{format_month(s.start)}..{format_month(s.end)}"
    for i, event in enumerate(s.events):
        key = f"events[{i}]"
        if event.name in seen:
            problems.append((f"{key}.name", f"duplicate event name {event.name!r}"))
        seen.add(event.name)
        if check_dates and not event.takes_effect(s.start, s.end):
            problems.append((f"{key}.start", _never_in_force(event, window)))
        if event.end is not None and event.end <= event.start:
            problems.append(
                (
                    f"{key}.end",
                    f"{format_month(event.end)} is not after the event's "
                    f"start {format_month(event.start)}",
                )
            )
        for op in ("set", "scale", "add"):
            for path in getattr(event, op):
                reason = _path_problem(s, path, numeric=op != "set")
                if reason:
                    problems.append((f"{key}.{op}.{path}", reason))
    return problems


def _path_problem(s: Scenario, path: str, numeric: bool) -> str | None:
    section, _, field = path.partition(".")
    if section not in Parameters.model_fields or not field or "." in field:
        return (
            f"unknown parameter {path!r}; write section.name with a section among "
            f"{', '.join(Parameters.model_fields)}"
        )
    if section in STATIC_SECTIONS:
        return f"{section} parameters apply only at the start and cannot change in an event"
    params = getattr(s, section)
    if field not in type(params).model_fields:
        return f"unknown parameter {path!r}"
    value = getattr(params, field)
    if numeric and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"{path!r} is not numeric, so it can only be set"
    return None


def _build_schedule(s: Scenario) -> list[Parameters]:
    """Parameters for each month, validated once per distinct combination of active events.

    Each event's start month is validated too, so an inherited event outside a narrowed
    window is still checked as it would apply.
    """
    base = {name: getattr(s, name).model_dump() for name in Parameters.model_fields}
    cache: dict[tuple[int, ...], Parameters] = {}

    def params_in(month: date) -> Parameters:
        active = tuple(i for i, e in enumerate(s.events) if e.active(month))
        if active not in cache:
            cache[active] = _apply_events(base, s.events, active)
        return cache[active]

    for event in s.events:
        params_in(event.start)
    schedule = [params_in(month) for month in s.months]
    for params in cache.values():
        params.population.set_full_size(s.population.size_at_full_scale)
    return schedule


def _apply_events(base: dict, events: list[Event], active: tuple[int, ...]) -> Parameters:
    values = copy.deepcopy(base)
    for i in active:  # in declaration order, so a later event overrides an earlier one
        event = events[i]
        for op in ("set", "scale", "add"):
            for path, change in getattr(event, op).items():
                section, field = path.split(".")
                old = values[section][field]
                values[section][field] = {
                    "set": lambda o, c: c,
                    "scale": lambda o, c: o * c,
                    "add": lambda o, c: o + c,
                }[op](old, change)
                try:
                    Parameters.model_validate(values)
                except ValidationError as exc:
                    reason = exc.errors()[0]["msg"]
                    raise ValueError(
                        f"events[{i}].{op}.{path}: after this change {reason}"
                    ) from None
    return Parameters.model_validate(values)


# --------------------------------------------------------------------------------------------
# Loading files


@dataclass
class Problem:
    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.key}: {self.reason}"
            if self.key
            else f"{self.source}: {self.reason}"
        )


class ScenarioError(ValueError):
    """Invalid scenario input; ``problems`` name the file (or option), key and reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def available_scenarios() -> dict[str, str]:
    """Built-in scenarios: name -> description."""
    out = {}
    for entry in sorted(SCENARIO_DIR.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            raw = tomllib.loads(entry.read_text())
            out[entry.name.removesuffix(".toml")] = raw.get("description", "")
    return out


def load_scenario(
    spec: str | Path = "baseline",
    overrides: dict[str, Any] | None = None,
    override_source: str = "override",
) -> Scenario:
    """Load a built-in scenario by name or a TOML file by path, resolving ``extends``.

    ``overrides`` maps dotted keys (``"seed"``, ``"population.scale"``) to values applied on
    top; problems with them are reported against ``override_source``.
    """
    raw, origins, event_origins = _resolve(_locate(spec, origin=None), chain=[])
    return _validate_with(raw, overrides, override_source, origins, event_origins)


def with_overrides(
    scenario: Scenario, overrides: dict[str, Any], override_source: str = "override"
) -> Scenario:
    """A copy of ``scenario`` with dotted keys overridden, validated like a loaded file."""
    if not overrides:
        return scenario
    origins = {"name": f"scenario {scenario.name!r}"}
    return _validate_with(scenario.model_dump(), overrides, override_source, origins, [])


def _validate_with(
    raw: dict,
    overrides: dict[str, Any] | None,
    override_source: str,
    origins: dict[str, str],
    event_origins: list,
) -> Scenario:
    for key, value in (overrides or {}).items():
        target = raw
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):  # e.g. `population = 3`: validation reports it
                break
        else:
            target[last] = value
            origins[key] = override_source
    try:
        return Scenario.model_validate(raw, context={EVENT_DATES_CHECKED: True})
    except ValidationError as exc:
        leaf = origins.get("name", "scenario")
        raise ScenarioError(_problems(exc, origins, event_origins, leaf)) from None


def _locate(spec: str | Path, origin: Path | None) -> Path | Any:
    path = Path(spec)
    candidates = []
    if origin is not None:
        candidates += [origin.parent / path, origin.parent / f"{spec}.toml"]
    candidates += [path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    builtin = SCENARIO_DIR.joinpath(f"{spec}.toml")
    if builtin.is_file():
        return builtin
    names = ", ".join(available_scenarios())
    source = str(origin) if origin else str(spec)
    key = "extends" if origin else ""
    raise ScenarioError(
        [
            Problem(
                source,
                key,
                f"no scenario file or built-in scenario named {str(spec)!r} (built-in: {names})",
            )
        ]
    )


def _display(path) -> str:
    """Built-in scenarios are shown by name, user files by path."""
    if isinstance(path, Path):
        return str(path)
    return f"built-in scenario {path.name}"


def _resolve(path, chain: list[str]) -> tuple[dict, dict[str, str], list[tuple[str, int]]]:
    """Read a scenario and its ancestors; return merged values, key origins, event origins.

    Event origins are (file, index among that file's own ``[[events]]``), one per merged event.
    """
    shown = _display(path)
    if shown in chain:
        raise ScenarioError(
            [Problem(shown, "extends", "circular extends: " + " -> ".join([*chain, shown]))]
        )
    try:
        raw = tomllib.loads(path.read_text().removeprefix("\ufeff"))  # BOM: not TOML
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem(shown, "", f"not valid TOML: {exc}")]) from None
    except OSError as exc:
        raise ScenarioError([Problem(shown, "", f"cannot read file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            [Problem(shown, "", f"cannot read file: not UTF-8 text (byte {exc.start})")]
        ) from None

    own_events = raw.pop("events", [])
    removed = raw.pop("remove_events", [])
    if not isinstance(own_events, list) or not all(isinstance(e, dict) for e in own_events):
        raise ScenarioError([Problem(shown, "events", "write events as [[events]] tables")])
    # A name taken from the file name keeps its letters, digits, "_" and "-" (``v2.1.toml``
    # is the scenario ``v2_1``); a name written in the file must be an identifier as it is.
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9_-]", "_", path.name.removesuffix(".toml")))

    if "extends" in raw:
        if not isinstance(raw["extends"], str):
            raise ScenarioError([Problem(shown, "extends", "must be a scenario name or path")])
        parent_path = _locate(raw["extends"], origin=path if isinstance(path, Path) else None)
        merged, origins, parent_events_origins = _resolve(parent_path, [*chain, shown])
        events = merged.pop("events", [])
    else:
        merged, origins, events, parent_events_origins = {}, {}, [], []

    events, event_origins = list(events), list(parent_events_origins)
    for name in removed if isinstance(removed, list) else [removed]:
        index = next((i for i, e in enumerate(events) if e.get("name") == name), None)
        if index is None:
            raise ScenarioError(
                [Problem(shown, "remove_events", f"no inherited event named {name!r}")]
            )
        del events[index], event_origins[index]
    first_named: dict[Any, int] = {}
    for j, event in enumerate(own_events):
        name = event.get("name")
        if isinstance(name, str) and name in first_named:  # else this one would replace that one
            raise ScenarioError(
                [
                    Problem(
                        shown,
                        f"events[{j}].name",
                        f"duplicate event name {name!r} (also events[{first_named[name]}])",
                    )
                ]
            )
        first_named.setdefault(name, j)
        index = next((i for i, e in enumerate(events) if e.get("name") == name), None)
        if index is None:
            events.append(event)
            event_origins.append((shown, j))
        else:  # problems are reported at the index in the file that declares the event
            events[index], event_origins[index] = event, (shown, j)

    _merge(merged, raw, origins, shown, prefix="")
    _check_event_dates(own_events, merged, shown)
    merged["events"] = events
    origins["name"] = shown
    return merged, origins, event_origins


def _never_in_force(event: Event, window: str) -> str:
    span = format_month(event.start) + (f"..{format_month(event.end)}" if event.end else " on")
    return f"event {event.name!r} ({span}) is never in force in the scenario window {window}"


def _check_event_dates(own_events: list[dict], merged: dict, shown: str) -> None:
    """A file's own events must be in force at some month of the window set in that file.

    Inherited events are not re-checked: a child (or a run option) may narrow the window.
    """
    try:
        start = parse_month(merged.get("start", Scenario.model_fields["start"].default))
        end = parse_month(merged.get("end", Scenario.model_fields["end"].default))
    except ValueError:
        return  # the bad month itself is reported by validation
    problems = []
    for i, event in enumerate(own_events):
        try:
            parsed = Event.model_validate(event)
        except ValidationError:
            continue  # reported with its key by the scenario's validation
        window = f"{format_month(start)}..{format_month(end)}"
        if not parsed.takes_effect(start, end):
            problems.append(Problem(shown, f"events[{i}].start", _never_in_force(parsed, window)))
    if problems:
        raise ScenarioError(problems)


def _merge(target: dict, source: dict, origins: dict[str, str], shown: str, prefix: str) -> None:
    for key, value in source.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value, origins, shown, prefix=f"{dotted}.")
        else:
            target[key] = copy.deepcopy(value)
            origins[dotted] = shown
            if isinstance(value, dict):
                for sub in _flatten(value, dotted):
                    origins[sub] = shown


def _flatten(values: dict, prefix: str):
    for key, value in values.items():
        yield f"{prefix}.{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}.{key}")


def _problems(
    exc: ValidationError,
    origins: dict[str, str],
    event_origins: list[tuple[str, int]],
    leaf: str,
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        if error["loc"]:
            pairs = [(_field_key(_key(error["loc"]), error), _reason(error))]
        else:  # a whole-scenario check: its message lists "key: reason" lines
            message = error["msg"].removeprefix("Value error, ")
            pairs = [
                tuple(line.split(": ", 1)) if ": " in line else ("", line)
                for line in message.splitlines()
            ]
        for key, reason in pairs:
            source, key = _source(key, origins, event_origins, leaf)
            problems.append(Problem(source, key, reason))
    return problems


def _field_key(key: str, error: dict) -> str:
    """A section's own check (``persons (...) exceeds full_size``) names the field it is about
    first: report it at ``section.field``, so the file or option that set the field is named."""
    field = Parameters.model_fields.get(key)
    if field is None or error["type"] != "value_error":
        return key
    first = error["msg"].removeprefix("Value error, ").split(" ", 1)[0]
    return f"{key}.{first}" if first in field.annotation.model_fields else key


def _key(loc: tuple) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _reason(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    reason = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if (
        isinstance(value, str | int | float | bool)
        and error["type"] != "missing"
        and f"got {value!r}" not in reason
    ):
        reason += f" (got {value!r})"
    return reason


def _source(
    key: str, origins: dict[str, str], event_origins: list[tuple[str, int]], leaf: str
) -> tuple[str, str]:
    """The file (or option) that wrote ``key``, and the key as written there: an event's
    index is its position among that file's own ``[[events]]``."""
    if key.startswith("events["):
        close = key.index("]")
        index = int(key[len("events[") : close])
        if index < len(event_origins):
            source, own_index = event_origins[index]
            return source, f"events[{own_index}]{key[close + 1 :]}"
    dotted = key
    while dotted:
        if dotted in origins:
            return origins[dotted], key
        dotted = dotted.rpartition("[" if dotted.endswith("]") else ".")[0]
    return leaf, key
