"""Compiled kernels of the markets module (see ``jangmadang.kernels`` for the counter-based
draws that keep results the same whatever else is drawn).

NumPy formulation of ``lucky_capacity``, with ``z`` the draws ``normal64(key, h)``::

    weight = capacity * np.exp(sd * z - sd**2 / 2)  # zero where capacity is zero
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jangmadang.kernels import normal64


@njit(cache=True)
def lucky_capacity(key, capacity, sd):
    """Each household's selling capacity times this month's luck, ``exp(sd z - sd^2 / 2)``
    (mean 1) with ``z`` standard normal, drawn only where there is capacity."""
    weight = np.zeros(len(capacity))
    shift = sd * sd / 2
    for h in range(len(capacity)):
        if capacity[h] > 0:
            weight[h] = capacity[h] * math.exp(sd * normal64(key, h) - shift)
    return weight
