"""Compiled kernels of the loyalty module: the month's update of every person in one pass.

``update_persons`` and ``record_sums`` work on a range of fixed blocks of households and draw
from counter-based streams; ``kernels.in_blocks`` runs them on several threads with the same
results (see ``jangmadang.kernels``). The NumPy formulation of each kernel is in
``tests/test_kernels.py``, which checks the two agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK, uniform32

_ZERO, _ONE = np.float32(0), np.float32(1)


@njit
def compliance(loyalty, fear):
    """Outward compliance: private loyalty plus fear times the rest (float32)."""
    return (_ONE - loyalty) * fear + loyalty


@njit(nogil=True, cache=True)
def update_persons(
    first_block,
    end_block,
    totals,
    counts,
    first_person,
    size,
    inminban,
    food_insecure,
    income,
    adults,
    adult,
    loyalty,
    person_compliance,
    household_loyalty,
    household_sums,
    unit_loyalty,
    unit_fear,
    unit_loss,
    key,
    thresholds,
    move,
    hunger_effect,
    market_effect,
    outside_state,
    lecture_fed,
    lecture_hungry,
    neighbour_confidence,
    neighbour_pull,
    initial_mean,
):
    """Move the loyalty of every person in blocks ``first_block .. end_block - 1`` (when
    ``move``), then set compliance and the household loyalty, and the blocks' rows of lecture
    and rally ``totals`` and ``counts``.

    Person ``i`` of household ``h`` in inminban ``u`` changes by
    ``-(hunger_effect x insecure + market_effect x dependence)`` (dependence: the share of the
    household's income in the ``outside_state`` columns), ``+ (1 - L) x k x lecture`` for an
    adult who attended ``k`` lectures (the number of ``thresholds`` below ``uniform32(key,
    i)``), ``- unit_loss[u, 0]`` for an adult (rallies) and ``- unit_loss[u, 1]`` (punishments
    seen). Then an adult moves ``neighbour_pull`` of the way toward ``unit_loyalty[u]`` (last
    month's mean) when closer than ``neighbour_confidence``, and loyalty is clipped to [0, 1].

    ``household_sums[h]`` gets the float32 sum of the adults' loyalty and
    ``household_loyalty[h]`` their mean (``initial_mean`` without adults). Per block, totals:
    lecture gain of the fed, of the hungry, rally loss; counts: adults who attended among the
    fed, among the hungry, adults exposed to a rally.
    """
    n = len(first_person)
    pull = np.float32(neighbour_pull)
    confidence = np.float32(neighbour_confidence)
    for b in range(first_block, end_block):
        # The lectures each of the block's persons attended, first, in loops the compiler
        # vectorises (for 1,000,000 persons on one thread, 8.8 ms instead of 11.6 ms drawing
        # and counting person by person below).
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        first = first_person[lo]
        end = first_person[hi] if hi < n else len(loyalty)
        draws = np.empty(end - first if move else 0, dtype=np.float32)
        for i in range(len(draws)):
            draws[i] = uniform32(key, first + i)
        attended = np.zeros(len(draws), dtype=np.int64)
        for j in range(len(thresholds)):
            for i in range(len(draws)):
                attended[i] += draws[i] > thresholds[j]
        gain_fed = gain_hungry = lost = 0.0
        went_fed = went_hungry = exposed = 0
        for h in range(lo, hi):
            u = inminban[h]
            insecure = food_insecure[h]
            total_income = np.float64(income[h, 0])
            for c in range(1, income.shape[1]):
                total_income += income[h, c]
            outside = income[h, outside_state[0]]
            for c in range(1, len(outside_state)):
                outside += income[h, outside_state[c]]
            dependence = np.float64(outside) / total_income if total_income > 0 else 0.0
            erosion = np.float32(hunger_effect * insecure + market_effect * dependence)
            lecture = lecture_hungry if insecure else lecture_fed
            rally, punished = unit_loss[u, 0], unit_loss[u, 1]
            target = np.float32(unit_loyalty[u])
            gained, went, adult_sum = _ZERO, 0, _ZERO
            # Branch-free: terms that do not apply are multiplied by zero.
            for i in range(first_person[h], first_person[h] + size[h]):
                value = loyalty[i]
                grown = np.float32(adult[i])
                if move:
                    k = attended[i - first]
                    gain = (_ONE - value) * np.float32(k) * lecture * grown
                    gained += gain
                    went += (k > 0) & adult[i]
                    value += -erosion + gain - rally * grown - punished
                    gap = target - value
                    value += gap * pull * np.float32(abs(gap) < confidence) * grown
                    value = min(max(value, _ZERO), _ONE)
                    loyalty[i] = value
                person_compliance[i] = compliance(value, unit_fear[u])
                adult_sum += value * grown
            household_sums[h] = adult_sum
            if adults[h] > 0:
                household_loyalty[h] = np.float64(adult_sum) / adults[h]
            else:
                household_loyalty[h] = initial_mean
            if not move:
                continue
            if insecure:
                gain_hungry += gained
                went_hungry += went
            else:
                gain_fed += gained
                went_fed += went
            if rally > 0:
                lost += rally * adults[h]
                exposed += int(adults[h])
        totals[b, 0], totals[b, 1], totals[b, 2] = gain_fed, gain_hungry, lost
        counts[b, 0], counts[b, 1], counts[b, 2] = went_fed, went_hungry, exposed


@njit(cache=True)
def unit_members(inminban, n_units):
    """The households of each inminban in ascending order (a counting sort): those of unit
    ``u`` are ``members[start[u]:start[u + 1]]``. Returns ``start`` (int64) and ``members``
    (int32)."""
    start = np.zeros(n_units + 1, dtype=np.int64)
    for h in range(len(inminban)):
        start[inminban[h] + 1] += 1
    for u in range(n_units):
        start[u + 1] += start[u]
    filled = start[:-1].copy()
    members = np.empty(len(inminban), dtype=np.int32)
    for h in range(len(inminban)):
        u = inminban[h]
        members[filled[u]] = h
        filled[u] += 1
    return start, members


@njit(nogil=True, cache=True)
def update_standing(
    lo, hi, sums, counts, standing, spending, memory, relatives_abroad, start, members
):
    """For the inminban ``lo .. hi - 1`` (households from :func:`unit_members`): smooth each
    household's visible standing (``standing x memory + (1 - memory) x spending``, float32)
    and set ``sums[side, u]`` and ``counts[side, u]``, the sum of the standing (float64, in
    household order) and the number of the households with relatives abroad (side 1) and of
    the others (side 0)."""
    keep, add = np.float32(memory), np.float32(1 - memory)
    for u in range(lo, hi):
        others = theirs = 0.0
        n_others = n_theirs = 0
        for k in range(start[u], start[u + 1]):
            h = members[k]
            value = standing[h] * keep + add * spending[h]
            standing[h] = value
            if relatives_abroad[h] > 0:
                theirs += value
                n_theirs += 1
            else:
                others += value
                n_others += 1
        sums[0, u], sums[1, u] = others, theirs
        counts[0, u], counts[1, u] = n_others, n_theirs


@njit(nogil=True, cache=True)
def count_adults(
    first_block, end_block, adult, counts, age_band, role, young, deceased, first_person, size
):
    """For the households in blocks ``first_block .. end_block - 1``: flag adults
    (``age_band`` from ``young`` on, not ``deceased``) in ``adult`` and count them per
    household in ``counts`` (float64)."""
    n = len(size)
    for b in range(first_block, end_block):
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            count = 0.0
            for i in range(first_person[h], first_person[h] + size[h]):
                adult[i] = (age_band[i] >= young) & (role[i] != deceased)
                count += adult[i]
            counts[h] = count


@njit(nogil=True, cache=True)
def unit_means(lo, hi, loyalty, start, members, household_sums, adults):
    """For the inminban ``lo .. hi - 1`` (households from :func:`unit_members`): the mean
    loyalty of its adults, from the households' float32 sums added in household order
    (float64), into ``loyalty``."""
    for u in range(lo, hi):
        total = grown = 0.0
        for k in range(start[u], start[u + 1]):
            h = members[k]
            total += household_sums[h]
            grown += adults[h]
        loyalty[u] = total / max(grown, 1.0)


@njit(nogil=True, cache=True)
def record_sums(
    first_block,
    end_block,
    by_group,
    by_role,
    first_person,
    inminban,
    province,
    food_insecure,
    unit_defectors,
    adults,
    household_loyalty,
    unit_fear,
    adult,
    role,
    loyalty,
    person_compliance,
):
    """For each block from ``first_block`` to ``end_block - 1``: ``by_group[b]``, the
    adult-weighted sums of household loyalty and compliance and the adults, by group
    (provinces, then food secure and insecure, then without and with defector families in the
    inminban); ``by_role[b]``, the sums of the adults' loyalty and compliance and their number,
    by role."""
    n = len(first_person)
    n_provinces = by_group.shape[1] - 4
    for b in range(first_block, end_block):
        lo, hi = b * BLOCK, min((b + 1) * BLOCK, n)
        for h in range(lo, hi):
            u = inminban[h]
            weight = adults[h]
            value = household_loyalty[h]
            complying = compliance(value, unit_fear[u])
            for g in range(3):
                if g == 0:
                    row = np.int64(province[h])
                elif g == 1:
                    row = n_provinces + np.int64(food_insecure[h])
                else:
                    row = n_provinces + 2 + np.int64(unit_defectors[u] > 0)
                by_group[b, row, 0] += value * weight
                by_group[b, row, 1] += complying * weight
                by_group[b, row, 2] += weight
        # The block's persons in one flat loop: faster than household by household.
        for i in range(first_person[lo], first_person[hi] if hi < n else len(loyalty)):
            grown = np.float64(adult[i])
            by_role[b, role[i], 0] += loyalty[i] * grown
            by_role[b, role[i], 1] += person_compliance[i] * grown
            by_role[b, role[i], 2] += grown


@njit(nogil=True, cache=True)
def ranks_within(values, bounds, ranks):
    """For each range ``bounds[g] .. bounds[g + 1] - 1`` of ``values`` (float32): the rank of
    each item, ties in storage order, scaled to [0, 1] (``rank / (items - 1)``, float32) into
    ``ranks``. The order is ``np.argsort(values, kind="stable")`` within the range (NaN last),
    by a radix sort of the values' bits turned into unsigned keys of the same order (three
    stable passes of 11 bits)."""
    bits = values.view(np.uint32)
    sign = np.uint32(1 << 31)
    digits = 1 << 11
    for g in range(len(bounds) - 1):
        lo, hi = bounds[g], bounds[g + 1]
        n = hi - lo
        order = np.arange(lo, hi)
        key = np.empty(n, dtype=np.uint32)
        for i in range(n):
            value, b = values[lo + i], bits[lo + i]
            if value != value:  # NaN
                key[i] = np.uint32(0xFFFFFFFF)
            elif value == 0:  # -0 ties with 0
                key[i] = sign
            else:  # negative: all bits flipped; positive: the sign bit set
                key[i] = ~b if b & sign else b | sign
        next_order = np.empty(n, dtype=np.int64)
        next_key = np.empty(n, dtype=np.uint32)
        for shift in range(0, 32, 11):
            position = np.zeros(digits + 1, dtype=np.int64)
            for i in range(n):
                position[((key[i] >> shift) & (digits - 1)) + 1] += 1
            for d in range(digits):
                position[d + 1] += position[d]
            for i in range(n):
                d = (key[i] >> shift) & (digits - 1)
                next_order[position[d]] = order[i]
                next_key[position[d]] = key[i]
                position[d] += 1
            order, next_order = next_order, order
            key, next_key = next_key, key
        scale = np.float32(max(n - 1, 1))
        for r in range(n):
            ranks[order[r]] = np.float32(r) / scale
