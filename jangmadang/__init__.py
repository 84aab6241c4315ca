"""jangmadang: agent-based simulation of North Korea's informal political economy."""

from importlib.metadata import PackageNotFoundError, version

from jangmadang.scenario import Scenario, ScenarioError, available_scenarios, load_scenario
from jangmadang.sim import Sim

try:
    __version__ = version("jangmadang")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "Sim",
    "Scenario",
    "ScenarioError",
    "available_scenarios",
    "load_scenario",
    "__version__",
]
