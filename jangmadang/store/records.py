"""A run's record: the content of its ``run.json``, the source of truth for its catalog row.

A record holds every catalog column (:data:`RUN_COLUMNS`) and, for an ensemble member, its
ensemble and member number. It says which process on which host runs it, so a ``running``
record whose process is gone can be told apart (``interrupted``).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime

import jangmadang
from jangmadang.scenario import Scenario
from jangmadang.timeline import format_month

RUN_FILE = "run.json"
RESULTS_FILE = "results.parquet"
HOST = socket.gethostname()

RUN_COLUMNS = {
    "run_id": "VARCHAR PRIMARY KEY",
    "scenario": "VARCHAR",
    "scenario_hash": "VARCHAR",
    "seed": "BIGINT",
    "population": "BIGINT",
    "start_month": "VARCHAR",
    "end_month": "VARCHAR",
    "package_version": "VARCHAR",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "wall_seconds": "DOUBLE",
    "status": "VARCHAR",
    "error": "VARCHAR",
    "results_path": "VARCHAR",
    "pid": "BIGINT",
    "host": "VARCHAR",
    "reached_month": "VARCHAR",
}
_TIMESTAMPS = ("started_at", "finished_at")


def new_record(scenario: Scenario, started: datetime) -> dict:
    """A run's record from its start: the catalog columns, and no ensemble."""
    return dict.fromkeys(RUN_COLUMNS) | {
        "scenario": scenario.name,
        "scenario_hash": scenario.fingerprint(),
        "seed": scenario.seed,
        "population": scenario.population.size,
        "start_month": format_month(scenario.start),
        "end_month": format_month(scenario.end),
        "package_version": jangmadang.__version__,
        "started_at": started,
        "status": "running",
        "pid": os.getpid(),
        "host": HOST,
        "ensemble_id": None,
        "member": None,
    }


def mark_completed(record: dict) -> dict:
    """Mark a record completed: it reached its last month; its results path is catalogued
    relative to the results folder (which may move)."""
    record |= {
        "status": "completed",
        "reached_month": record["end_month"],
        "results_path": f"runs/{record['run_id']}/{RESULTS_FILE}",
    }
    return record


def to_json(record: dict) -> str:
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()},
        indent=1,
    )


def from_json(text: str) -> dict:
    record = json.loads(text)
    for key in (*_TIMESTAMPS, "created_at"):
        if record.get(key):
            record[key] = datetime.fromisoformat(record[key])
    return record


def alive(pid) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def effective_status(row: dict) -> str:
    """``running`` unless its process is known to be gone: then ``interrupted``."""
    status = row["status"]
    pid = row.get("pid")
    if status == "running" and row.get("host") == HOST and pid == pid and pid is not None:
        return "running" if alive(pid) else "interrupted"
    return status
