"""Compiled kernels of the sim's own indicators: the economy's sums by group in one pass.

``economy_sums`` works on a range of fixed blocks of households (``kernels.in_blocks`` runs it
on several threads with the same results, see ``jangmadang.kernels``). Its NumPy formulation
is in ``tests/test_kernels.py``, which checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK


@njit(nogil=True, cache=True)
def economy_sums(
    first_block,
    end_block,
    by_province,
    by_kind,
    earners,
    total_income,
    income,
    cash,
    province,
    kind,
    market,
    mostly,
):
    """For each block from ``first_block`` to ``end_block - 1``: per province and per household
    kind, the sums of each income column, of cash and the households (``by_province[b]``,
    ``by_kind[b]``: columns income..., cash, count); ``earners[b, g]``, province ``g``'s
    households with income and those of them with at least ``mostly`` of it from column
    ``market``. Also sets
    ``total_income[h]``, the household's income over all columns (float64, column by column)."""
    n, sources = income.shape
    for b in range(first_block, end_block):
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            g, k = province[h], kind[h]
            total = 0.0
            for c in range(sources):
                value = np.float64(income[h, c])
                total += value
                by_province[b, g, c] += value
                by_kind[b, k, c] += value
            total_income[h] = total
            by_province[b, g, sources] += cash[h]
            by_kind[b, k, sources] += cash[h]
            by_province[b, g, sources + 1] += 1
            by_kind[b, k, sources + 1] += 1
            if total > 0:
                earners[b, g, 0] += 1
                earners[b, g, 1] += income[h, market] >= mostly * total
