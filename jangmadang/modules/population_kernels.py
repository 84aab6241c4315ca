"""Compiled kernels of the population module: keeping per-household role counts and kinds in
step when persons change role. Their NumPy formulation is in ``tests/test_kernels.py``."""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def move_roles(role_count, kind, households, old_roles, new_role, role_to_kind):
    """Count each person (``households[j]`` ascending, ``old_roles[j]``) out of the old role and
    into ``new_role`` in ``role_count`` (roles x households), then set each changed household's
    kind: the highest ``role_to_kind`` among the roles it has members in (0 if none)."""
    for j in range(len(households)):
        role_count[old_roles[j], households[j]] -= 1
        role_count[new_role, households[j]] += 1
    for j in range(len(households)):
        h = households[j]
        if j > 0 and households[j - 1] == h:
            continue
        highest = 0
        for role in range(role_count.shape[0]):
            if role_count[role, h] > 0 and role_to_kind[role] > highest:
                highest = role_to_kind[role]
        kind[h] = highest
