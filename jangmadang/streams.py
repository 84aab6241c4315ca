"""Common random numbers: one independent stream per module and month.

A stream is keyed by the scenario seed, the module's name and the calendar month, through NumPy's
SeedSequence. Two scenarios that differ only in a policy therefore draw the same numbers
everywhere the policy does not reach, and a module that draws more this month does not shift
any other module's draws, nor its own next month.

Compiled kernels draw differently (``jangmadang.kernels``): a parallel loop cannot share a
generator and still give the same numbers on any number of threads. A kernel gets a 64-bit
``key`` for (seed, module, month, purpose), derived through SeedSequence like a stream, and
person ``i``'s uniform is a hash of (key, i): element ``i`` of the SplitMix64 sequence that
starts at the key. Each draw depends only on the key and the index, so it is the same on one
thread or two, and the same in two scenarios with the same seed (common random numbers). Each
purpose (lectures, ...) has its own key, so draws of one purpose never shift another's.
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
    sequence = np.random.SeedSequence(seed, spawn_key=_spawn_key(name, month))
    return np.random.Generator(np.random.PCG64(sequence))


def key(seed: int, name: str, month: date | None, purpose: str) -> np.uint64:
    """The key of module ``name``'s counter-based draws for one purpose in a calendar month (or
    setup, when ``month`` is None), for ``kernels.uniform32(key, i)``."""
    spawn_key = (*_spawn_key(name, month), _crc(purpose))
    return np.random.SeedSequence(seed, spawn_key=spawn_key).generate_state(1, np.uint64)[0]


def _spawn_key(name: str, month: date | None) -> tuple[int, int]:
    return _crc(name), 0 if month is None else month.year * 12 + month.month


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))
