"""Shared pieces of the compiled (Numba) kernels: counter-based random numbers and fixed blocks.

Kernels live next to the module that owns them (``modules/loyalty_kernels.py``) and must give
the same results on any number of threads (``NUMBA_NUM_THREADS``). Two rules make that so:

- **Random numbers from a counter, not a generator.** A kernel never draws from a shared
  generator: person ``i``'s uniform is a hash of (key, i) (:func:`uniform32`), where the key
  comes from ``streams.key(seed, module, month, purpose)``. A draw depends on nothing but the
  key and the index, so it is the same whichever thread computes it, whatever else is drawn,
  and in any scenario with the same seed (common random numbers).
- **Reductions in a fixed order.** Parallel loops run over fixed blocks of ``BLOCK``
  households (a household's persons are contiguous, so the thread owning a block owns its
  persons); each block writes its own partial sums and the blocks are added in order.

Kernels are compiled on first use and cached on disk (``cache=True``). Numba checks only the
source file of a cached kernel: after changing a function of this file, also touch the files of
the kernels that call it (or delete their ``__pycache__``).
"""

from __future__ import annotations

import math
import os

# Idle OpenMP threads (Numba's default threading layer) otherwise spin after each parallel
# loop, taking a core from the NumPy code that runs between kernels: on 2 cores a small run
# took 2.5 times as long.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

BLOCK = 2048  # households per block of a parallel loop
PERSON_BLOCK = 1 << 16  # persons per block of a parallel loop over persons alone

# SplitMix64 (Steele, Lea and Flood 2014): the Weyl increment and the two multipliers of
# Stafford's "mix13" finalizer.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit
def mix64(z):
    """Stafford's mix13: a bijection of 64-bit integers whose every output bit depends on every
    input bit (the SplitMix64 output function)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit
def bits64(key, i):
    """64 random bits for index ``i`` of stream ``key``: element ``i`` of the SplitMix64
    sequence that starts at state ``key``, computed directly (no state carried from i - 1)."""
    return mix64(key + (np.uint64(i) + np.uint64(1)) * _GAMMA)


@njit
def uniform32(key, i):
    """A float32 uniform on [0, 1) for index ``i`` of stream ``key`` (the top 24 bits)."""
    # Through int64: converting a uint64 to a float takes a slow path on x86.
    return np.float32(np.int64(bits64(key, i) >> np.uint64(40))) * np.float32(2.0**-24)


@njit
def normal64(key, i):
    """A standard normal for index ``i`` of stream ``key``: Box-Muller on the two 32-bit halves
    of ``bits64(key, i)`` (tails beyond 6.7 standard deviations cannot occur)."""
    bits = bits64(key, i)
    u1 = (np.float64(np.int64(bits >> np.uint64(32))) + 1.0) * 2.0**-32  # (0, 1]
    u2 = np.float64(np.int64(bits & np.uint64(0xFFFFFFFF))) * 2.0**-32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(parallel=True, cache=True)
def indices_below(key, n, p):
    """The indices ``i < n`` whose ``uniform32(key, i)`` is below ``p``, ascending: who among
    ``n`` persons does something with probability ``p`` this month."""
    blocks = (n + PERSON_BLOCK - 1) // PERSON_BLOCK
    threshold = np.float32(p)
    below = np.empty(n, dtype=np.bool_)
    counts = np.zeros(blocks, dtype=np.int64)
    for b in prange(blocks):
        found = 0
        for i in range(b * PERSON_BLOCK, min((b + 1) * PERSON_BLOCK, n)):
            below[i] = uniform32(key, i) < threshold
            found += below[i]
        counts[b] = found
    starts = np.zeros(blocks + 1, dtype=np.int64)
    for b in range(blocks):
        starts[b + 1] = starts[b] + counts[b]
    out = np.empty(starts[blocks], dtype=np.int64)
    for b in prange(blocks):
        k = starts[b]
        for i in range(b * PERSON_BLOCK, min((b + 1) * PERSON_BLOCK, n)):
            if below[i]:
                out[k] = i
                k += 1
    return out
