"""Shared fixtures: small populations and short windows keep the suite fast."""

import pytest

import jangmadang as jm

SMALL = 20_000


@pytest.fixture(scope="session")
def small_run():
    """A baseline run at 20,000 persons over 2019-2021, shared by read-only tests."""
    return jm.Sim("baseline", population=SMALL, start="2019-01", end="2021-12").run()
