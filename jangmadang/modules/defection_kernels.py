"""Compiled kernel of the defection module: the month's hazard of every household in one pass.

``mark_departures`` works on a range of fixed blocks of households and draws from a
counter-based stream; ``kernels.in_blocks`` runs it on several threads with the same results
(see ``jangmadang.kernels``). Its NumPy formulation is in ``tests/test_kernels.py``, which
checks the two agree.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK, uniform64


@njit(nogil=True, cache=True)
def mark_departures(
    first_block,
    end_block,
    leaving,
    role_count,
    roles,
    role_weight,
    province,
    relatives_abroad,
    food_insecure,
    loyalty,
    cash,
    province_scale,
    relatives_multiplier,
    food_insecure_multiplier,
    loyalty_feedback,
    reference_loyalty,
    pay_later_share,
    trip_cost,
    key,
):
    """Set ``leaving[h]`` for the households in blocks ``first_block .. end_block - 1`` from
    whom someone leaves this month: ``uniform64(key, h) < 1 - exp(-hazard)``.

    The hazard is the members' weights by role (``role_weight @ role_count[roles, h]``) times
    ``province_scale[province[h]]``, times ``relatives_multiplier`` with relatives abroad,
    ``food_insecure_multiplier`` when hungry, ``exp(loyalty_feedback x (reference_loyalty -
    loyalty[h]))`` (the less loyal leave more readily), and, without relatives to pay the
    brokers, ``min(1, pay_later_share + cash[h] / trip_cost)``."""
    n = len(province)
    # exp(...) is at most ``most_loyal``: the exact test runs only for draws below that bound.
    most_loyal = math.exp(max(loyalty_feedback * reference_loyalty, 0.0))
    hazard = np.empty(BLOCK)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        m = hi - lo
        # The members' weights role by role over the block (a loop that vectorizes), added in
        # the same order as a sum per household.
        hazard[:m] = 0.0
        for r in range(len(roles)):
            row, w = role_count[roles[r], lo:hi], role_weight[r]
            for j in range(m):
                hazard[j] += w * row[j]
        for j in range(m):
            h = lo + j
            x = hazard[j] * province_scale[province[h]]
            if relatives_abroad[h] > 0:
                x *= relatives_multiplier
            else:
                x *= min(1.0, pay_later_share + cash[h] / trip_cost)
            if food_insecure[h]:
                x *= food_insecure_multiplier
            draw = uniform64(key, h)
            leaves = False
            if draw < x * most_loyal:  # 1 - exp(-x) < x
                x *= math.exp(loyalty_feedback * (reference_loyalty - loyalty[h]))
                leaves = draw < -math.expm1(-x)
            leaving[h] = leaves
