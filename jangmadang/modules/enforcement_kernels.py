"""Compiled kernels of the enforcement module: households and state security agents in each
province, in one pass over households, and the holders of a few roles among all persons (the
agents of the month; officials and cadres for the patronage module).

They run on one thread; their results are integers, so the order of the work does not
matter. Their NumPy formulations are in ``tests/test_kernels.py``, which checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def counts_by_group(group, weight, n_groups):
    """Households (int64) and the sum of ``weight`` (int64) in each group ``0 .. n_groups - 1``
    (``np.bincount(group, minlength=n_groups)`` and the same weighted by ``weight``)."""
    households = np.zeros(n_groups, dtype=np.int64)
    sums = np.zeros(n_groups, dtype=np.int64)
    if len(group) == 0:
        return households, sums
    # Counts of the current run of one group kept in registers (households are stored by
    # province: a count in memory incremented every household would chain each to the last).
    current, count, total = group[0], 0, 0
    for h in range(len(group)):
        if group[h] != current:
            households[current] += count
            sums[current] += total
            current, count, total = group[h], 0, 0
        count += 1
        total += weight[h]
    households[current] += count
    sums[current] += total
    return households, sums


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
