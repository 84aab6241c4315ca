"""The dashboard's pages rendered without a browser (Solara's widgets in a kernel context):
each page shows what the store holds, acts on the store as the command line does, refuses
what it must and reaches no file outside ``--out``."""

from __future__ import annotations

import io
import os
import time

import ipyvuetify as v
import ipywidgets
import pandas as pd
import pytest
import solara
from solara.components.file_download import FileDownloadWidget
from solara.server import kernel, kernel_context

import jangmadang as jm
from jangmadang.dashboard import compare, configure, evidence_page, jobs, map_page, results, run
from jangmadang.experiments.ensemble import ensemble_id_of
from jangmadang.experiments.runner import member_seeds
from jangmadang.scenario import load_scenario, with_overrides
from jangmadang.store import ResultsStore

WINDOW = dict(population=5_000, start="2019-01", end="2020-12")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results folder with two runs and two paired ensembles of two members each."""
    out = tmp_path_factory.mktemp("dashboard") / "results"
    store = ResultsStore(out)
    ids = {}
    for name in ("baseline", "no_border_closure"):
        ids[name] = store.save(jm.Sim(name, **WINDOW).run())
    base = load_scenario("baseline", {"population.persons": 5_000, "start": "2019-01",
                                      "end": "2020-12"})  # fmt: skip
    for name in ("baseline", "no_border_closure"):
        scenario = with_overrides(
            load_scenario(
                name, {"population.persons": 5_000, "start": "2019-01", "end": "2020-12"}
            ),  # fmt: skip
            {"seed": base.seed},
        )
        ensemble = ensemble_id_of(scenario)
        store.open_ensemble(ensemble, scenario)
        for member, seed in enumerate(member_seeds(base.seed, 2)):
            sim = jm.Sim(with_overrides(scenario, {"seed": seed})).run()
            store.save_member(ensemble, member, sim.scenario, sim.results, sim.wall_seconds)
        ids[f"{name} ensemble"] = ensemble
    return out, ids


@pytest.fixture(autouse=True)
def restored_settings(monkeypatch):
    """Each test configures the dashboard afresh; none leaks its settings into the next."""
    from jangmadang.dashboard import config

    for name in (config.OUT, config.READ_ONLY, config.WORKDIR):
        monkeypatch.setenv(name, "")  # remembers the value before, to restore it after
        monkeypatch.delenv(name)


@pytest.fixture
def page(stored, monkeypatch, tmp_path):
    """Render a page in a fresh kernel context against the stored folder; returns the
    render context's finder. Working folder: an empty temporary one."""
    out, _ = stored
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JANGMADANG_DASHBOARD_WORKDIR", str(tmp_path))
    configure(out, workdir=tmp_path)
    context = kernel_context.VirtualKernelContext(
        id=f"test-{time.monotonic_ns()}", kernel=kernel.Kernel(), session_id="s"
    )
    rendered = []

    def render(component):
        box, rc = solara.render(component(), handle_error=False)
        rendered.append(rc)
        return rc

    with context:
        yield render
        for rc in rendered:
            rc.close()


def type_into(rc, label: str, text: str) -> None:
    """Type into a text field and press Enter, as a user does."""
    field = rc.find(v.TextField, label=label).widget
    field.v_model = text
    field.fire_event("keyup.enter", None)


def click(rc, label: str) -> None:
    rc.find(v.Btn, children=[label]).widget.fire_event("click", None)


def texts(rc) -> str:
    """Every text the page shows: the text children of its widgets (spans, alerts, buttons)."""
    shown = []

    def walk(widget):
        for child in getattr(widget, "children", None) or []:
            if isinstance(child, str):
                shown.append(child)
            else:
                walk(child)

    for root in rc.find().widgets:
        walk(root)
    return "\n".join(shown)


