"""The Results page: the catalog's runs and ensembles (filtered by scenario, date and status),
chosen indicators of one of them by dimension and group, drawn with the scenario's events
(an ensemble as median and 5-95% band), and the selection as CSV or Parquet."""

from __future__ import annotations

import io

import pandas as pd
import solara

from jangmadang.dashboard.common import (
    Heading,
    Problem,
    load_stored,
    png,
    store,
    stored_choices,
)
from jangmadang.store import StoreError

STATUSES = ("all", "completed", "running", "interrupted", "failed")
RUN_COLUMNS = ("run_id", "scenario", "status", "reached_month", "population", "seed",
               "started_at", "wall_seconds", "error")  # fmt: skip


def filtered(frame: pd.DataFrame, scenario: str, since: str, status: str, when: str):
    """Rows of ``frame`` of ``scenario`` (or all), from the day ``since`` (YYYY-MM-DD, or
    blank) in column ``when``, and of ``status`` (or all, or absent)."""
    if scenario != "all":
        frame = frame[frame.scenario == scenario]
    if status != "all" and "status" in frame:
        frame = frame[frame.status == status]
    if since.strip():
        frame = frame[pd.to_datetime(frame[when]) >= pd.Timestamp(since.strip())]
    return frame


def selection(results: pd.DataFrame, indicators, dimension: str, groups) -> pd.DataFrame:
    """The rows of the chosen indicators in one dimension (and groups: all if none chosen)."""
    rows = results[results.indicator.isin(indicators) & (results.dimension == dimension)]
    return rows[rows.group.isin(groups)] if groups else rows


def chart(stored, rows: pd.DataFrame, indicators, dimension: str) -> bytes:
    """A run's chosen series (one line each group), or an ensemble's national bands, with the
    scenario's events numbered on the top panels and named once in the key."""
    from jangmadang.experiments.ensemble import ensemble_summary
    from jangmadang.plotting import plot_ensemble, plot_run

    drawn = [i for i in indicators if i in set(rows.indicator)]
    events = stored.scenario.events
    if stored.kind == "ensemble" and dimension == "all":
        summary = ensemble_summary(store(), stored.id, drawn)
        return png(lambda path: plot_ensemble(summary, events, path, drawn, stored.title))
    return png(lambda path: plot_run(rows, events, path, drawn, title=stored.title))


def download(stored, rows: pd.DataFrame, dimension: str, indicators) -> pd.DataFrame:
    """What is drawn, as a table: a run's rows, or an ensemble's statistics over members."""
    if stored.kind == "ensemble" and dimension == "all":
        from jangmadang.experiments.ensemble import ensemble_summary

        return ensemble_summary(store(), stored.id, list(indicators))
    return rows.assign(id=stored.id)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@solara.component
def Catalog(scenario, since, status):
    results = store()
    try:
        runs = results.runs()
        ensembles = results.ensembles()
    except StoreError as exc:
        Problem(str(exc))
        return
    runs = filtered(runs, scenario, since, status, "started_at")
    ensembles = filtered(ensembles, scenario, since, "all", "created_at")
    solara.Text(f"{len(runs)} runs", style={"font-weight": "bold"})
    shown = [c for c in RUN_COLUMNS if c in runs]
    solara.DataFrame(readable(runs[shown].iloc[::-1]), items_per_page=8)
    solara.Text(f"{len(ensembles)} ensembles", style={"font-weight": "bold"})
    solara.DataFrame(readable(ensembles.iloc[::-1]), items_per_page=5)


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A catalog table as a reader scans it: times to the minute, seconds to a tenth, no
    "None" where nothing went wrong."""
    frame = frame.reset_index(drop=True).copy()
    for column in ("started_at", "created_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d %H:%M")
    if "wall_seconds" in frame:
        frame["wall_seconds"] = frame["wall_seconds"].round(1)
    return frame.astype(object).where(frame.notna(), "")


@solara.component
def Series(stored_id: str):
    stored, problem = load_stored(store(), stored_id)
    if stored is None:
        Problem(problem)
    else:
        Selection(stored)


@solara.component
def Selection(stored):
    stored_id = stored.id
    frame = stored.results
    indicator_names = sorted(frame.indicator.unique())
    preferred = [
        i for i in ("food_insecure_share", "food_price_usd_per_kg") if i in indicator_names
    ]
    indicators, set_indicators = solara.use_state(preferred or indicator_names[:1])
    dimension, set_dimension = solara.use_state("all")
    groups, set_groups = solara.use_state([])
    dimensions = sorted(frame.loc[frame.indicator.isin(indicators), "dimension"].unique())
    if dimension not in dimensions and dimensions:
        dimension = "all" if "all" in dimensions else dimensions[0]
    available = sorted(
        frame.loc[frame.indicator.isin(indicators) & (frame.dimension == dimension), "group"]
        .astype(str)
        .unique()
    )
    chosen_groups = [g for g in groups if g in available]
    rows = selection(frame, indicators, dimension, chosen_groups)

    def pick_dimension(value):
        set_dimension(value)
        set_groups([])

    with solara.Row():
        solara.SelectMultiple("Indicators", indicators, indicator_names, on_value=set_indicators)
        solara.Select("Dimension", values=dimensions, value=dimension, on_value=pick_dimension)
        if dimension != "all":
            solara.SelectMultiple(
                "Groups (none: all)", chosen_groups, available, on_value=set_groups
            )
    figure = solara.use_memo(
        lambda: None if rows.empty else chart(stored, rows, indicators, dimension),
        dependencies=[stored_id, tuple(indicators), dimension, tuple(chosen_groups)],
    )
    if figure is None:
        solara.Text("Choose at least one indicator.")
        return
    solara.Image(figure, width="100%", classes=["jm-results-chart"])
    table = download(stored, rows, dimension, indicators)
    stem = f"{stored_id}-{'-'.join(indicators)[:60]}-{dimension}"
    with solara.Row():
        solara.FileDownload(lambda: table.to_csv(index=False), f"{stem}.csv", label="Download CSV")
        solara.FileDownload(
            lambda: parquet_bytes(table), f"{stem}.parquet", label="Download Parquet"
        )


@solara.component
def Page():
    solara.Title("Results - jangmadang")
    results = store()
    scenario, set_scenario = solara.use_state("all")
    since, set_since = solara.use_state("")
    status, set_status = solara.use_state("all")
    choice, set_choice = solara.use_state(None)
    Heading("Stored runs and ensembles")
    try:
        scenarios = sorted(set(results.runs().scenario))
    except StoreError:
        scenarios = []
    with solara.Row():
        solara.Select("Scenario", values=["all", *scenarios], value=scenario, on_value=set_scenario)
        solara.InputText(
            "Started on or after (YYYY-MM-DD)", value=since, on_value=set_since,
            continuous_update=True,
        )  # fmt: skip
        solara.Select("Status", values=list(STATUSES), value=status, on_value=set_status)
    date_problem = None
    if since.strip():
        try:
            pd.Timestamp(since.strip())
        except ValueError:
            date_problem = f"{since!r} is not a date: write YYYY-MM-DD"
    Problem(date_problem)
    usable = since if date_problem is None else ""
    Catalog(scenario, usable, status)
    choices = stored_choices(results)
    if scenario != "all":
        choices = {k: v for k, v in choices.items() if k.startswith(f"{scenario}-")}
    Heading("Series", 3)
    if not choices:
        solara.Text("No completed run or ensemble yet: start one on the Run page.")
        return
    label = choice if choice in choices else next(iter(choices))
    solara.Select("Run or ensemble", values=list(choices), value=label, on_value=set_choice)
    Series(choices[label]).key(choices[label])
