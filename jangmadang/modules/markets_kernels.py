"""Compiled kernel of the markets module: counter-based uniforms for chosen persons.

``uniforms_at`` gives person ``i`` the uniform ``uniform32(key, i)`` whoever else is drawn, so
two runs with the same seed give a reviewer the same draw even when their states (and so the
set of reviewers a rule applies to) differ: common random numbers across scenarios.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import uniform32


@njit(cache=True)
def uniforms_at(key, indices):
    """``uniform32(key, i)`` for each index ``i`` of ``indices`` (float32)."""
    out = np.empty(len(indices), dtype=np.float32)
    for j in range(len(indices)):
        out[j] = uniform32(key, indices[j])
    return out