def shows(rc, text: str, seconds: float = 60) -> str:
    """The page's texts once they include ``text`` (a page following a job redraws from its
    own thread, figures included), or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while text not in (shown := texts(rc)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in shown, f"{text!r} not shown after {seconds} s; the page shows:\n{shown}"
    return shown


def images(rc) -> list[bytes]:
    return [bytes(w.value) for w in rc.find(ipywidgets.Image).widgets]


def wait(job: jobs.Job, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.finished, f"job still {job.status} after {seconds} s"


# -- Evidence ------------------------------------------------------------------------------


def test_evidence_page_lists_the_whole_ledger_and_searches_it(page):
    from jangmadang import evidence

    rc = page(evidence_page.Page)
    entries = len(evidence.load())
    assert f"{entries} of {entries} entries" in texts(rc)
    rc.find(v.TextField).widget.v_model = "border closure"
    rc.find(v.Html, children=[f"{entries} of {entries} entries"]).assert_empty()
    found = evidence_page.search(evidence_page.ledger(), "border closure", "all")
    assert 0 < len(found) < entries
    assert f"{len(found)} of {entries} entries" in texts(rc)
    for row in found.itertuples():
        line = " ".join(map(str, row[1:])).lower()
        assert "border" in line and "closure" in line
    assert "event.border_closure" in set(found.key)
    keys = [w.children[0] for w in rc.find(v.Html, class_="jm-evidence-key").widgets]
    assert keys == list(found.key[: evidence_page.PAGE])
    rc.find(v.TextField).widget.v_model = ""
    assert f"1 to {evidence_page.PAGE}" in texts(rc)
    click(rc, "Next")
    assert f"{evidence_page.PAGE + 1} to {2 * evidence_page.PAGE}" in texts(rc)
    keys = [w.children[0] for w in rc.find(v.Html, class_="jm-evidence-key").widgets]
    assert keys == list(evidence_page.ledger().key[evidence_page.PAGE : 2 * evidence_page.PAGE])
    report = evidence_page.ledger().set_index("key").loc["official_economy.wage_usd"]
    assert "Radio Free Asia" in report.source and report.says


def test_evidence_search_by_kind_keeps_only_that_kind():
    frame = evidence_page.ledger()
    reports = evidence_page.search(frame, "", "report")
    assert set(reports.kind) == {"report"} and len(reports) < len(frame)
    assert evidence_page.search(frame, "no-such-word-anywhere", "all").empty


# -- Run -----------------------------------------------------------------------------------


def test_run_page_runs_stores_and_shows_progress_and_a_chart(page, stored):
    out, _ = stored
    rc = page(run.Page)
    rc.find(v.Select, label="Scenario").widget.v_model = "no_border_closure"
    type_into(rc, "Persons", "5000")
    rc.find(v.TextField, label="First month (YYYY-MM)").widget.v_model = "2019-01"
    rc.find(v.TextField, label="Last month (YYYY-MM)").widget.v_model = "2020-06"
    type_into(rc, "markets.goods_spending_share", "0.25")
    assert "range 0.1 to 0.4, changed" in texts(rc)
    before = set(ResultsStore(out).runs().run_id)
    click(rc, "Run")
    job = jobs.jobs()[0]
    assert job.kind == "run" and job.run_id not in before
    wait(job)
    assert job.status == "completed", job.error
    shown = shows(rc, "completed: 2020-06: 18 of 18 months")
    # The page redraws from its own thread, widget by widget: its texts may be read after the
    # progress line changed and before the "Stored" line was added.
    shown = shows(rc, f"Stored as run {job.run_id}")
    assert "completed: 2020-06: 18 of 18 months" in shown
    assert not rc.find(v.Btn, children=["Run"]).widget.disabled  # ready for the next run
    assert any(image.startswith(b"\x89PNG") for image in images(rc))
    store = ResultsStore(out)
    info = store.run_info(job.run_id)
    assert info["status"] == "completed" and info["population"] == 5000
    assert store.scenario(job.run_id).markets.goods_spending_share == 0.25
    assert len(store.load(job.run_id).date.unique()) == 18
    assert (store.run_dir(job.run_id) / "plot.png").is_file()  # as `jangmadang run` leaves it


def test_run_page_refuses_values_outside_the_evidence_range_and_bad_months(page, stored):
    out, _ = stored
    rc = page(run.Page)
    type_into(rc, "markets.goods_spending_share", "0.9")
    shown = texts(rc)
    assert "0.9 is outside its plausible range 0.1 to 0.4" in shown
    assert "changed" not in shown
    rc.find(v.TextField, label="Last month (YYYY-MM)").widget.v_model = "2020-13"
    runs = len(ResultsStore(out).runs())
    started = len(jobs.jobs())
    click(rc, "Run")
    assert "dashboard: end:" in texts(rc)  # the scenario's problem, naming the field
    assert len(jobs.jobs()) == started and len(ResultsStore(out).runs()) == runs


def test_a_cancelled_run_stops_and_is_catalogued_as_cancelled(page, stored):
    out, _ = stored
    rc = page(run.Page)
    type_into(rc, "Persons", "5000")
    rc.find(v.TextField, label="First month (YYYY-MM)").widget.v_model = "2012-01"
    click(rc, "Run")
    job = jobs.jobs()[0]
    click(rc, "Cancel")
    wait(job)
    assert job.status == "cancelled" and job.done < job.total
    info = ResultsStore(out).run_info(job.run_id)
    assert info["status"] == "failed" and info["error"] == "cancelled from the dashboard"


def test_run_page_offers_only_scenario_files_of_the_working_folder(page, tmp_path):
    (tmp_path / "mine.toml").write_text('name = "mine"\nextends = "baseline"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper.toml").write_text('name = "deeper"\nextends = "baseline"\n')
    choices = run.scenario_choices()
    assert choices["mine.toml (file)"] == str(tmp_path / "mine.toml")
    assert "baseline" in choices and not any("deeper" in c for c in choices)
    rc = page(run.Page)
    assert "mine.toml (file)" in rc.find(v.Select, label="Scenario").widget.items


def test_read_only_pages_run_nothing(page, stored, monkeypatch):
    out, _ = stored
    configure(out, read_only=True)
    rc = page(run.Page)
    assert "read-only" in texts(rc)
    rc.find(v.Btn, children=["Run"]).assert_empty()
    rc = page(compare.Page)
    rc.find(v.BtnToggle).widget.v_model = 1
    rc.find(v.Btn, children=["Compare"]).assert_empty()
    assert "read-only" in texts(rc)


# -- Results -------------------------------------------------------------------------------


def test_results_page_lists_the_catalog_and_draws_a_run(page, stored):
    _, ids = stored
    rc = page(results.Page)
    shown = texts(rc)
    assert "runs" in shown and "ensembles" in shown
    select = rc.find(v.Select, label="Run or ensemble").widget
    run_label = next(label for label in select.items if label.startswith(ids["baseline"]))
    select.v_model = run_label
    assert images(rc) and images(rc)[0].startswith(b"\x89PNG")
    rc.find(v.Select, label="Dimension").widget.v_model = "province"
    groups = rc.find(v.Select, label="Groups (none: all)").widget
    assert "Pyongyang" in groups.items
    assert "Download CSV" in texts(rc) and "Download Parquet" in texts(rc)
    files = [w.filename for w in rc.find(FileDownloadWidget).widgets]
    stem = f"{ids['baseline']}-food_insecure_share-food_price_usd_per_kg-province"
    assert sorted(files) == [f"{stem}.csv", f"{stem}.parquet"]


def test_results_selection_and_download_hold_what_is_drawn(stored):
    out, ids = stored
    configure(out)
    frame = ResultsStore(out).load(ids["baseline"])
    rows = results.selection(frame, ["food_insecure_share"], "province", ["Ryanggang"])
    assert set(rows.group) == {"Ryanggang"} and len(rows) == 24
    from jangmadang.report import load_stored

    table = results.download(load_stored(ResultsStore(out), ids["baseline"]), rows, "province",
                             ["food_insecure_share"])  # fmt: skip
    assert table.value.tolist() == rows.value.tolist()
    back = pd.read_parquet(io.BytesIO(results.parquet_bytes(table)))
    assert back.value.tolist() == rows.value.tolist()
    ensemble = load_stored(ResultsStore(out), ids["baseline ensemble"])
    summary = results.download(ensemble, rows, "all", ["food_insecure_share"])
    assert {"median", "q05", "q95", "runs"} <= set(summary.columns) and summary.runs.max() == 2


def test_results_filters_by_scenario_status_and_date(stored):
    out, _ = stored
    runs = ResultsStore(out).runs()
    assert set(results.filtered(runs, "baseline", "", "all", "started_at").scenario) == {"baseline"}
    assert results.filtered(runs, "all", "", "running", "started_at").empty
    assert results.filtered(runs, "all", "2999-01-01", "all", "started_at").empty
    assert len(results.filtered(runs, "all", "2000-01-01", "all", "started_at")) == len(runs)


# -- Compare -------------------------------------------------------------------------------


def test_compare_page_draws_two_stored_runs_and_refuses_a_run_against_an_ensemble(page, stored):
    _, ids = stored
    rc = page(compare.Page)
    this = rc.find(v.Select, label="This").widget
    minus = rc.find(v.Select, label="minus").widget
    this.v_model = next(label for label in this.items if label.startswith(ids["no_border_closure"]))
    minus.v_model = next(label for label in minus.items if label.startswith(ids["baseline"]))
    assert images(rc) and "cannot" not in texts(rc)
    minus.v_model = next(
        label for label in minus.items if label.startswith(ids["baseline ensemble"])
    )
    assert "compare two runs or two ensembles" in texts(rc)
    assert not images(rc)


def test_paired_ensembles_differ_with_intervals(stored):
    out, ids = stored
    configure(out)
    from jangmadang.report import load_stored

    subject = load_stored(ResultsStore(out), ids["no_border_closure ensemble"])
    other = load_stored(ResultsStore(out), ids["baseline ensemble"])
    differences, pairs, indicators = compare.stored_differences(subject, other)
    assert pairs == 2 and "food_price_usd_per_kg" in indicators
    assert (differences["low"] <= differences["mean"]).all()
    assert (differences["mean"] <= differences["high"]).all()


def test_compare_page_runs_two_scenarios_as_paired_ensembles(page, stored):
    out, _ = stored
    rc = page(compare.Page)
    rc.find(v.BtnToggle).widget.v_model = 1
    type_into(rc, "Paired runs", "2")
    type_into(rc, "Persons", "5000")
    rc.find(v.TextField, label="First month").widget.v_model = "2019-01"
    rc.find(v.TextField, label="Last month").widget.v_model = "2019-12"
    type_into(rc, "Worker processes", "1")
    click(rc, "Compare")
    job = jobs.jobs()[0]
    assert job.kind == "comparison"
    wait(job, 180)
    assert job.status == "completed", job.error
    shows(rc, "Mean paired difference over the window")
    assert images(rc)
    table = job.result.table
    assert (table.runs == 2).all() and (table.low <= table.high).all()
    stored_ensembles = set(ResultsStore(out).ensembles().ensemble_id)
    assert {job.result.base_ensemble, job.result.alt_ensemble} <= stored_ensembles


def test_compare_page_refuses_one_paired_run(page):
    rc = page(compare.Page)
    rc.find(v.BtnToggle).widget.v_model = 1
    type_into(rc, "Paired runs", "1")
    started = len(jobs.jobs())
    click(rc, "Compare")
    assert "runs 1: must be at least 2" in texts(rc)
    assert len(jobs.jobs()) == started


# -- Map -----------------------------------------------------------------------------------


def test_map_page_draws_a_province_map_for_any_month(page, stored):
    _, ids = stored
    rc = page(map_page.Page)
    select = rc.find(v.Select, label="Run or ensemble").widget
    select.v_model = next(label for label in select.items if label.startswith(ids["baseline"]))
    indicator = rc.find(v.Select, label="Indicator").widget
    assert "food_insecure_share" in indicator.items
    last = images(rc)[0]
    assert "2020-12" in texts(rc)
    slider = rc.find(v.Slider).widget
    slider.v_model = 0
    assert "2019-01" in texts(rc)
    assert images(rc)[0] != last


def test_map_of_an_ensemble_is_its_median(stored):
    out, ids = stored
    configure(out)
    from jangmadang.maps import province_values
    from jangmadang.report import load_stored

    ensemble = load_stored(ResultsStore(out), ids["baseline ensemble"])
    values, month = province_values(ensemble.results, "food_insecure_share", "2020-06")
    assert len(values) == 10 and values.between(0, 1).all()
    assert map_page.draw(ensemble, "food_insecure_share", "2020-06").startswith(b"\x89PNG")


# -- the command ---------------------------------------------------------------------------


def one_line_error(args: list[str]) -> str:
    """``jangmadang dashboard ...`` refused before any server starts: exit 2, one line."""
    import inspect

    from typer.testing import CliRunner

    from jangmadang.cli import app

    runner = CliRunner(mix_stderr=False) if "mix_stderr" in inspect.signature(
        CliRunner.__init__
    ).parameters else CliRunner()  # fmt: skip
    result = runner.invoke(app, ["dashboard", *args])
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def test_dashboard_command_refuses_a_busy_port_a_missing_folder_and_a_file(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(["--out", str(tmp_path / "r"), "--port", str(port)])
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in line
    line = one_line_error(["--read-only", "--out", str(tmp_path / "none")])
    assert "no such folder to browse" in line and not (tmp_path / "none").exists()
    (tmp_path / "file").write_text("")
    assert "is a file, not a folder" in one_line_error(["--out", str(tmp_path / "file")])
    assert "--port" in one_line_error(["--port", "70000"])
    assert "--host 'no.such.host.invalid'" in one_line_error(
        ["--out", str(tmp_path / "r"), "--host", "no.such.host.invalid"]
    )


def test_dashboard_command_serves_the_app_on_the_local_address_without_telemetry(
    tmp_path, monkeypatch
):
    """What the command hands the server, with the server itself left out (the browser test
    starts a real one)."""
    import uvicorn
    from solara.server import settings as solara_settings
    from typer.testing import CliRunner

    from jangmadang.cli import app
    from jangmadang.dashboard import settings

    served = []
    monkeypatch.setattr(uvicorn.Server, "run", lambda server: served.append(server.config))
    monkeypatch.setattr(solara_settings.telemetry, "mixpanel_enable", True)
    for name in ("SOLARA_APP", "SOLARA_TELEMETRY_MIXPANEL_ENABLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["dashboard", "--read-only", "--out", ".", "--port", "8799"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8799/" in result.output and "(read-only)" in result.output
    (config,) = served
    assert (config.host, config.port) == ("127.0.0.1", 8799)
    assert config.app == "solara.server.starlette:app"
    assert os.environ["SOLARA_APP"] == "jangmadang.dashboard.app"
    assert solara_settings.telemetry.mixpanel_enable is False
    assert settings().read_only and settings().out == tmp_path.resolve()


def test_stopping_the_server_cancels_its_runs(stored):
    out, _ = stored
    scenario = load_scenario("baseline", {"population.persons": 5_000, "start": "2012-01"})
    job = jobs.start_run(scenario, out)
    jobs.shutdown()
    assert job.status == "cancelled"
    assert ResultsStore(out).run_info(job.run_id)["error"] == "cancelled from the dashboard"
