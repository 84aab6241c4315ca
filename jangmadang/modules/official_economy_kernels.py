"""Compiled kernels of the official economy: each household's wages, who each inminban must
feed, and the month's rations reaching households, each in one pass over households.

``sum_wages`` and ``deliver_rations`` work on a range of fixed blocks of households;
``kernels.in_blocks`` runs them on several threads with the same results (see
``jangmadang.kernels``). ``unit_mouths`` sums over all households on one thread (integer
counts, so the order does not matter). The NumPy formulations of the rations' kernels are in
``tests/test_rations.py``, that of the wages in ``tests/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK

NEVER = 255  # months since the last ration, saturated: none within memory


@njit(nogil=True, cache=True)
def deliver_rations(
    first_block,
    end_block,
    delivered,
    months_since,
    food_stock,
    urban,
    first_claim,
    inminban,
    served_first,
    served_rest,
    present,
    ration_kg,
):
    """For the households in blocks ``first_block .. end_block - 1``: a non-farm (``urban``)
    household is ``delivered`` this month if its unit (``inminban``) was served, in the first
    round (``served_first``) for households with a ``first_claim`` (cadres, agents), in the
    second (``served_rest``) for the others. A delivered household adds ``ration_kg`` for each
    member ``present`` to its ``food_stock`` and its ``months_since`` the last ration returns to
    0; every other household's count rises by one, saturating at ``NEVER``."""
    n = len(urban)
    kg = np.float32(ration_kg)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        # The block's slices, indexed from 0: loops the compiler can vectorize.
        got_now, months, stock = delivered[lo:hi], months_since[lo:hi], food_stock[lo:hi]
        town, first, unit, home = urban[lo:hi], first_claim[lo:hi], inminban[lo:hi], present[lo:hi]
        for j in range(hi - lo):
            u = unit[j]
            got = town[j] and (served_first[u] if first[j] else served_rest[u])
            got_now[j] = got
            if got:
                stock[j] += kg * np.float32(home[j])
                months[j] = 0
            elif months[j] < NEVER:
                months[j] += 1


@njit(cache=True)
def unit_mouths(inminban, urban, first_claim, present, first, rest):
    """Members at home of each unit's urban households, in ``first`` for households with a
    ``first_claim`` and in ``rest`` for the others (int64 per unit, zeroed here)."""
    first[:] = 0
    rest[:] = 0
    for h in range(len(urban)):
        if urban[h]:
            if first_claim[h]:
                first[inminban[h]] += present[h]
            else:
                rest[inminban[h]] += present[h]


@njit(nogil=True, cache=True)
def sum_wages(first_block, end_block, wages, role_count, roles, group_end, group_wage):
    """For the households in blocks ``first_block .. end_block - 1``: ``wages[h]`` is the sum,
    over the groups of roles paid the same wage (``roles[group_end[g - 1] : group_end[g]]``,
    paid ``group_wage[g]``), of the group's members (``role_count[role, h]``) times its wage,
    the groups added in order (float64)."""
    n = role_count.shape[1]
    members = np.empty(BLOCK, dtype=np.int64)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        m = hi - lo
        out = wages[lo:hi]
        out[:] = 0.0
        start = 0
        for g in range(len(group_end)):
            # Row by row over the block: loops over households that vectorize.
            members[:m] = 0
            for k in range(start, group_end[g]):
                row = role_count[roles[k], lo:hi]
                for j in range(m):
                    members[j] += row[j]
            wage = group_wage[g]
            for j in range(m):
                out[j] += members[j] * wage
            start = group_end[g]
