"""Compiled kernel of the enforcement module: households and state security agents in each
province, in one pass over households.

It runs on one thread; its sums are integers, so the order of the work does not matter. Its
NumPy formulation is in ``tests/test_kernels.py``, which checks the two agree.
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
