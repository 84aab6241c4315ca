"""Compiled kernels of the demography module: the month's deaths and births in one pass over
persons, and the placement of persons in the yearly rebuild.

``births_and_deaths`` works on a range of fixed blocks of households and draws from
counter-based uniforms, so ``kernels.in_blocks`` runs it on any number of threads with the same
results (see ``jangmadang.kernels``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from jangmadang.kernels import BLOCK, uniform32

NONE, DIES, GIVES_BIRTH = 0, 1, 2  # a person's event this month


@njit(nogil=True, cache=True)
def births_and_deaths(
    first_block,
    end_block,
    event,
    exposure,
    deaths,
    births,
    first_person,
    size,
    food_insecure,
    role,
    female,
    married,
    birth_month,
    now,
    death_probability,
    secure_factor,
    hungry_factor,
    birth_probability,
    key_deaths,
    key_births,
    abroad,
    detained,
    deceased,
):
    """For the persons of households in blocks ``first_block .. end_block - 1``: ``event[i]``
    is ``DIES``, ``GIVES_BIRTH`` or ``NONE``. Persons abroad or already deceased take no part.
    Everyone else counts in ``exposure[block, sex, age]`` (sex 0 men, 1 women; age in completed
    years, the last one open) and dies with ``death_probability[sex, age]`` times the hunger
    factor of the household (the hungry one when detained); a married woman at home may give
    birth with ``birth_probability[age]``. Deaths and births are tallied per block like the
    exposure (``births`` by the mother's age)."""
    n = len(size)
    oldest = death_probability.shape[1] - 1
    for b in range(first_block, end_block):
        for h in range(b * BLOCK, min((b + 1) * BLOCK, n)):
            factor = hungry_factor if food_insecure[h] else secure_factor
            for i in range(first_person[h], first_person[h] + size[h]):
                event[i] = NONE
                r = role[i]
                if r == abroad or r == deceased:  # noqa: SIM109 (plain compares in Numba)
                    continue
                sex = 1 if female[i] else 0
                age = min((now - np.int64(birth_month[i])) // 12, oldest)
                exposure[b, sex, age] += 1
                f = hungry_factor if r == detained else factor
                if uniform32(key_deaths, i) < death_probability[sex, age] * f:
                    event[i] = DIES
                    deaths[b, sex, age] += 1
                elif (
                    sex == 1
                    and married[i]
                    and r != detained
                    and uniform32(key_births, i) < birth_probability[age]
                ):
                    event[i] = GIVES_BIRTH
                    births[b, age] += 1


@njit(cache=True)
def place_persons(household, alive, movers, mover_home, newborn_home, household_new, first_new):
    """Where each person goes in the rebuilt arrays. Households keep their members in order
    (those who stay, then those who married in, then the newborns). Returns ``person_new`` (old
    index -> new, -1 for the dead), ``source`` (new index -> old person; a newborn's row gets
    its position in the newborn list, as ``-1 - k``)."""
    n = len(household)
    n_new = first_new[-1]
    person_new = np.full(n, -1, dtype=np.int32)
    source = np.empty(n_new, dtype=np.int32)
    filled = np.zeros(len(first_new) - 1, dtype=np.int64)
    for k in range(len(movers)):
        person_new[movers[k]] = -2  # placed in the second pass
    for i in range(n):
        if alive[i] and person_new[i] == -1:
            t = household_new[household[i]]
            j = first_new[t] + filled[t]
            filled[t] += 1
            person_new[i] = j
            source[j] = i
    for k in range(len(movers)):
        t = household_new[mover_home[k]]
        j = first_new[t] + filled[t]
        filled[t] += 1
        person_new[movers[k]] = j
        source[j] = movers[k]
    for k in range(len(newborn_home)):
        t = household_new[newborn_home[k]]
        j = first_new[t] + filled[t]
        filled[t] += 1
        source[j] = -1 - k
    return person_new, source
