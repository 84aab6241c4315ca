"""Compiled kernel of the remittances module: the month's results by province and by whether
a household has relatives abroad, in one pass over households.

It runs on one thread and adds every household in order, as ``np.bincount`` does, so the sums
are the same to the bit. Its NumPy formulation is in ``tests/test_kernels.py``, which checks
the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def household_sums(province, n_provinces, relatives_abroad, income, remittance, spending, cash):
    """Returns ``received`` (the ``income[:, remittance]`` of each province's households),
    ``counts[g]`` (households without, ``g = 0``, and with relatives abroad, ``g = 1``) and
    ``sums[k, g]``: their ``spending`` (k = 0), ``cash`` (1) and total income, the sum of
    ``income`` over its columns in order (2); float64, households added in order."""
    received = np.zeros(n_provinces)
    counts = np.zeros(2, dtype=np.int64)
    sums = np.zeros((3, 2))
    if len(province) == 0:
        return received, counts, sums
    # Running sums in registers (a sum in memory added to every household would chain each
    # to the last): the province's is stored, and the next one's loaded, when it changes.
    current = province[0]
    here = 0.0
    with_spending = with_cash = with_income = 0.0
    without_spending = without_cash = without_income = 0.0
    for h in range(len(province)):
        if province[h] != current:
            received[current] = here
            current = province[h]
            here = received[current]
        here += np.float64(income[h, remittance])
        total = np.float64(income[h, 0])
        for s in range(1, income.shape[1]):
            total += income[h, s]
        if relatives_abroad[h] > 0:
            counts[1] += 1
            with_spending += spending[h]
            with_cash += cash[h]
            with_income += total
        else:
            without_spending += spending[h]
            without_cash += cash[h]
            without_income += total
    received[current] = here
    counts[0] = len(province) - counts[1]
    sums[0] = without_spending, with_spending
    sums[1] = without_cash, with_cash
    sums[2] = without_income, with_income
    return received, counts, sums
