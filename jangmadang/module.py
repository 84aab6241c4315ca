"""The interface every mechanism implements.

A module is one mechanism in one file: its parameters (a pydantic model, ``Params``), the agent
state it declares (``init_state``), its monthly rule (``step``) and the indicators it reports
(``record``). The simulation calls modules in the fixed order of ``jangmadang.modules.ORDER``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from jangmadang.timeline import month_index

if TYPE_CHECKING:
    from jangmadang.results import Recorder
    from jangmadang.sim import Sim
    from jangmadang.state import Renumbering


class ParameterModel(BaseModel):
    """Base of every parameter model: unknown keys, text for numbers, booleans for numbers,
    infinities and NaN are all rejected rather than silently converted."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Module:
    name: ClassVar[str]  # also the scenario section holding its parameters
    Params: ClassVar[type[BaseModel]]
    rules: ClassVar[dict[str, str]] = {}  # rule key -> one-line statement; each has evidence

    def __init__(self, sim: Sim):
        self.sim = sim
        self.rng: np.random.Generator | None = None  # this month's stream, set by the sim

    @property
    def month_index(self) -> int:
        """The current month as an integer (``timeline.month_index``), for dates kept in arrays."""
        return month_index(self.sim.month)

    @property
    def pars(self):
        """This month's parameters for the module, with dated events applied."""
        return getattr(self.sim.pars, self.name)

    def init_state(self) -> None:
        """Declare and fill the arrays the module owns; ``self.rng`` is the setup stream."""

    def step(self) -> None:
        """Apply the module's rule for the current month (``self.sim.month``)."""

    def record(self, rec: Recorder) -> None:
        """Write this month's indicators."""

    def role_changed(self, persons: np.ndarray, role: int) -> None:
        """Called by ``population.set_role`` after ``persons`` (ascending) took ``role``, so a
        module can drop state that belonged to their old role."""

    def renumbered(self, change: Renumbering) -> None:
        """Called after the yearly rebuild of the population moved persons and households
        (``demography``): a module keeping person or household indices, or per-household
        arrays outside ``sim.households``, brings them to the new numbering here."""
