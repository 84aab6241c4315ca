"""Common random numbers: one independent stream per module and month.

A stream is keyed by the scenario seed, the module's name and the calendar month, through NumPy's
SeedSequence. Two scenarios that differ only in a policy therefore draw the same numbers
everywhere the policy does not reach, and a module that draws more this month does not shift
any other module's draws, nor its own next month.
"""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np


def stream(seed: int, name: str, month: date | None = None) -> np.random.Generator:
    """The stream of module ``name`` for a calendar month, or for setup when ``month`` is None.

    Keying by calendar month (not step number) keeps draws aligned between scenarios with
    different start dates or burn-in lengths.
    """
    key = (zlib.crc32(name.encode("utf-8")), 0 if month is None else month.year * 12 + month.month)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
