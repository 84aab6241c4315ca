"""The Run page: a scenario, its size and window, any parameter moved within its evidence range
(the evidence shown beside it), then the run month by month with its series drawn as they come;
a run can be cancelled and is catalogued like the command line's."""

from __future__ import annotations

import threading

import solara

from jangmadang import evidence
from jangmadang.dashboard import jobs
from jangmadang.dashboard.common import Heading, Problem, png
from jangmadang.dashboard.config import settings
from jangmadang.experiments.checks import SIZE_PARAMETERS
from jangmadang.scenario import Parameters, Scenario, ScenarioError, available_scenarios
from jangmadang.sim import run_overrides
from jangmadang.timeline import format_month

DEFAULT_POPULATION = 100_000
SECTIONS = list(Parameters.model_fields)


def scenario_choices() -> dict[str, str]:
    """Label -> what :func:`load_scenario` takes: the built-in scenarios and the TOML files in
    the working folder (by name, so no other path can be given)."""
    choices = {name: name for name in available_scenarios()}
    folder = settings().workdir
    for path in sorted(folder.glob("*.toml")):
        choices[f"{path.name} (file)"] = str(path)
    return choices


def editable(scenario: Scenario, section: str) -> list[tuple[str, float | int, evidence.Entry]]:
    """(key, value, entry) of the section's numeric parameters with a plausible range in the
    ledger: those a user may move (the size of the run is chosen apart)."""
    entries = evidence.load()
    rows = []
    for field, value in getattr(scenario, section).model_dump().items():
        key = f"{section}.{field}"
        entry = entries.get(key)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and entry and entry.range and key not in SIZE_PARAMETERS:
            rows.append((key, value, entry))
    return rows


def scenario_from(
    spec: str, population: int | None, seed: int | None, start: str, end: str, changes: dict
) -> Scenario:
    """The scenario to run, checked as the command line checks it: mistakes raise
    :class:`ScenarioError` naming the field."""
    from jangmadang.scenario import load_scenario

    overrides = run_overrides(
        population=population, seed=seed, start=start or None, end=end or None
    )
    return load_scenario(spec, {**overrides, **changes}, override_source="dashboard")


@solara.component
def ParameterRow(key: str, value, entry: evidence.Entry, changed: bool, on_change):
    """One parameter: its value (refused outside the ledger's range) beside its evidence."""
    low, high = entry.range
    problem, set_problem = solara.use_state(None)

    def change(new):
        if new is None or not low <= new <= high:
            set_problem(f"{key}: {new} is outside its plausible range {low:g} to {high:g}")
            return
        set_problem(None)
        on_change(int(new) if isinstance(value, int) else float(new))

    with solara.Row(style={"align-items": "center", "border-bottom": "1px solid #eee"}):
        with solara.Column(style={"width": "36%"}, gap="0px"):
            field = solara.InputInt if isinstance(value, int) else solara.InputFloat
            field(key, value=value, on_value=change)
            note = f"range {low:g} to {high:g}" + (", changed" if changed else "")
            solara.Text(note, style={"font-size": "0.85em", "color": "#555"})
            Problem(problem)
        with solara.Column(style={"width": "60%"}, gap="0px"):
            solara.Text(
                f"{entry.kind} - {entry.source_description or entry.source}",
                style={"font-weight": "bold", "font-size": "0.85em"},
            )
            solara.Text(entry.says, style={"font-size": "0.85em"})


@solara.component
def Parameters_(scenario: Scenario, changes: dict, set_changes):
    section, set_section = solara.use_state("markets")
    rows = editable(scenario, section)
    with solara.Card(
        "Parameters", subtitle="Each within its plausible range in the evidence ledger"
    ):
        with solara.Row():
            solara.Select("Module", values=SECTIONS, value=section, on_value=set_section)
            if changes:
                solara.Button(
                    f"Reset {len(changes)} changed", text=True, on_click=lambda: set_changes({})
                )
        if not rows:
            solara.Text("No parameter of this module has a plausible range to move within.")
        for key, value, entry in rows:

            def change(new, key=key, default=value):
                kept = {k: v for k, v in changes.items() if k != key}
                set_changes(kept if new == default else {**kept, key: new})

            ParameterRow(key, changes.get(key, value), entry, key in changes, change)


def use_follow(job: jobs.Job | None) -> int:
    """Redraw the calling component as ``job`` moves (its version, polled from a thread of
    the page) and once more when it has finished; returns the version drawn."""
    state, set_state = solara.use_state((job.version, job.finished) if job else (0, True))

    def follow(cancel: threading.Event):
        while job is not None and not cancel.wait(0.3):
            finished = job.finished  # read first: a finished job changes no more
            set_state((job.version, finished))
            if finished:
                return

    solara.use_thread(follow, dependencies=[job], intrusive_cancel=False)
    return state[0]


