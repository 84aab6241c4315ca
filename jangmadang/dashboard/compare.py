"""The Compare page: the difference between two stored runs month by month, between two stored
ensembles with 95% intervals, or between two scenarios run here as paired ensembles (the same
seeds, the shared history run once) with 95% intervals."""

from __future__ import annotations

import os

import pandas as pd
import solara

from jangmadang.dashboard import jobs
from jangmadang.dashboard.common import (
    Heading,
    Note,
    Problem,
    load_stored,
    png,
    store,
    stored_choices,
)
from jangmadang.dashboard.config import settings
from jangmadang.dashboard.run import JobView, scenario_choices, use_follow
from jangmadang.experiments.checks import BadInput
from jangmadang.experiments.compare import DEFAULT_INDICATORS
from jangmadang.scenario import ScenarioError, events_of
from jangmadang.timeline import format_month

MODES = ("Two stored runs or ensembles", "Two scenarios, run as paired ensembles")


def stored_differences(subject, other) -> tuple[pd.DataFrame, int, list[str]]:
    """``subject - other`` over time in the compared national indicators, the number of
    pairs and the indicators (as ``jangmadang report --against`` computes them)."""
    from jangmadang.report import differences_over_time

    shared = set(subject.results.indicator) & set(other.results.indicator)
    indicators = [i for i in DEFAULT_INDICATORS if i in shared]
    differences, pairs = differences_over_time(store(), subject, other, indicators)
    if differences.empty:
        raise BadInput("against", f"has no month in common with {subject.id}", other.id)
    return differences, pairs, indicators


def difference_chart(differences, events, indicators, title: str, pairs: int | None) -> bytes:
    """Differences over time: a line for two runs; for paired ensembles the mean paired
    difference and its 95% interval."""
    from jangmadang.plotting import plot_differences

    return png(lambda path: plot_differences(differences, events, path, indicators, title, pairs))


@solara.component
def Stored():
    choices = stored_choices(store())
    first, set_first = solara.use_state(None)
    second, set_second = solara.use_state(None)
    if len(choices) < 2:
        solara.Text("Two completed runs or ensembles are needed: start them on the Run page.")
        return
    labels = list(choices)
    a = first if first in choices else labels[0]
    b = second if second in choices else labels[1]
    with solara.Row():
        solara.Select("This", values=labels, value=a, on_value=set_first)
        solara.Select("minus", values=labels, value=b, on_value=set_second)
    Difference(choices[a], choices[b])


@solara.component
def Difference(first_id: str, second_id: str):
    def compute():
        (subject, problem), (other, other_problem) = (
            load_stored(store(), first_id),
            load_stored(store(), second_id),
        )
        if subject is None or other is None:
            return None, problem or other_problem
        try:
            differences, pairs, indicators = stored_differences(subject, other)
        except BadInput as exc:
            return None, f"{other.id}: {exc.reason}"
        events = events_of(subject.scenario, other.scenario)
        title = f"{subject.title} minus {other.title}"
        bands = pairs if subject.kind == "ensemble" else None
        return difference_chart(differences, events, indicators, title, bands), None

    figure, problem = solara.use_memo(compute, dependencies=[first_id, second_id])
    Problem(problem)
    if figure is not None:
        solara.Image(figure, width="100%", classes=["jm-compare-chart"])


@solara.component
def Scenarios():
    config = settings()
    choices = scenario_choices()
    base, set_base = solara.use_state("baseline")
    alt, set_alt = solara.use_state("no_border_closure")
    runs, set_runs = solara.use_state(4)
    population, set_population = solara.use_state(20_000)
    start, set_start = solara.use_state("2019-01")
    end, set_end = solara.use_state("2021-12")
    workers, set_workers = solara.use_state(min(2, os.cpu_count() or 1))
    problem, set_problem = solara.use_state(None)
    running = [j for j in jobs.jobs() if j.kind == "comparison"]
    job, set_job = solara.use_state(running[0] if running else None)
    version = use_follow(job)

    def start_comparison():
        from jangmadang.experiments.compare import check_inputs
        from jangmadang.experiments.ensemble import resolve
        from jangmadang.scenario import with_overrides

        options = dict(population=population, start=start or None, end=end or None)
        try:
            base_scenario = resolve(choices[base], "dashboard", **options)
            alt_scenario = with_overrides(
                resolve(choices[alt], "dashboard", **options), {"seed": base_scenario.seed}
            )
            check_inputs(base_scenario, alt_scenario, runs, DEFAULT_INDICATORS, None)
            if workers < 1:
                raise BadInput("workers", "must be at least 1", workers)
        except ScenarioError as exc:
            set_problem(str(exc))
            return
        except BadInput as exc:
            set_problem(str(exc))
            return
        set_problem(None)
        set_job(
            jobs.start_comparison(
                base_scenario, alt_scenario, runs, config.out, workers, DEFAULT_INDICATORS
            )
        )

    if config.read_only:
        solara.Info("This dashboard is read-only: compare stored runs and ensembles above.")
        return
    with solara.Row():
        solara.Select("Base scenario", values=list(choices), value=base, on_value=set_base)
        solara.Select("Other scenario", values=list(choices), value=alt, on_value=set_alt)
    with solara.Row():
        solara.InputInt("Paired runs", value=runs, on_value=set_runs)
        solara.InputInt("Persons", value=population, on_value=set_population)
        solara.InputText("First month", value=start, on_value=set_start, continuous_update=True)
        solara.InputText("Last month", value=end, on_value=set_end, continuous_update=True)
        solara.InputInt("Worker processes", value=workers, on_value=set_workers)
    Problem(problem)
    busy = job is not None and not job.finished
    solara.Button("Compare", color="primary", on_click=start_comparison, disabled=busy)
    if job is not None:
        JobView(job, version, Outcome)


@solara.component
def Outcome(job: jobs.Job):
    result = job.result
    table = result.table.copy()
    pairs = int(table.runs.max())
    Heading("Mean paired difference over the window", 3)
    Note(
        f"{result.alt_ensemble} minus {result.base_ensemble}: the mean over {pairs} pairs of "
        "runs on the same seeds, with the 95% t-interval of the mean (low, high)."
    )
    solara.DataFrame(table, items_per_page=10)
    indicators = list(table.indicator)
    figure = solara.use_memo(
        lambda: difference_chart(result.differences, job.events, indicators, job.title, pairs),
        dependencies=[id(result)],
    )
    solara.Image(figure, width="100%", classes=["jm-compare-chart"])
    first, last = result.differences.date.min(), result.differences.date.max()
    solara.Text(f"{format_month(first)} to {format_month(last)}")


@solara.component
def Page():
    solara.Title("Compare - jangmadang")
    mode, set_mode = solara.use_state(MODES[0])
    Heading("Compare")
    solara.ToggleButtonsSingle(value=mode, values=list(MODES), on_value=set_mode)
    if mode == MODES[0]:
        Stored()
    else:
        Scenarios()
