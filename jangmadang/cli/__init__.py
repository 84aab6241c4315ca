"""Command line: ``jangmadang run``, ``resume``, ``scenarios``, ``show-scenario``, ``runs``,
``query``, ``plot``, ``report``, the experiments (``ensemble``, ``compare``, ``sensitivity``,
``calibrate``, ``validate``), ``evidence``, ``doctor`` and ``dashboard``.

Each file registers its commands on the one Typer app of :mod:`jangmadang.cli.common`;
importing this package registers them all, in the order ``--help`` lists them.
"""

# isort: off
from jangmadang.cli.common import app
from jangmadang.cli import simulate, catalog, plot, report, experiments, evidence, doctor, dashboard  # noqa: F401 (registration)
# isort: on

__all__ = ["app"]
