"""Compiled kernels of the markets module (see ``jangmadang.kernels`` for the rules that keep
them identical on any number of threads).

NumPy formulation of ``lucky_capacity``, with ``z`` the draws ``normal64(key, h)``::

    weight = capacity * np.exp(sd * z - sd**2 / 2)  # zero where capacity is zero
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from jangmadang.kernels import BLOCK, normal64


@njit(parallel=True, cache=True)
def lucky_capacity(key, capacity, sd):
    """Each household's selling capacity times this month's luck, ``exp(sd z - sd^2 / 2)``
    (mean 1) with ``z`` standard normal, drawn only where there is capacity; and the weights'
    sum per block of households (add the blocks in order)."""
    n = len(capacity)
    blocks = (n + BLOCK - 1) // BLOCK
    weight = np.zeros(n)
    sums = np.zeros(blocks)
    shift = sd * sd / 2
    for b in prange(blocks):
        total = 0.0
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            if capacity[h] > 0:
                weight[h] = capacity[h] * math.exp(sd * normal64(key, h) - shift)
                total += weight[h]
        sums[b] = total
    return weight, sums
