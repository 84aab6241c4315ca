"""Agent state as a struct of NumPy arrays: one array per variable, one row per agent.

No Python object exists per person or household. Modules declare the arrays they own with
:meth:`ArrayStruct.add`, so the whole state of 26 million persons is a few compact arrays.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class ArrayStruct:
    """Named arrays of equal length; fields read as attributes (``people.age_band``)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.fields: dict[str, np.ndarray] = {}

    def add(self, name: str, dtype, fill=0, columns: int | None = None) -> np.ndarray:
        """Declare a field; ``columns`` makes it a 2-D (n, columns) array."""
        if name in self.fields:
            raise ValueError(f"state field {name!r} declared twice")
        shape = self.n if columns is None else (self.n, columns)
        array = np.full(shape, fill, dtype=dtype)
        self.fields[name] = array
        return array

    def set(self, name: str, array: np.ndarray) -> None:
        """Declare a field from an array computed elsewhere (its length must match)."""
        if len(array) != self.n:
            raise ValueError(f"field {name!r} has {len(array)} rows, expected {self.n}")
        self.fields[name] = array

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.fields.values())


class Role(IntEnum):
    """What a person does for a living; one value per person (int8)."""

    DEPENDANT = 0  # children, the elderly and adults outside the labour force
    FARMER = 1  # cooperative farm member, tied to the farm
    WORKER = 2  # state-enterprise worker, tied to the assigned workplace
    TRADER = 3  # market trader (includes workers who pay a fee to be excused from work)
    DONJU = 4  # "money master": runs a business with capital
    MANAGER = 5  # cadre: state-enterprise manager
    PARTY_SECRETARY = 6  # cadre: party secretary of an enterprise or unit
    OFFICIAL = 7  # cadre: local party or government official
    MSS_AGENT = 8  # Ministry of State Security agent
    INMINBAN_HEAD = 9  # head of a neighbourhood watch unit
    ABROAD = 10  # left the country: in transit through China or settled in South Korea
    DETAINED = 11  # caught and sent back; held in a labour camp


CADRE_ROLES = (Role.MANAGER, Role.PARTY_SECRETARY, Role.OFFICIAL)


class HouseholdKind(IntEnum):
    """A household's leading role, used to break results down by group."""

    DEPENDANT = 0
    FARMER = 1
    WORKER = 2
    TRADER = 3
    INMINBAN_HEAD = 4
    MSS_AGENT = 5
    CADRE = 6
    DONJU = 7


# Household kind of each role; a household takes the highest kind among its members.
ROLE_TO_KIND = np.array(
    [
        HouseholdKind.DEPENDANT,
        HouseholdKind.FARMER,
        HouseholdKind.WORKER,
        HouseholdKind.TRADER,
        HouseholdKind.DONJU,
        HouseholdKind.CADRE,
        HouseholdKind.CADRE,
        HouseholdKind.CADRE,
        HouseholdKind.MSS_AGENT,
        HouseholdKind.INMINBAN_HEAD,
        HouseholdKind.DEPENDANT,  # abroad: no longer part of the household's life at home
        HouseholdKind.DEPENDANT,  # detained
    ],
    dtype=np.int8,
)


class AgeBand(IntEnum):
    CHILD = 0  # 0-14
    YOUNG = 1  # 15-29
    ADULT = 2  # 30-44
    MIDDLE = 3  # 45-59
    ELDERLY = 4  # 60+


WORKING_AGE = (AgeBand.YOUNG, AgeBand.ADULT, AgeBand.MIDDLE)


def label(enum_member: IntEnum) -> str:
    return enum_member.name.lower()


def sorted_distinct(indices) -> np.ndarray:
    """The distinct values of an index array in ascending order (``np.unique``, but a plain
    sort: much faster for the large index arrays the modules pass around)."""
    indices = np.sort(np.asarray(indices))
    if len(indices) > 1:
        repeated = indices[1:] == indices[:-1]
        if repeated.any():
            indices = indices[np.r_[True, ~repeated]]
    return indices


def draw_within_groups(
    pool: np.ndarray, pool_group: np.ndarray, groups: np.ndarray, rng
) -> np.ndarray:
    """For each entry of ``groups``, a random member of ``pool`` in the same group (e.g. an
    agent of the case's province), with replacement; -1 where the group has no member.

    Groups are visited in ascending order with one ``rng.integers`` draw each, so callers that
    share the rule share the draws.
    """
    chosen = np.full(len(groups), -1, dtype=np.int64)
    for group in np.unique(groups):
        members = pool[pool_group == group]
        mine = groups == group
        if len(members):
            chosen[mine] = members[rng.integers(0, len(members), np.count_nonzero(mine))]
    return chosen


def count_runs(ascending: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of an ascending array and how often each occurs (uint8 counts, for
    per-household tallies: no household has 256 members)."""
    if len(ascending) == 0:
        return ascending, np.zeros(0, dtype=np.uint8)
    starts = np.flatnonzero(np.r_[True, ascending[1:] != ascending[:-1]])
    counts = np.diff(np.r_[starts, len(ascending)])
    return ascending[starts], counts.astype(np.uint8)
