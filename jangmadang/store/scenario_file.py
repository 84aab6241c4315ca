"""The resolved scenario as TOML, as a run folder and a snapshot store it: every value explicit,
so rerunning the file reproduces the run whatever the scenario files say by then."""

from __future__ import annotations

import tomli_w

import jangmadang
from jangmadang.scenario import Scenario


def scenario_to_toml(scenario: Scenario) -> str:
    """The resolved scenario as TOML: every value explicit, no ``extends``."""
    values = _without_empty({"description": scenario.description, **scenario.resolved()})
    header = (
        f"# Resolved scenario {scenario.name!r} (hash {scenario.fingerprint()}), "
        f"written by jangmadang {jangmadang.__version__}\n"
    )
    return header + tomli_w.dumps(values)


def _without_empty(value):
    """TOML has no null: drop None (and empty tables and labels inside events)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in (None, {}, "")}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value
