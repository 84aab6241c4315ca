"""Shared fixtures: small populations and short windows keep the suite fast."""

import os

import pytest
from hypothesis import settings

import jangmadang as jm

# CI must not fail by chance: there Hypothesis replays a fixed sequence of examples (CI=true is
# set by CI); local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else "dev")

SMALL = 20_000


@pytest.fixture(scope="session")
def small_run():
    """A baseline run at 20,000 persons over 2019-2021, shared by read-only tests."""
    return jm.Sim("baseline", population=SMALL, start="2019-01", end="2021-12").run()


@pytest.fixture(scope="module")
def client():
    """A local Dask cluster of two worker processes, shared by a test file's experiments."""
    from jangmadang.experiments.runner import dask_client

    with dask_client(workers=2) as c:
        yield c
