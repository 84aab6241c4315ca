"""``jangmadang report``: one HTML file that opens offline (figures inline, no outside address)
with the sections a reader needs, on a run or an ensemble, alone or against another."""

from html.parser import HTMLParser

import pandas as pd
import pytest
from typer.testing import CliRunner

import jangmadang as jm
from jangmadang.cli import app
from jangmadang.experiments.ensemble import ensemble_id_of, resolve
from jangmadang.experiments.runner import member_seeds
from jangmadang.maps import province_values
from jangmadang.report import event_differences, load_stored, parameter_differences
from jangmadang.results import format_value, national_summary
from jangmadang.scenario import load_scenario, with_overrides
from jangmadang.store import ResultsStore

runner = CliRunner()
WINDOW = dict(population=2_000, start="2019-07", end="2020-06")  # the border closes in 2020-01
SECTIONS = ("What was run", "Key national indicators", "Indicators over time", "Provinces")


class Page(HTMLParser):
    """The headings, the addresses every tag refers to, and the tags of an HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.headings, self.references, self.tags, self._heading = [], [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.references += [value or "" for name, value in attrs if name in ("src", "href")]
        if tag in ("h1", "h2", "h3"):
            self._heading = ""

    def handle_data(self, data):
        if self._heading is not None:
            self._heading += data

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self.headings.append(self._heading)
            self._heading = None


def offline(page: Page) -> None:
    """Every reference is inline data: nothing to fetch, nothing to run."""
    assert page.references and all(r.startswith("data:image/png;base64,") for r in page.references)
    assert not any(r.startswith(("http://", "https://", "//")) for r in page.references)
    assert "script" not in page.tags and "link" not in page.tags


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two runs and two ensembles of two members (baseline and no_border_closure)."""
    out = tmp_path_factory.mktemp("results")
    store = ResultsStore(out)
    runs, ensembles = {}, {}
    for name in ("baseline", "no_border_closure"):
        runs[name] = store.save(jm.Sim(name, **WINDOW).run())
        base = resolve(name, **WINDOW)
        ensembles[name] = ensemble_id_of(base)
        store.open_ensemble(ensembles[name], base)
        for member, seed in enumerate(member_seeds(base.seed, 2)):
            sim = jm.Sim(with_overrides(base, {"seed": seed})).run()
            store.save_member(ensembles[name], member, sim.scenario, sim.results, 1.0)
    return out, store, runs, ensembles


def test_report_of_a_run_against_another(stored):
    out, store, runs, _ = stored
    alt, base = runs["no_border_closure"], runs["baseline"]
    result = runner.invoke(app, ["report", alt, "--against", base, "--out", str(out)])
    assert result.exit_code == 0, result.output
    path = store.run_dir(alt) / f"report-{alt}.html"
    text = path.read_text()
    page = Page(text)
    assert all(section in page.headings for section in SECTIONS)
    assert "Compared with baseline" in page.headings and "Sources" in page.headings
    assert page.tags.count("img") == 1 + 4 + 1  # the series, four maps, the differences
    offline(page)
    assert "Border with China closed (COVID-19)" in text and "removed" in text  # vs baseline
    summary = national_summary(store.load(alt))
    assert f'<td class="number">{format_value(summary.iloc[0, 1])}</td>' in text


def test_report_of_an_ensemble_against_another(stored, tmp_path):
    out, store, _, ensembles = stored
    target = tmp_path / "closure.html"
    args = ["report", ensembles["baseline"], "--against", ensembles["no_border_closure"]]
    result = runner.invoke(app, [*args, "--file", str(target), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    page = Page(text)
    assert all(section in page.headings for section in SECTIONS)
    assert "Compared with no_border_closure" in page.headings
    offline(page)
    assert "median over the 2 runs" in text and "mean difference over 2 pairs" in text
    assert not list((out / "ensembles").rglob("*.html"))  # --file, not the default


def test_map_of_an_ensemble_is_the_median_over_its_members(stored):
    out, store, _, ensembles = stored
    ensemble = load_stored(store, ensembles["baseline"])
    values, month = province_values(ensemble.results, "food_insecure_share")
    members = store.ensemble_members(ensembles["baseline"]).run_id
    each = [province_values(store.load(run_id), "food_insecure_share")[0] for run_id in members]
    median = pd.concat(each, axis=1).median(axis=1)
    assert len(values) == 10 and month == pd.Timestamp("2020-06-01")
    pd.testing.assert_series_equal(values.sort_index(), median.sort_index(), check_names=False)
    result = runner.invoke(
        app, ["plot", ensembles["baseline"], "--map", "food_insecure_share", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (
        out / "ensembles" / ensembles["baseline"] / "map-food_insecure_share-2020-06.png"
    ).is_file()


def test_differences_from_the_baseline_carry_their_evidence():
    scenario = with_overrides(
        load_scenario("market_boom"), {"markets.exemption_fee_usd": 99.0, "population.persons": 9}
    )
    assert [key for key, *_ in parameter_differences(scenario)] == ["markets.exemption_fee_usd"]
    assert [(e.name, change) for e, change in event_differences(scenario)] == [
        ("market_boom", "added")
    ]
    assert event_differences(load_scenario("baseline")) == []


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["nope"], ["run id 'nope'", "no run or ensemble has that id"]),
        (["{run}", "--against", "nope"], ["--against 'nope'", "no run or ensemble"]),
        (
            ["{run}", "--against", "{ensemble}"],
            ["--against '{ensemble}'", "two runs or two ensembles"],
        ),
        (["{run}", "--file", "report.pdf"], ["--file 'report.pdf'", ".html"]),
    ],
)
def test_bad_ids_and_files_are_one_line_errors(stored, args, fragments):
    out, store, runs, ensembles = stored
    names = {"run": runs["baseline"], "ensemble": ensembles["baseline"]}
    before = set(out.rglob("*.html"))
    result = runner.invoke(app, ["report", *(a.format(**names) for a in args), "--out", str(out)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert all(f.format(**names) in lines[0] for f in fragments), lines[0]
    assert set(out.rglob("*.html")) == before
