"""Compiled kernels of the bribes module: the month's demands for bribes in one pass over the
households, and the compaction of the households that face one.

``demand_bribes`` works on a range of fixed blocks of households and draws from a
counter-based stream; ``kernels.in_blocks`` runs it on several threads with the same results
(see ``jangmadang.kernels``). Each block writes the households it selects into its own slots
of ``chosen`` (from ``b * BLOCK``) and their number into ``found[b]``; ``compact`` then
gathers them in block order, so the list is the same on any number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK, uniform64

NEVER = 255  # months_since value of a household with no bribe on record (saturates there)


@njit(nogil=True, cache=True)
def demand_bribes(
    first_block,
    end_block,
    months_since,
    chosen,
    purpose,
    found,
    counts,
    traders,
    workers,
    exempt,
    province,
    presence,
    rates,
    key,
):
    """For the households in blocks ``first_block .. end_block - 1``: age ``months_since`` by
    a month (saturating at ``NEVER``), count households and those with a bribe in the last
    twelve months by (province, with a trader), and select those an official asks for a bribe
    this month.

    The demand hazards are ``rates[0] x traders`` (market), ``rates[1] x exempt`` (exemption
    from work) and ``rates[3]`` (leniency for the family), each times the province's
    ``presence`` of officials, and ``rates[2] x workers`` (jobs and transfers); a household
    faces a demand when ``uniform64(key, h) < 1 - exp(-total)``, and the same draw, scaled to
    the total, picks which one in proportion to the hazards. The household goes to
    ``chosen[b * BLOCK + k]`` with its purpose (0-3) in ``purpose`` at the same slot;
    ``found[b]`` is the number selected in block ``b``. ``counts[b, province, trader, 0]``
    counts households, ``[..., 1]`` those whose aged ``months_since`` is below 12."""
    n = len(province)
    for b in range(first_block, end_block):
        k = 0
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            m = months_since[h]
            if m < NEVER:
                m += 1
                months_since[h] = m
            has_trader = 1 if traders[h] > 0 else 0
            counts[b, province[h], has_trader, 0] += 1
            if m < 12:
                counts[b, province[h], has_trader, 1] += 1
            d = presence[province[h]]
            market = rates[0] * traders[h] * d
            exemption = rates[1] * exempt[h] * d
            job = rates[2] * workers[h]
            family = rates[3] * d
            total = market + exemption + job + family
            draw = uniform64(key, h)
            if draw < total:  # 1 - exp(-x) < x: the exact test runs only below that bound
                chance = -math.expm1(-total)
                if draw < chance:
                    x = draw / chance * total
                    if x < market:
                        which = 0
                    elif x < market + exemption:
                        which = 1
                    elif x < market + exemption + job:
                        which = 2
                    else:
                        which = 3
                    chosen[b * BLOCK + k] = h
                    purpose[b * BLOCK + k] = which
                    k += 1
        found[b] = k


@njit(cache=True)
def compact(chosen, purpose, found):
    """The selected households and their purposes, block after block (ascending)."""
    total = 0
    for b in range(len(found)):
        total += found[b]
    households = np.empty(total, dtype=np.int64)
    purposes = np.empty(total, dtype=np.int8)
    i = 0
    for b in range(len(found)):
        for k in range(found[b]):
            households[i] = chosen[b * BLOCK + k]
            purposes[i] = purpose[b * BLOCK + k]
            i += 1
    return households, purposes
