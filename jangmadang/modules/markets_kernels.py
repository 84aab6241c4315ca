"""Compiled kernels of the markets module: household spending, sellers' capacity and luck,
the payout to traders, and the occupation reviews.

The household kernels work on ranges of fixed blocks of households and write one row of
partial sums per block; ``kernels.in_blocks`` runs them on several threads with the same
results (see ``jangmadang.kernels``). The review kernels work on ranges of reviewers, each
writing only its own reviewers (``kernels.in_ranges``). Their NumPy formulations are in
``tests/test_markets.py``, which checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK

# Outcomes of a review (:func:`review_women`, :func:`review_workers`).
STAY = 0
STOP_TRADING = 1  # a woman goes back to an assigned job; a fee payer back to the workplace
START_TRADING = 2  # a woman starts trading; a worker would pay the fee to trade


@njit(nogil=True, cache=True)
def desired_spending(
    first_block, end_block, desired, cash, ordinary_balance, goods_share, wealth_share, sums
):
    """What each household would spend on goods: ``goods_share`` of its cash up to
    ``ordinary_balance`` plus ``wealth_share`` of the rest, into ``desired``; each block's
    sums of ``desired`` and of ``cash`` into ``sums[block]``."""
    n = len(cash)
    for b in range(first_block, end_block):
        want = money = 0.0
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            ordinary = min(cash[h], ordinary_balance)
            desired[h] = ordinary * goods_share + (cash[h] - ordinary) * wealth_share
            want += desired[h]
            money += cash[h]
        sums[b, 0] = want
        sums[b, 1] = money


@njit(nogil=True, cache=True)
def buy_goods(first_block, end_block, bought, spending, cash, totals, share):
    """Households buy ``share`` of what they wanted: ``bought`` (what they wanted, in place)
    is scaled by it, paid from ``cash`` and added to ``spending`` (float32); ``totals[block]``
    is the block's purchases (the ledger books their sum)."""
    n = len(bought)
    for b in range(first_block, end_block):
        total = 0.0
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            bought[h] *= share
            cash[h] -= bought[h]
            spending[h] = np.float64(spending[h]) + bought[h]
            total += bought[h]
        totals[b] = total


@njit(nogil=True, cache=True)
def count_sellers(first_block, end_block, traders, kind, donju, sellers):
    """``sellers[block]``: the households that may sell, those with ``traders`` and those of
    kind ``donju``."""
    n = len(traders)
    for b in range(first_block, end_block):
        count = 0
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            count += (traders[h] > 0) | (kind[h] == donju)
        sellers[b] = count


@njit(nogil=True, cache=True)
def selling_weights(
    first_block,
    end_block,
    capacity,
    weight,
    traders,
    skill,
    donju,
    capital,
    first_donju,
    patronage,
    province,
    luck,
    first_seller,
    local_capacity,
    local_weight,
):
    """Each household's selling capacity and its weight in this month's sales.

    capacity = ``traders`` x ``skill``, and for a donju household (``donju``: their indices,
    ascending, block ``b``'s from ``first_donju[b]``) (+ its ``capital``) x (1 +
    ``patronage``); weight = capacity x luck, where the households that may sell (with traders,
    or donju) take the values of ``luck`` in order, block ``b``'s from ``first_seller[b]``
    (``luck`` has one value more, read for a last household that does not sell and multiplied
    by its capacity, 0). Per block: ``local_capacity[block, province]`` and
    ``local_weight[block, province]``, their sums."""
    n, n_donju = len(traders), len(donju)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        local_capacity[b, :] = 0.0
        local_weight[b, :] = 0.0
        k, d = first_seller[b], first_donju[b]
        run = province[lo]  # a province's run of households (they are sorted by province)
        run_capacity = run_weight = 0.0
        for h in range(lo, hi):
            c = np.float64(traders[h]) * skill[h]
            is_donju = d < n_donju and donju[d] == h
            if is_donju:
                c += capital[d]
                c *= np.float32(1) + patronage[h]
                d += 1
            w = luck[k] * c
            k += (traders[h] > 0) | is_donju
            capacity[h] = c
            weight[h] = w
            if province[h] != run:
                local_capacity[b, run] += run_capacity
                local_weight[b, run] += run_weight
                run, run_capacity, run_weight = province[h], 0.0, 0.0
            run_capacity += c
            run_weight += w
        local_capacity[b, run] += run_capacity
        local_weight[b, run] += run_weight


