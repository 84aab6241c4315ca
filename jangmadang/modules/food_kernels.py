"""Compiled kernel of the food module: every household's meals and purchases in one pass.

``buy_food`` works on a range of fixed blocks of households; ``kernels.in_blocks`` runs it on
several threads with the same results (see ``jangmadang.kernels``). Its NumPy formulation is in
``tests/test_kernels.py``, which checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK


@njit(nogil=True, cache=True)
def buy_food(
    first_block,
    end_block,
    spend,
    food_stock,
    spending,
    food_insecure,
    size,
    abroad,
    away,
    cash,
    province,
    need_kg,
    price,
    budget_share,
    threshold,
):
    """For the households in blocks ``first_block .. end_block - 1``: the members at home
    (``size`` less those ``abroad`` and those ``away`` in a camp or dead) need ``need_kg`` each (float32). A
    household eats from ``food_stock`` first, then buys the shortfall at ``price`` with up to
    ``budget_share`` of its cash: ``spend[h]`` (USD, float64, for the ledger to debit) and
    ``spending[h]`` (float32). It is food-insecure when it eats less than ``threshold`` of its
    need."""
    n = len(size)
    kg, share = np.float32(need_kg), np.float32(threshold)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        # The block's slices, indexed from 0: loops the compiler can vectorize.
        stock, members, gone, held = food_stock[lo:hi], size[lo:hi], abroad[lo:hi], away[lo:hi]
        money, where = cash[lo:hi], province[lo:hi]
        out, out32, hungry = spend[lo:hi], spending[lo:hi], food_insecure[lo:hi]
        for j in range(hi - lo):
            need = kg * np.float32(np.int64(members[j]) - gone[j] - held[j])
            from_stock = min(stock[j], need)
            stock[j] -= from_stock
            unit_price = price[where[j]]
            bought = min(np.float64(need - from_stock), money[j] * budget_share / unit_price)
            out[j] = bought * unit_price
            out32[j] = out[j]
            hungry[j] = bought + from_stock < need * share