@solara.component
def JobView(job: jobs.Job, version: int, outcome=None):
    """A job's progress, its series so far (a run) and a cancel button; ``outcome(job)``
    draws what a finished job produced (a comparison's table). The page that shows it
    follows the job (:func:`use_follow`), so that its own buttons change with it too, and
    passes the ``version`` it drew."""
    share = 100 * job.done / job.total if job.total else 0
    unit = "months" if job.kind == "run" else "runs"
    if job.status == "settling":
        state = "settling the initial state (the burn-in months before the start)"
    elif job.kind == "run":
        state = f"{job.month}: {job.done} of {job.total} {unit}"
    else:
        state = f"{job.done} of {job.total} {unit} stored"
    with solara.Card(job.title, classes=["jm-job"]):
        solara.ProgressLinear(value=share if job.status != "settling" else True)
        solara.Text(f"{job.status}: {state}", classes=["jm-progress"])
        if job.error:
            Problem(job.error)
        if not job.finished:
            solara.Button("Cancel", color="error", outlined=True, on_click=job.cancel)
        elif job.status == "completed" and job.run_id:
            solara.Success(f"Stored as run {job.run_id}: see it on the Results and Map pages.")
        if job.kind == "run" and job.live is not None and len(job.live):
            LiveChart(job.live, job.events)
    if outcome is not None and job.status == "completed" and job.result is not None:
        outcome(job)


@solara.component
def LiveChart(live, events):
    def draw():
        from jangmadang.plotting import plot_run

        shown = [i for i in jobs.LIVE_INDICATORS if i in set(live.indicator)]
        return png(lambda path: plot_run(live, events, path, shown))

    data = solara.use_memo(draw, dependencies=[id(live)])
    solara.Image(data, width="100%", classes=["jm-live-chart"])


@solara.component
def Page():
    config = settings()
    solara.Title("Run - jangmadang")
    choices = scenario_choices()
    label, set_label = solara.use_state("no_border_closure")
    population, set_population = solara.use_state(DEFAULT_POPULATION)
    seed, set_seed = solara.use_state(None)
    start, set_start = solara.use_state("")
    end, set_end = solara.use_state("")
    changes, set_changes = solara.use_state({})
    problem, set_problem = solara.use_state(None)
    running = [j for j in jobs.jobs() if j.kind == "run"]
    job, set_job = solara.use_state(running[0] if running else None)
    version = use_follow(job)

    spec = choices.get(label, "baseline")

    def load_base():
        try:
            return scenario_from(spec, None, None, "", "", {}), None
        except ScenarioError as exc:
            return None, str(exc)

    base, base_problem = solara.use_memo(load_base, dependencies=[spec])

    def pick(new_label: str):
        set_label(new_label)
        set_changes({})
        set_problem(None)

    def start_run():
        try:
            scenario = scenario_from(spec, population, seed, start, end, changes)
        except ScenarioError as exc:
            set_problem(str(exc))
            return
        set_problem(None)
        set_job(jobs.start_run(scenario, config.out))

    Heading("Run a scenario")
    if config.read_only:
        solara.Info("This dashboard is read-only: it browses stored results and runs nothing.")
        return
    with solara.Card("Scenario"):
        solara.Select("Scenario", values=list(choices), value=label, on_value=pick)
        if base is not None:
            solara.Text(base.description, style={"color": "#555"})
            default_window = f"{format_month(base.start)} to {format_month(base.end)}"
        else:
            default_window = ""
        Problem(base_problem)
        with solara.Row():
            solara.InputInt("Persons", value=population, on_value=set_population)
            solara.InputInt(
                "Seed (blank: the scenario's)", value=seed, on_value=set_seed, optional=True
            )
            solara.InputText(
                "First month (YYYY-MM)", value=start, on_value=set_start, continuous_update=True
            )
            solara.InputText(
                "Last month (YYYY-MM)", value=end, on_value=set_end, continuous_update=True
            )
        whole = (
            f"{base.population.size_at_full_scale:,}" if base is not None else "about 24 million"
        )
        solara.Text(
            f"The whole population (1:1 at the first simulated month) is {whole} persons; "
            f"blank months run the scenario's window ({default_window}).",
            style={"font-size": "0.85em", "color": "#555"},
        )
        Problem(problem)
        busy = job is not None and not job.finished
        solara.Button("Run", color="primary", on_click=start_run, disabled=busy or base is None)
    if job is not None:
        JobView(job, version)
    if base is not None:
        Parameters_(base, changes, set_changes)
