"""What the server was started with: the results folder and whether pages may run anything.

The Solara server imports the app in its own way, so the command line hands these over through
the environment (read on every call, so tests can change them), not through arguments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

OUT = "JANGMADANG_DASHBOARD_OUT"
READ_ONLY = "JANGMADANG_DASHBOARD_READ_ONLY"
WORKDIR = "JANGMADANG_DASHBOARD_WORKDIR"


@dataclass(frozen=True)
class Settings:
    out: Path  # the results folder: every run, ensemble and figure the pages can reach
    read_only: bool  # browse only: no run, comparison or file written
    workdir: Path  # where the Run page looks for scenario files (``*.toml``, this folder only)


def configure(out: str | Path, read_only: bool = False, workdir: str | Path | None = None) -> None:
    os.environ[OUT] = str(Path(out).resolve())
    os.environ[READ_ONLY] = "1" if read_only else ""
    os.environ[WORKDIR] = str(Path(workdir or Path.cwd()).resolve())


def settings() -> Settings:
    return Settings(
        out=Path(os.environ.get(OUT, "results")),
        read_only=bool(os.environ.get(READ_ONLY)),
        workdir=Path(os.environ.get(WORKDIR) or Path.cwd()),
    )


def without_telemetry() -> None:
    """Solara reports server starts and page views to an analytics service by default; a
    dashboard of simulations about North Korea, perhaps run by an NGO, sends nothing anywhere."""
    from solara.server import settings as solara_settings

    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    solara_settings.telemetry.mixpanel_enable = False
