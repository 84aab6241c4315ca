"""Compiled kernel of the patronage module: the donju's extra selling capacity from their ties.

NumPy's ``add.at`` with a scalar into a float32 array takes a slow path; this loop adds the
same float32 values in the same order. Its NumPy formulation is in ``tests/test_kernels.py``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def set_capacity(
    capacity, donju, kind, strength, lease_kind, favour_strength, lease_gain, favour_gain
):
    """Set every household's ``capacity`` to 0, then add ``lease_gain`` for each lease tie
    (``kind == lease_kind``) of its donju, and ``favour_gain`` for each such tie at least
    ``favour_strength`` strong (float32). Returns the number of favoured ties."""
    capacity[:] = 0
    lease, favour = np.float32(lease_gain), np.float32(favour_gain)
    favours = 0
    for t in range(len(kind)):
        if kind[t] == lease_kind:
            capacity[donju[t]] += lease
    for t in range(len(kind)):
        if kind[t] == lease_kind and strength[t] >= favour_strength:
            capacity[donju[t]] += favour
            favours += 1
    return favours
