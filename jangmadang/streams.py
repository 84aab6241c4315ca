"""Common random numbers: one independent stream per module and month.

A stream is keyed by the scenario seed, the module's name and the month, through NumPy's
SeedSequence. Two scenarios that differ only in a policy therefore draw the same numbers
everywhere the policy does not reach, and a module that draws more this month does not shift
any other module's draws, nor its own next month.
"""

from __future__ import annotations

import zlib

import numpy as np

SETUP = -1  # the "month" used for draws made while building the population


def stream(seed: int, name: str, month_index: int = SETUP) -> np.random.Generator:
    key = (zlib.crc32(name.encode("utf-8")), month_index + 1)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
