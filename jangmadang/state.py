"""Agent state as a struct of NumPy arrays: one array per variable, one row per agent.

No Python object exists per person or household. Modules declare the arrays they own with
:meth:`ArrayStruct.add`, so the whole state of 26 million persons is a few compact arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class ArrayStruct:
    """Named arrays of equal length; fields read as attributes (``people.age_band``)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.fields: dict[str, np.ndarray] = {}
        self.inherited: set[str] = set()  # fields a new row copies from the row it came from
        self.scratch: set[str] = set()  # fields recomputed each month before anyone reads them

    def add(
        self,
        name: str,
        dtype,
        fill=0,
        columns: int | None = None,
        inherit: bool = False,
        scratch: bool = False,
    ) -> np.ndarray:
        """Declare a field; ``columns`` makes it a 2-D (n, columns) array. ``inherit``: a row
        created later (a newborn, a new household) copies the value of the row it came from
        (the mother, the groom's household) instead of starting at zero. ``scratch``: the
        field is recomputed every month before it is read, so a rebuild need not carry it."""
        if name in self.fields:
            raise ValueError(f"state field {name!r} declared twice")
        shape = self.n if columns is None else (self.n, columns)
        array = np.full(shape, fill, dtype=dtype)
        self.fields[name] = array
        if inherit:
            self.inherited.add(name)
        if scratch:
            self.scratch.add(name)
        return array

    def set(self, name: str, array: np.ndarray, inherit: bool = False) -> None:
        """Declare a field from an array computed elsewhere (its length must match)."""
        if len(array) != self.n:
            raise ValueError(f"field {name!r} has {len(array)} rows, expected {self.n}")
        self.fields[name] = array
        if inherit:
            self.inherited.add(name)

    def rearrange(
        self,
        source: np.ndarray,
        new_rows: np.ndarray,
        origin: np.ndarray,
        written: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Rebuild every field in a new row order: row ``i`` takes old row ``source[i]``,
        except ``new_rows``, which start at zero or, for inherited fields, copy old row
        ``origin`` (aligned with ``new_rows``). Fields in ``written`` are replaced by the array
        given (computed for the new order already). Used by the yearly rebuild."""
        from jangmadang.kernels import take  # compiled: only the rebuild needs it

        written = written or {}
        for name, old in self.fields.items():
            if name in written:
                self.fields[name] = written[name]
                continue
            if name in self.scratch:  # zeros: pages the month's computation fills
                self.fields[name] = np.zeros((len(source), *old.shape[1:]), dtype=old.dtype)
                continue
            new = take(old, source)
            new[new_rows] = old[origin] if name in self.inherited else 0
            self.fields[name] = new
        self.n = len(source)

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["fields"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value) -> None:
        """``hh.spending += x`` assigns the field back: keep it in ``fields``, not beside it
        (a copy beside it would go stale when the rows are rearranged)."""
        fields = self.__dict__.get("fields")
        if fields is not None and name in fields:
            if len(value) != self.n:
                raise ValueError(f"field {name!r} has {len(value)} rows, expected {self.n}")
            fields[name] = value
        else:
            object.__setattr__(self, name, value)

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
    DECEASED = 12  # died this year; the row goes at the yearly rebuild of the population


# Persons who are not at home: they neither eat, earn nor take part in the inminban's life.
AWAY_ROLES = (Role.ABROAD, Role.DETAINED, Role.DECEASED)
# Persons outside the country's living population (the camps are inside it).
NOT_HERE = (Role.ABROAD, Role.DECEASED)


CADRE_ROLES = (Role.MANAGER, Role.PARTY_SECRETARY, Role.OFFICIAL)


def role_mask(roles) -> np.ndarray:
    """``mask[role]`` is True for ``roles``: persons' roles looked up in a table, for the
    membership tests modules make every month (``np.isin`` took 27 us for 500 persons and
    8.9 ms for 1,000,000, the lookup 2 us and 1.8 ms)."""
    mask = np.zeros(len(Role), dtype=bool)
    mask[list(roles)] = True
    return mask


IS_AWAY = role_mask(AWAY_ROLES)
IS_NOT_HERE = role_mask(NOT_HERE)


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
        HouseholdKind.DEPENDANT,  # deceased
    ],
    dtype=np.int8,
)


class AgeBand(IntEnum):
    CHILD = 0  # 0-14
    YOUNG = 1  # 15-29
    ADULT = 2  # 30-44
    MIDDLE = 3  # 45-59
    ELDERLY = 4  # 60+


AGE_BAND_STARTS = np.array([15, 30, 45, 60])  # first year of age of each band after CHILD


def age_bands(years: np.ndarray) -> np.ndarray:
    """The age band (int8) of each age in completed years."""
    return np.searchsorted(AGE_BAND_STARTS, years, side="right").astype(np.int8)


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


@dataclass(frozen=True)
class Renumbering:
    """How the yearly rebuild of the population moved rows (``Module.renumbered``)."""

    person: np.ndarray  # old person -> new index, -1 for the dead
    household: np.ndarray  # old household -> new index, -1 for a dissolved one
    household_source: np.ndarray  # new household -> the old one it continues (new: the groom's)
    created: np.ndarray  # households formed this year (new indices)
    arrived: np.ndarray  # persons (new indices) in a household they were not in: movers, newborns
    left: np.ndarray  # the household each of them left (new index; -1: none, or dissolved)

    def persons(self, old: np.ndarray) -> np.ndarray:
        return self.person[old]

    def households(self, old: np.ndarray) -> np.ndarray:
        return self.household[old]

    def per_household(self, values: np.ndarray, fill=0) -> np.ndarray:
        """A per-household array in the new order; households formed this year get ``fill``."""
        new = values[self.household_source]
        new[self.created] = fill
        return new
