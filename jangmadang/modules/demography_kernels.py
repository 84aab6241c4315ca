"""Compiled kernels of the demography module: when each person's next chance of dying or giving
birth comes, and where persons go in the yearly rebuild.

Deaths and births are rare (about one person in a thousand a month), so instead of a draw for
every person every month each person carries the month of their next *candidate* event, drawn
from an upper bound of their monthly probability (thinning: Lewis and Shedler 1979). In that
month the candidate becomes a death (or birth) with the ratio of the true probability to the
bound, and the next candidate is drawn. Every month's outcome then has exactly the true
probability, and a month touches only the persons whose candidate is due.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK, uniform64

NEVER = np.iinfo(np.int16).max  # month index of a candidate that never comes
NOTHING, RETIRES, STOPS_PAYING, LEAVES_SCHOOL = 0, 1, 2, 3  # life course, once a year


@njit(nogil=True, cache=True)
def next_candidates(out, persons, now, birth_month, female, cumulative, key):
    """For each of ``persons`` (aged ``now - birth_month`` months now), the month of the next
    candidate event after ``now``, into ``out[j]``. ``cumulative[sex, k]`` is the sum of the
    monthly rates (-log(1 - bound)) of ages 0..k-1 months; beyond the table the last age's rate
    holds. The waiting time is the inverse of the cumulative rate at an exponential draw."""
    width = cumulative.shape[1] - 1
    for j in range(len(persons)):
        i = persons[j]
        sex = 1 if female[i] else 0
        table = cumulative[sex]
        last_rate = table[width] - table[width - 1]
        age = now - np.int64(birth_month[i])
        start = age + 1
        reached = table[start] if start <= width else table[width] + (start - width) * last_rate
        target = reached - np.log(1.0 - uniform64(key, i))
        if target <= table[width]:
            k = np.searchsorted(table, target)  # first k with table[k] >= target
            when = k - 1
        elif last_rate > 0:
            when = (
                max(width, start)
                + np.int64(np.ceil((target - max(reached, table[width])) / last_rate))
                - 1
            )
        else:
            out[j] = NEVER
            continue
        due = now + when - age
        out[j] = due if due < NEVER else NEVER


@njit(nogil=True, cache=True)
def count_stayers(first_block, end_block, stayers, first_person, size, role, deceased, moving):
    """Living members of each household (blocks ``first_block .. end_block - 1``) who stay:
    not dead and not ``moving`` to another household."""
    n = len(size)
    for b in range(first_block, end_block):
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            count = 0
            for i in range(first_person[h], first_person[h] + size[h]):
                count += role[i] != deceased and not moving[i]
            stayers[h] = count


@njit(nogil=True, cache=True)
def place_stayers(
    first_block,
    end_block,
    person_new,
    source,
    new_household,
    first_person,
    size,
    role,
    deceased,
    moving,
    household_new,
    first_new,
):
    """The members who stay keep their order at the start of their household's new rows:
    ``person_new`` (old -> new), ``source`` (new -> old) and each new row's household. Blocks
    of households write disjoint rows, so they run on any number of threads."""
    n = len(size)
    for b in range(first_block, end_block):
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            t = household_new[h]
            if t < 0:
                continue
            j = first_new[t]
            for i in range(first_person[h], first_person[h] + size[h]):
                if role[i] != deceased and not moving[i]:
                    person_new[i] = j
                    source[j] = i
                    new_household[j] = t
                    j += 1


@njit(cache=True)
def place_arrivals(
    person_new,
    source,
    new_household,
    filled,
    movers,
    mover_home,
    newborn_home,
    mother,
    household_new,
    first_new,
):
    """After the stayers (``filled`` of each new household's rows are taken): those who
    married in, then the newborns in the order of the newborn list (a newborn's row copies its
    mother's). Returns the newborns' rows."""
    for k in range(len(movers)):
        t = household_new[mover_home[k]]
        j = first_new[t] + filled[t]
        filled[t] += 1
        person_new[movers[k]] = j
        source[j] = movers[k]
        new_household[j] = t
    newborn_rows = np.empty(len(newborn_home), dtype=np.int64)
    for k in range(len(newborn_home)):
        t = household_new[newborn_home[k]]
        j = first_new[t] + filled[t]
        filled[t] += 1
        source[j] = mother[k]
        newborn_rows[k] = j
        new_household[j] = t
    return newborn_rows


@njit(cache=True)
def order_households(size, stayers, parent_sorted, by_parent):
    """The rebuilt order of households: those with anyone left, in their order, each followed
    by the households formed from it this year. ``size``: members after the rebuild, old
    households then new ones (``by_parent``: new households in the order of
    ``parent_sorted``). Returns ``household_new`` (old or new -> row, -1 dissolved), ``source``
    (row -> the old household it continues, a new one's parent), ``new_size``,
    ``first_new`` (first person of each row, and the total last), the new households' rows and
    ``filled`` (rows of each household that its stayers take)."""
    n_old, formed = len(stayers), len(parent_sorted)
    rows = formed
    for h in range(n_old):
        rows += size[h] > 0
    household_new = np.full(n_old + formed, -1, dtype=np.int32)
    source = np.empty(rows, dtype=np.int32)
    new_size = np.empty(rows, dtype=np.int16)
    first_new = np.empty(rows + 1, dtype=np.int64)
    filled = np.zeros(rows, dtype=np.int16)
    created_rows = np.empty(formed, dtype=np.int64)
    first_new[0] = 0
    t = k = 0
    for h in range(n_old):
        if size[h] > 0:
            household_new[h] = t
            source[t] = h
            new_size[t] = size[h]
            filled[t] = stayers[h]
            first_new[t + 1] = first_new[t] + size[h]
            t += 1
        while k < formed and parent_sorted[k] == h:
            created = n_old + by_parent[k]
            household_new[created] = t
            source[t] = h
            new_size[t] = size[created]
            first_new[t + 1] = first_new[t] + size[created]
            created_rows[k] = t
            t += 1
            k += 1
    return household_new, source, new_size, first_new, created_rows, filled


@njit(cache=True)
def nearest_in_unit(gone, surviving, inminban):
    """For each dissolving household, the nearest surviving household in storage order of the
    same inminban (the one before, else the one after), or -1."""
    heir = np.full(len(gone), -1, dtype=np.int64)
    n = len(surviving)
    for k in range(len(gone)):
        h = gone[k]
        before = h - 1
        while before >= 0 and not surviving[before]:
            before -= 1
        if before >= 0 and inminban[before] == inminban[h]:
            heir[k] = before
            continue
        after = h + 1
        while after < n and not surviving[after]:
            after += 1
        if after < n and inminban[after] == inminban[h]:
            heir[k] = after
    return heir


@njit(nogil=True, cache=True)
def age_everyone(
    lo,
    hi,
    codes,
    age_band,
    role,
    female,
    married,
    exempt,
    birth_month,
    now,
    band_starts,
    retiring_role,
    dependant,
    school_leaving_age,
    retirement_men,
    retirement_women,
):
    """Persons ``lo .. hi - 1``, once a year: each one's age band, and what the life course does
    to them (``codes``): state workers, cadres and agents past retirement age retire, traders
    past it stop paying to be excused from a workplace, and dependants of working age (men,
    and women until marriage) leave school for an assigned job."""
    # Branch-free (ages and roles vary from person to person): the band counts the band
    # starts reached, and each code applies where its condition holds.
    for i in range(lo, hi):
        age = (now - np.int64(birth_month[i])) // 12
        band = 0
        for j in range(len(band_starts)):
            band += age >= band_starts[j]
        age_band[i] = band
        r = role[i]
        old = age >= (retirement_women if female[i] else retirement_men)
        retiring = retiring_role[r]
        leaves = (r == dependant) & (age >= school_leaving_age) & ~(female[i] & married[i])
        codes[i] = (
            RETIRES * (old & retiring)
            + STOPS_PAYING * (old & ~retiring & exempt[i])
            + LEAVES_SCHOOL * (~old & leaves)
        )


@njit(nogil=True, cache=True)
def due_now(death_due, birth_due, now):
    """The persons whose candidate death, and those whose candidate birth, is due this month
    (one pass over both arrays: counting, then writing)."""
    deaths = births = 0
    for i in range(len(death_due)):
        deaths += death_due[i] == now
        births += birth_due[i] == now
    dying = np.empty(deaths, dtype=np.int64)
    bearing = np.empty(births, dtype=np.int64)
    deaths = births = 0
    for i in range(len(death_due)):
        if death_due[i] == now:
            dying[deaths] = i
            deaths += 1
        if birth_due[i] == now:
            bearing[births] = i
            births += 1
    return dying, bearing
