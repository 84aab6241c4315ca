"""World state shared by every mechanism: the Chinese border and sanctions.

Dated events in a scenario change these (the border closed in 2020-01, sanctions tightened in
2016-2017), and every module that trades across the border reads the resulting capacities.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jangmadang.module import ParameterModel

BorderState = Literal["open", "restricted", "closed"]


class WorldParams(ParameterModel):
    border: BorderState = "open"
    sanctions: float = Field(0.2, ge=0, le=1)
    trade_when_restricted: float = Field(0.75, ge=0, le=1)
    trade_when_closed: float = Field(0.15, ge=0, le=1)
    sanctions_import_cut: float = Field(0.3, ge=0, le=1)
    sanctions_export_cut: float = Field(0.95, ge=0, le=1)

    @property
    def border_trade(self) -> float:
        """Share of normal cross-border trade the border lets through (smuggling never stops)."""
        return {
            "open": 1.0,
            "restricted": self.trade_when_restricted,
            "closed": self.trade_when_closed,
        }[self.border]

    @property
    def import_capacity(self) -> float:
        return self.border_trade * (1.0 - self.sanctions * self.sanctions_import_cut)

    @property
    def export_capacity(self) -> float:
        return self.border_trade * (1.0 - self.sanctions * self.sanctions_export_cut)
