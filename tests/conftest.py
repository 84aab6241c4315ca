"""Shared fixtures: small populations and short windows keep the suite fast."""

import atexit
import os
import subprocess
import sys

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


# DuckDB's binding (nanobind) may report its module's objects as "leaked" when the interpreter
# exits: dozens of lines after pytest's summary, about the binding's shutdown, not about the code
# under test. At exit (pytest has restored stderr by then), stderr goes through a filter that
# drops those lines only.
_SIEVE = """
import sys
for line in sys.stdin:
    if not line.startswith(("nanobind: ", " - leaked ")):
        sys.stderr.write(line)
        sys.stderr.flush()
"""


def _sift_stderr() -> None:
    sys.stderr.flush()
    sieve = subprocess.Popen([sys.executable, "-c", _SIEVE], stdin=subprocess.PIPE)
    os.dup2(sieve.stdin.fileno(), 2)


def pytest_unconfigure(config):
    if "duckdb" in sys.modules:
        atexit.register(_sift_stderr)