@njit(nogil=True, cache=True)
def pay_traders(
    first_block,
    end_block,
    paid,
    province,
    rate,
    exempt_count,
    skill,
    capacity,
    local_paid,
    fee_payers,
    cash,
    market_income,
):
    """Sales paid out by weight: ``paid`` (the weights, in place) becomes weight x
    ``rate[province]``, added to ``cash`` and ``market_income`` (the ledger books the sum of
    ``local_paid``). Per block: ``local_paid[block, province]`` = paid, and
    ``fee_payers[block]`` = (sum over fee payers of exempt_count x paid x skill / capacity,
    their number)."""
    n = len(paid)
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        local_paid[b, :] = 0.0
        payer_income = 0.0
        payers = 0
        run, run_total = province[lo], 0.0
        for h in range(lo, hi):
            p = paid[h] * rate[province[h]]
            paid[h] = p
            cash[h] += p
            market_income[h] += p
            if province[h] != run:
                local_paid[b, run] += run_total
                run, run_total = province[h], 0.0
            run_total += p
            if exempt_count[h]:
                payers += exempt_count[h]
                payer_income += (
                    np.float64(exempt_count[h]) * p * np.float64(skill[h]) / max(capacity[h], 1e-12)
                )
        local_paid[b, run] += run_total
        fee_payers[b, 0] = payer_income
        fee_payers[b, 1] = payers


@njit(nogil=True, cache=True)
def review_women(
    lo,
    hi,
    outcome,
    reviewing,
    female,
    married,
    age_band,
    exempt,
    role,
    propensity,
    youngest,
    oldest,
    trader,
    worker,
    farmer,
    wanted,
):
    """``outcome`` of each reviewer ``lo .. hi - 1``: a married woman of age band ``youngest``
    to ``oldest``, not exempt, trades when her propensity share ((propensity - 0.5) / 255,
    float32) is below ``wanted``: STOP_TRADING for a trader who no longer does, START_TRADING
    for a worker or farmer who starts; STAY otherwise."""
    threshold = np.float32(wanted)
    for j in range(lo, hi):
        i = reviewing[j]
        result = STAY
        if female[i] and married[i] and youngest <= age_band[i] <= oldest and not exempt[i]:
            trades = (np.float32(propensity[i]) - np.float32(0.5)) / np.float32(255) < threshold
            if role[i] == trader and not trades:
                result = STOP_TRADING
            elif (role[i] == worker or role[i] == farmer) and trades:
                result = START_TRADING
        outcome[j] = result


@njit(nogil=True, cache=True)
def review_workers(
    lo,
    hi,
    outcome,
    reviewing,
    perception,
    household,
    province,
    skill,
    expected,
    exempt,
    role,
    age_band,
    worker,
    oldest,
    cost,
):
    """``outcome`` of each reviewer ``lo .. hi - 1``: the perceived gain from trading is
    expected[province] x skill x ``perception`` (the reviewer's error, a factor) less
    ``cost`` (wage plus fee); a fee payer (``exempt``) who would lose STOP_TRADING, a worker
    of age band up to ``oldest`` who would gain START_TRADING, STAY otherwise."""
    for j in range(lo, hi):
        i = reviewing[j]
        h = household[i]
        gain = expected[province[h]] * skill[h] * perception[j] - cost
        result = STAY
        if exempt[i] and gain < 0:
            result = STOP_TRADING
        elif role[i] == worker and age_band[i] <= oldest and gain > 0:
            result = START_TRADING
        outcome[j] = result
