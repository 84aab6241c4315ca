"""What the pages share: the store of ``--out``, figures as PNG bytes, the catalog's choices
and a cached loader of stored runs and ensembles."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd
import solara

from jangmadang.dashboard.config import settings
from jangmadang.dashboard.jobs import DRAWING
from jangmadang.scenario import ScenarioError
from jangmadang.store import ResultsStore, StoreError


def store() -> ResultsStore:
    return ResultsStore(settings().out)


def png(draw: Callable[[Path], Path]) -> bytes:
    """A figure that a plotting function writes to a path, as PNG bytes for the page."""
    with DRAWING, tempfile.TemporaryDirectory() as folder:
        return draw(Path(folder) / "figure.png").read_bytes()


def completed_runs(results: ResultsStore) -> pd.DataFrame:
    """Completed runs that are not ensemble members (those are shown as their ensemble),
    newest first; empty without a catalog."""
    try:
        runs = results.runs()
        members = {
            run_id
            for ensemble in results.ensembles().ensemble_id
            for run_id in results.ensemble_members(ensemble).run_id
        }
    except StoreError:
        return pd.DataFrame(columns=["run_id", "scenario", "status", "population"])
    return runs[(runs.status == "completed") & ~runs.run_id.isin(members)].iloc[::-1]


def stored_choices(results: ResultsStore, ensembles: bool = True) -> dict[str, str]:
    """Label -> id of every completed run and (with ``ensembles``) every ensemble with
    members, newest first: what the pages offer to pick from."""
    choices = {
        f"{row.run_id} (run, {row.population:,} persons)": row.run_id
        for row in completed_runs(results).itertuples()
    }
    if ensembles:
        try:
            stored = results.ensembles()
        except StoreError:
            return choices
        for row in stored[stored.members > 0].iloc[::-1].itertuples():
            choices[f"{row.ensemble_id} (ensemble of {row.members} runs)"] = row.ensemble_id
    return choices


def load_stored(results: ResultsStore, stored_id: str):
    """A stored run or ensemble (:class:`jangmadang.report.Stored`) and None, or None and why
    it cannot be read (a run stored by a version whose scenario files no longer load, say).
    Each is read once: a run's results never change, an ensemble's only with new members."""
    try:
        members = len(results.ensemble_members(stored_id))
        return _load(str(results.out), stored_id, members), None
    except (StoreError, ScenarioError, OSError, KeyError) as exc:
        return None, f"{stored_id} cannot be read: {' '.join(str(exc).split())}"


@lru_cache(maxsize=16)
def _load(out: str, stored_id: str, members: int):
    from jangmadang.report import load_stored as load

    return load(ResultsStore(out), stored_id)


@solara.component
def Problem(message: str | None):
    """A mistake or a failure, in one line, where the user acted."""
    if message:
        solara.Error(message, dense=True)


@solara.component
def Heading(text: str, level: int = 2):
    """A heading as plain HTML (Solara's Markdown would load a maths renderer from a CDN)."""
    solara.v.Html(tag=f"h{level}", children=[text], style_="margin: 0.6em 0 0.3em 0")


@solara.component
def Note(text: str):
    solara.v.Html(tag="p", children=[text], style_="color: #555; margin: 0.2em 0")
