"""Compiled kernels of the patronage module: the donju's extra selling capacity from their
ties, and the cadres among all persons (for the monthly results).

NumPy's ``add.at`` with a scalar into a float32 array takes a slow path; ``set_capacity`` adds
the same float32 values in the same order. ``persons_in_roles`` finds the holders of a range of
role codes in two passes over the persons, instead of ``np.isin``'s comparison per role. Their
NumPy formulations are in ``tests/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def set_capacity(
    capacity, donju, kind, strength, lease_kind, favour_strength, lease_gain, favour_gain
):
    """Set every household's ``capacity`` to 0, then add ``lease_gain`` for each lease tie
    (``kind == lease_kind``) of its donju, and ``favour_gain`` for each such tie at least
    ``favour_strength`` strong (float32). Returns the number of favoured ties."""
    capacity[:] = 0
    lease, favour = np.float32(lease_gain), np.float32(favour_gain)
    favours = 0
    for t in range(len(kind)):
        if kind[t] == lease_kind:
            capacity[donju[t]] += lease
    for t in range(len(kind)):
        if kind[t] == lease_kind and strength[t] >= favour_strength:
            capacity[donju[t]] += favour
            favours += 1
    return favours


@njit(cache=True)
def persons_in_roles(role, first, last):
    """The persons whose ``role`` lies in ``first .. last`` (inclusive), ascending: the same as
    ``np.flatnonzero((role >= first) & (role <= last))``, for roles that few hold (a count
    that vectorizes, then a pass whose branch is rarely taken)."""
    width = np.uint8(last - first)
    count = 0
    for i in range(len(role)):
        count += np.uint8(role[i] - first) <= width
    out = np.empty(count, dtype=np.int64)
    k = 0
    for i in range(len(role)):
        if np.uint8(role[i] - first) <= width:
            out[k] = i
            k += 1
    return out
