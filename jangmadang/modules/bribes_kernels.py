"""Compiled kernels of the bribes module: the month's demands for bribes in one pass over the
households, and the compaction of the households that face one.

``demand_bribes`` works on a range of fixed blocks of households and draws from a
counter-based stream; ``kernels.in_blocks`` runs it on several threads with the same results
(see ``jangmadang.kernels``). Each block writes the households it selects into its own slots
of ``chosen`` (from ``b * BLOCK``) and their number into ``found[b]``; ``compact`` then
gathers them in block order, so the list is the same on any number of threads.
"""

from __future__ import annotations

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

    The monthly chances of a demand are ``rates[0] x traders`` (market), ``rates[1] x exempt``
    (exemption from work) and ``rates[3]`` (leniency for the family), each times the
    province's ``presence`` of officials, and ``rates[2] x workers`` (jobs and transfers); a
    household faces a demand when ``U = uniform64(key, h)`` is below their sum (so at most one
    a month), for the purpose whose share of ``[0, sum)`` holds U. The household goes to
    ``chosen[b * BLOCK + k]`` with its purpose (0-3) in ``purpose`` at the same slot;
    ``found[b]`` is the number selected in block ``b``. ``counts[b, province, trader, 0]``
    counts households, ``[..., 1]`` those whose aged ``months_since`` is below 12."""
    n = len(province)
    r_market, r_exemption, r_job, r_family = rates[0], rates[1], rates[2], rates[3]
    for b in range(first_block, end_block):
        k = 0
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        # The block's slices, indexed from 0: loops the compiler can vectorize.
        ages, where = months_since[lo:hi], province[lo:hi]
        n_traders, n_workers, n_exempt = traders[lo:hi], workers[lo:hi], exempt[lo:hi]
        slots, slot_purpose = chosen[lo:hi], purpose[lo:hi]
        # Counts of the current run of one province, kept in registers (a count in memory
        # incremented every household would chain each iteration to the last).
        current = province[lo]
        households = with_trader = paid = paid_with_trader = 0
        for j in range(hi - lo):
            p = where[j]
            if p != current:
                _add_counts(counts, b, current, households, with_trader, paid, paid_with_trader)
                current = p
                households = with_trader = paid = paid_with_trader = 0
            m = ages[j]
            if m < NEVER:
                m += 1
                ages[j] = m
            t = n_traders[j]
            has_trader = 1 if t > 0 else 0
            recent = 1 if m < 12 else 0
            households += 1
            with_trader += has_trader
            paid += recent
            paid_with_trader += recent & has_trader
            d = presence[p]
            market = r_market * t * d
            exemption = r_exemption * n_exempt[j] * d
            job = r_job * n_workers[j]
            family = r_family * d
            total = market + exemption + job + family
            # Without branches (a demand is too frequent to predict): every household is
            # written to the next free slot, which only a demand takes.
            draw = uniform64(key, lo + j)
            x = market + exemption
            which = (draw >= market) + (draw >= x) + (draw >= x + job)
            slots[k] = lo + j
            slot_purpose[k] = which
            k += draw < total
        if hi > lo:
            _add_counts(counts, b, current, households, with_trader, paid, paid_with_trader)
        found[b] = k


@njit(inline="always")
def _add_counts(counts, b, province, households, with_trader, paid, paid_with_trader):
    counts[b, province, 1, 0] += with_trader
    counts[b, province, 0, 0] += households - with_trader
    counts[b, province, 1, 1] += paid_with_trader
    counts[b, province, 0, 1] += paid - paid_with_trader


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


@njit(cache=True)
def settle(
    households,
    purposes,
    price,
    cash,
    payee_pool,
    pools,
    bounds,
    province,
    report_share,
    key_payee,
    key_report,
):
    """Who is paid, who pays and who is reported, for the month's demands (in order).

    Demand ``i`` (household ``households[i]``, purpose ``purposes[i]``) goes to an official of
    pool ``k = payee_pool[purposes[i]]``: one of the households
    ``pools[bounds[k, p] : bounds[k, p + 1]]`` of the payer's province ``p``, drawn with
    ``uniform64(key_payee, i)``. Returns the payee (-1: no holder in the province, so no
    demand), whether the household pays (its cash covers ``price[purpose]``), and whether an
    unpaid demand is reported (``uniform64(key_report, i) < report_share``)."""
    n = len(households)
    payee = np.full(n, -1, dtype=np.int64)
    pays = np.zeros(n, dtype=np.bool_)
    reported = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        h = households[i]
        k = payee_pool[purposes[i]]
        lo, hi = bounds[k, province[h]], bounds[k, province[h] + 1]
        if hi <= lo:
            continue
        payee[i] = pools[lo + np.int64(uniform64(key_payee, i) * (hi - lo))]
        if cash[h] >= price[purposes[i]]:
            pays[i] = True
        else:
            reported[i] = uniform64(key_report, i) < report_share
    return payee, pays, reported
