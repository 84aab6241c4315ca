"""Compiled kernels of the ledger: adding payments into households' cash and income.

The same arithmetic as NumPy's in-place ``target op= delta`` (``target[idx] op= delta``, with
repeated indices receiving every delta in order, as ``np.add.at``), without its temporaries and
its slow path on the strided income columns. Their NumPy formulation is in
``tests/test_ledger.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def add_into(lo, hi, target, delta, sign):
    """``target[i] += sign * delta[i]`` for ``lo <= i < hi`` (``sign`` is 1.0 or -1.0, so the
    sum is exactly NumPy's ``target + delta`` or ``target - delta``)."""
    for i in range(lo, hi):
        target[i] += sign * delta[i]


@njit(nogil=True, cache=True)
def add_at(target, idx, delta, sign):
    """``target[idx[j]] += sign * delta[j]`` in order of ``j``: an index given twice receives
    both deltas."""
    for j in range(len(idx)):
        target[idx[j]] += sign * delta[j]


@njit(nogil=True, cache=True)
def row_totals(lo, hi, total, income):
    """``total[i]`` = the sum of row ``i`` of ``income`` in float64, column by column."""
    for i in range(lo, hi):
        value = np.float64(income[i, 0])
        for source in range(1, income.shape[1]):
            value += income[i, source]
        total[i] = value
